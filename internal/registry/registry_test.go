package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"function/internal/model"
)

func TestParseURI(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    URI
		wantErr bool
	}{
		"alias":          {in: "models:/fraud-detector@champion", want: URI{Name: "fraud-detector", Alias: "champion"}},
		"other alias":    {in: "models:/m@challenger", want: URI{Name: "m", Alias: "challenger"}},
		"version number": {in: "models:/fraud-detector/3", wantErr: true},
		"no alias":       {in: "models:/fraud-detector@", wantErr: true},
		"no name":        {in: "models:/@champion", wantErr: true},
		"file path":      {in: "/models/fraud", wantErr: true},
		"two aliases":    {in: "models:/a@b@c", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseURI(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseURI(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseURI(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if !tc.wantErr && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

// bundle is a model version's two files.
type bundle struct{ txt, meta []byte }

// builtinBundle reads the committed built-in model.
func builtinBundle(t *testing.T) bundle {
	t.Helper()
	dir := filepath.Join("..", "model", "builtin")
	txt, err := os.ReadFile(filepath.Join(dir, model.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(dir, model.MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	return bundle{txt: txt, meta: meta}
}

// variant returns a valid bundle whose model differs from b's (every leaf value shifted), with
// its metadata's checksum updated: a distinct model that still parses.
func variant(t *testing.T, b bundle, shift string) bundle {
	t.Helper()
	var out []string
	changed := 0
	for _, line := range strings.Split(string(b.txt), "\n") {
		if vals, ok := strings.CutPrefix(line, "leaf_value="); ok {
			fields := strings.Fields(vals)
			for i, f := range fields {
				// An extra trailing digit keeps the number valid and nearly the same.
				if !strings.ContainsAny(f, "eE") {
					if !strings.Contains(f, ".") {
						f += "."
					}
					fields[i] = f + shift
					changed++
				}
			}
			line = "leaf_value=" + strings.Join(fields, " ")
		}
		out = append(out, line)
	}
	if changed == 0 {
		t.Fatal("variant: no leaf value changed")
	}
	txt := []byte(strings.Join(out, "\n"))
	return bundle{txt: txt, meta: withChecksum(t, b.meta, txt)}
}

// cyclic is b with its first tree's first left child pointing back at the root: a well-formed,
// correctly checksummed file whose tree is a cycle (Predict would never return).
func cyclic(t *testing.T, b bundle) bundle {
	t.Helper()
	lines := strings.Split(string(b.txt), "\n")
	for i, line := range lines {
		if vals, ok := strings.CutPrefix(line, "left_child="); ok {
			f := strings.Fields(vals)
			f[1] = "0" // node 1's left child is node 0, its own ancestor
			lines[i] = "left_child=" + strings.Join(f, " ")
			txt := []byte(strings.Join(lines, "\n"))
			return bundle{txt: txt, meta: withChecksum(t, b.meta, txt)}
		}
	}
	t.Fatal("no left_child line in the model")
	return bundle{}
}

// withChecksum rewrites metadata's model_sha256 to match txt.
func withChecksum(t *testing.T, meta, txt []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(meta, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(txt)
	m["model_sha256"] = hex.EncodeToString(sum[:])
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeMLflow serves the two endpoints the client uses, for fast unit tests (the real server is
// exercised by the integration tests).
type fakeMLflow struct {
	mu       sync.Mutex
	alias    string // version the alias points at, "" = not set
	versions map[string]bundle
	fail     int // answer 503 to this many requests
	calls    int
}

func (f *fakeMLflow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		http.Error(w, `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"down"}`, http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/api/2.0/mlflow/registered-models/alias":
		if q.Get("name") != "fraud-detector" || q.Get("alias") != "champion" || f.alias == "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no alias"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model_version": Version{
			Name: "fraud-detector", Version: f.alias, Source: "mlflow-artifacts:/x", RunID: "run" + f.alias, Status: "READY",
		}})
	case "/model-versions/get-artifact":
		b, ok := f.versions[q.Get("version")]
		if !ok || q.Get("name") != "fraud-detector" {
			http.NotFound(w, r)
			return
		}
		switch q.Get("path") {
		case model.ModelFile:
			_, _ = w.Write(b.txt)
		case model.MetadataFile:
			_, _ = w.Write(b.meta)
		default:
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMLflow) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeMLflow) set(alias string, fail int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alias, f.fail = alias, fail
}

var champion = URI{Name: "fraud-detector", Alias: "champion"}

func newFake(t *testing.T) (*fakeMLflow, *Client) {
	t.Helper()
	b := builtinBundle(t)
	corrupt := variant(t, b, "7")
	corrupt.txt = append([]byte(nil), corrupt.txt...)
	corrupt.txt[len(corrupt.txt)/2] ^= 0x01 // one flipped bit: checksum no longer matches
	f := &fakeMLflow{alias: "1", versions: map[string]bundle{
		"1": b,
		"2": variant(t, b, "3"),
		"3": corrupt,
		"4": {txt: []byte("tree\nnot a model"), meta: withChecksum(t, b.meta, []byte("tree\nnot a model"))},
		"5": cyclic(t, b),
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

// load resolves u and fetches the model it points at, as the Poller does.
func load(ctx context.Context, c *Client, u URI) (*model.Model, Version, error) {
	v, err := c.Resolve(ctx, u)
	if err != nil {
		return nil, Version{}, err
	}
	m, err := c.Fetch(ctx, v)
	return m, v, err
}

// kind names the sentinel a load error wraps: the contract the function's metric reasons rely on.
func kind(err error) string {
	switch {
	case errors.Is(err, model.ErrInvalid):
		return ReasonInvalid
	case errors.Is(err, ErrUnavailable):
		return ReasonUnavailable
	}
	return fmt.Sprintf("neither (%v)", err)
}

func TestClientLoad(t *testing.T) {
	tests := map[string]struct {
		alias      string
		fail       int
		wantReason string // "" = success
	}{
		"champion":          {alias: "1"},
		"another version":   {alias: "2"},
		"checksum mismatch": {alias: "3", wantReason: ReasonInvalid},
		"unparseable model": {alias: "4", wantReason: ReasonInvalid},
		"cyclic tree":       {alias: "5", wantReason: ReasonInvalid},
		"alias not set":     {alias: "", wantReason: ReasonUnavailable},
		"artifact missing":  {alias: "9", wantReason: ReasonUnavailable},
		"server error":      {alias: "1", fail: 1, wantReason: ReasonUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, c := newFake(t)
			f.set(tc.alias, tc.fail)
			m, v, err := load(context.Background(), c, champion)
			if tc.wantReason != "" {
				if err == nil {
					t.Fatalf("Load succeeded with version %s, want a %s error", v.Version, tc.wantReason)
				}
				if got := kind(err); got != tc.wantReason {
					t.Fatalf("kind(%v) = %s, want %s", err, got, tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if m.Meta.Version != tc.alias || v.Version != tc.alias {
				t.Fatalf("loaded version %q (registry %q), want %q", m.Meta.Version, v.Version, tc.alias)
			}
		})
	}
}

// MLflow 3 answers an alias that is not set yet with 400 INVALID_PARAMETER_VALUE: that may succeed
// later (ErrUnavailable), unlike a 400 for a bad request.
func TestAliasNotSetIsUnavailable(t *testing.T) {
	for name, tc := range map[string]struct {
		body  string
		later bool
	}{
		"alias not found": {`{"error_code":"INVALID_PARAMETER_VALUE","message":"Registered model alias champion not found."}`, true},
		"no such model":   {`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Registered Model with name=fraud-detector not found"}`, true},
		"bad request":     {`{"error_code":"INVALID_PARAMETER_VALUE","message":"Missing value for required parameter 'name'."}`, false},
		"not MLflow JSON": {`<html>bad request</html>`, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Resolve(context.Background(), champion)
			if err == nil || errors.Is(err, ErrUnavailable) != tc.later {
				t.Fatalf("Resolve: %v; want ErrUnavailable %v", err, tc.later)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c, err := New(url, WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = load(context.Background(), c, champion)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Load from a closed port: %v, want ErrUnavailable", err)
	}
}

func TestNewRejectsBadURI(t *testing.T) {
	for name, uri := range map[string]string{"no scheme": "localhost:5000", "file": "file:///tmp/mlruns", "empty": ""} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(uri); err == nil {
				t.Fatalf("New(%q) accepted", uri)
			}
		})
	}
}

func TestClientSendsAuth(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithBearerToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Resolve(context.Background(), champion)
	if got != "Bearer s3cret" {
		t.Fatalf("Authorization = %q", got)
	}
}

func TestPollerLoad(t *testing.T) {
	f, c := newFake(t)
	p := NewPoller(c, champion)
	ctx := context.Background()

	steps := []struct {
		name          string
		alias         string
		fail          int
		wantErr       string
		wantVersion   string // version in use after the step
		wantDownloads bool
	}{
		{name: "initial load", alias: "1", wantVersion: "1", wantDownloads: true},
		{name: "same version again", alias: "1", wantVersion: "1"},
		{name: "registry down", alias: "2", fail: 100, wantErr: ReasonUnavailable, wantVersion: "1"},
		{name: "promoted version", alias: "2", wantVersion: "2", wantDownloads: true},
		{name: "corrupt champion", alias: "3", wantErr: ReasonInvalid, wantVersion: "2", wantDownloads: true},
		{name: "unparseable champion", alias: "4", wantErr: ReasonInvalid, wantVersion: "2", wantDownloads: true},
		{name: "cyclic champion", alias: "5", wantErr: ReasonInvalid, wantVersion: "2", wantDownloads: true},
		{name: "rollback to 1", alias: "1", wantVersion: "1", wantDownloads: true},
	}
	var last *model.Model
	for _, s := range steps {
		f.set(s.alias, s.fail)
		before := f.callCount()
		m, err := p.Load(ctx)
		calls := f.callCount() - before
		if s.wantErr != "" {
			if err == nil || kind(err) != s.wantErr || m != nil {
				t.Fatalf("%s: Load = %v, %v; want no model and reason %s", s.name, m, err, s.wantErr)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: Load: %v", s.name, err)
			}
			if m.Meta.Version != s.wantVersion {
				t.Fatalf("%s: loaded version %q, want %q", s.name, m.Meta.Version, s.wantVersion)
			}
			if !s.wantDownloads && m != last {
				t.Fatalf("%s: unchanged alias returned a new *model.Model", s.name)
			}
			last = m
		}
		p.mu.Lock()
		got := p.version
		p.mu.Unlock()
		if got != s.wantVersion {
			t.Fatalf("%s: version in use %q, want %q", s.name, got, s.wantVersion)
		}
		// Resolve is one call, a download two more.
		if downloaded := calls > 1; downloaded != s.wantDownloads && s.fail == 0 {
			t.Fatalf("%s: %d calls, want downloads %v", s.name, calls, s.wantDownloads)
		}
	}
}

// roundTripFunc answers requests without a network, for the fuzz target.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Whatever the registry answers to an alias lookup, Resolve returns a version with a number or an
// error, never a panic; a reply that may succeed later (5xx, 404, 429, a body that does not
// decode) is ErrUnavailable, so the poller keeps the current model and tries again (only a reply
// over the size limit is ErrInvalid).
func FuzzResolve(f *testing.F) {
	f.Add(200, []byte(`{"model_version":{"name":"fraud-detector","version":"3","run_id":"r"}}`))
	f.Add(200, []byte(`{"model_version":{}}`))
	f.Add(404, []byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no alias"}`))
	f.Add(503, []byte(`<html>`))
	f.Add(403, []byte(`{"error_code":"PERMISSION_DENIED"}`))
	f.Add(200, []byte(`{"model_version":{"version":7}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(string(body))), Request: r}, nil
		})
		c, err := New("http://mlflow.invalid:5000", WithHTTPClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Resolve(context.Background(), URI{Name: "fraud-detector", Alias: "champion"})
		switch {
		case err == nil && v.Version == "":
			t.Fatalf("HTTP %d %q: no error and no version", status, body)
		case err != nil && (status >= 500 || status == 404 || status == 429) && !errors.Is(err, ErrUnavailable):
			t.Fatalf("HTTP %d: %v is not ErrUnavailable", status, err)
		case err != nil && status == 200 && !errors.Is(err, ErrUnavailable) && !errors.Is(err, model.ErrInvalid):
			t.Fatalf("HTTP 200 %q: %v is not ErrUnavailable", body, err)
		}
	})
}
