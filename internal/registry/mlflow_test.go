package registry

// Helpers that run a real MLflow tracking server (sqlite backend, local artifact root) and
// register model versions in it through its REST API, as the training pipeline does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"function/internal/model"
	"function/internal/proctest"
)

// EnvMLflowBin names the mlflow executable of the pinned venv; `make test-retraining` sets it.
// Without it the tests that need a real server skip (plain `go test ./...`).
const EnvMLflowBin = "FD_MLFLOW_BIN"

// syncBuffer collects a process's output for assertions while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mlflowServer is a running `mlflow server`.
type mlflowServer struct {
	URL  string
	cmd  *exec.Cmd
	out  *syncBuffer
	once sync.Once
}

// startMLflow starts a server on a loopback port and stops it when the test ends.
func startMLflow(t *testing.T) *mlflowServer {
	t.Helper()
	bin := os.Getenv(EnvMLflowBin)
	if bin == "" {
		t.Skipf("%s is not set: `make test-retraining` runs this test against a real MLflow server", EnvMLflowBin)
	}
	dir := t.TempDir()
	port := proctest.FreePort(t)
	cmd := exec.Command(bin, "server",
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--workers", "1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// The server's background job runner (huey consumers) is not needed for the registry.
	cmd.Env = append(os.Environ(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the server forks workers: stop them all
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mlflow: %v", err)
	}
	s := &mlflowServer{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, out: out}
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mlflow server not healthy after 2 minutes; its output:\n%s", out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Stop ends the server and its workers (its own process group) and waits for it.
func (s *mlflowServer) Stop() {
	s.once.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// admin registers versions through MLflow's REST API.
type admin struct {
	t    *testing.T
	base string
	exp  string
}

func newAdmin(t *testing.T, base string) *admin {
	t.Helper()
	a := &admin{t: t, base: base}
	var exp struct {
		ID string `json:"experiment_id"`
	}
	a.call(http.MethodPost, "/api/2.0/mlflow/experiments/create", map[string]any{"name": "registry-test"}, &exp)
	a.exp = exp.ID
	a.call(http.MethodPost, "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "fraud-detector"}, nil)
	return a
}

func (a *admin) call(method, path string, in, out any) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, reply)
	}
	if out != nil {
		if err := json.Unmarshal(reply, out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// register logs b as a run's bundle/ artifacts and registers it, returning the version number.
func (a *admin) register(b bundle) string {
	a.t.Helper()
	var run struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	a.call(http.MethodPost, "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": a.exp}, &run)
	src := run.Run.Info.ArtifactURI + "/bundle"
	rel, ok := strings.CutPrefix(src, "mlflow-artifacts:/")
	if !ok {
		a.t.Fatalf("artifact uri %q is not served by the tracking server", src)
	}
	for name, data := range map[string][]byte{model.ModelFile: b.txt, model.MetadataFile: b.meta} {
		req, err := http.NewRequest(http.MethodPut, a.base+"/api/2.0/mlflow-artifacts/artifacts/"+strings.TrimPrefix(rel, "/")+"/"+name, bytes.NewReader(data))
		if err != nil {
			a.t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			a.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			a.t.Fatalf("upload %s: HTTP %d", name, resp.StatusCode)
		}
	}
	var mv struct {
		ModelVersion Version `json:"model_version"`
	}
	a.call(http.MethodPost, "/api/2.0/mlflow/model-versions/create",
		map[string]any{"name": "fraud-detector", "source": src, "run_id": run.Run.Info.RunID}, &mv)
	return mv.ModelVersion.Version
}

// promote moves the champion alias.
func (a *admin) promote(version string) {
	a.t.Helper()
	a.call(http.MethodPost, "/api/2.0/mlflow/registered-models/alias",
		map[string]any{"name": "fraud-detector", "alias": "champion", "version": version}, nil)
}

func TestRealMLflowClient(t *testing.T) {
	srv := startMLflow(t)
	a := newAdmin(t, srv.URL)
	b := builtinBundle(t)
	good := a.register(b)
	corrupt := variant(t, b, "5")
	corrupt.txt = bytes.Replace(corrupt.txt, []byte("Tree=0"), []byte("Tree=O"), 1)
	bad := a.register(corrupt)
	c, err := New(srv.URL, WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, _, err := load(ctx, c, champion); kind(err) != ReasonUnavailable || err == nil {
		t.Fatalf("Load before any alias: %v, want %s", err, ReasonUnavailable)
	}
	a.promote(good)
	m, v, err := load(ctx, c, champion)
	if err != nil {
		t.Fatalf("Load champion: %v", err)
	}
	if v.Version != good || m.Meta.Version != good || v.RunID == "" {
		t.Fatalf("loaded %+v (model version %q), want version %s with its run", v, m.Meta.Version, good)
	}
	a.promote(bad)
	if _, _, err := load(ctx, c, champion); err == nil || kind(err) != ReasonInvalid {
		t.Fatalf("Load of a corrupted champion: %v, want %s", err, ReasonInvalid)
	}
}
