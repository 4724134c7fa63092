package function

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/config"
	"function/internal/events"
	"function/internal/features"
	"function/internal/model"
	"function/internal/scoring"
	"function/internal/txn"
)

const kafkaSource = "/apis/v1/namespaces/fraud/kafkasources/transactions#transactions-input"

var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func testConfig() config.Config {
	c := config.Default()
	c.ListenAddress = "127.0.0.1:0"
	c.MaxBatch = 5
	c.MaxBodyBytes = 4096
	c.DrainDelay = 0 // shutdown tests that want one set it
	// The tests' transactions are dated 2018: event time is the stream's watermark.
	c.EventClock = config.ClockStream
	c.EventMaxSkew = config.DefaultStreamEventMaxSkew
	c.LabelHMACKey = testLabelKey
	return c
}

// testLabelKey is the LABEL_HMAC_KEY of testConfig.
const testLabelKey = "function-test-label-key-0123456789abcdef"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startFunction starts a function on the built-in model and serves its Handler.
func startFunction(t *testing.T, opts ...Option) (*Function, *httptest.Server) {
	t.Helper()
	opts = append([]Option{WithConfig(testConfig()), WithLogger(quietLogger()), WithClock(func() time.Time { return fixedNow })}, opts...)
	f := New(opts...)
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := f.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return f, srv
}

func txBody(id string, customer int64, amount float64) string {
	return fmt.Sprintf(`{"transaction_id":%q,"tx_datetime":"2018-04-01 10:00:00","customer_id":%d,"terminal_id":3156,"tx_amount":%v}`, id, customer, amount)
}

// kafkaRequest is what KafkaSource POSTs for a plain record at partition 3, offset off.
func kafkaRequest(t *testing.T, url string, off int, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", fmt.Sprintf("partition:3/offset:%d", off))
	req.Header.Set("Ce-Source", kafkaSource)
	req.Header.Set("Ce-Type", events.TypeKafka)
	req.Header.Set("Ce-Subject", fmt.Sprintf("partition:3#%d", off))
	req.Header.Set("Ce-Key", "596")
	req.Header.Set("Ce-Partitionkey", "596")
	req.Header.Set("Prefer", "reply")
	return req
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func post(t *testing.T, url, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func decodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// structuredEvent is a fraud.* event in the structured JSON format.
func structuredEvent(typ, id, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":%q,"datacontenttype":"application/json","data":%s}`, id, typ, data)
}

// signedLabelEvent is a structured fraud.label.v1 event for the label JSON data, signed with
// testLabelKey as the trusted labelling path signs it.
func signedLabelEvent(t *testing.T, id, data string) string {
	t.Helper()
	l, err := txn.DecodeLabelJSON([]byte(data))
	if err != nil {
		t.Fatalf("label %s: %v", data, err)
	}
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":%q,"datacontenttype":"application/json","%s":%q,"data":%s}`,
		id, events.TypeLabel, scoring.LabelSignatureExtension, scoring.SignLabel([]byte(testLabelKey), &l), data)
}

// spyStore records, after each Record, the customer's history length, and every label.
type spyStore struct {
	inner *features.Memory
	mu    sync.Mutex
	seen  map[string]int // transaction id -> customer events after recording it
	label []txn.Label
	fail  error
}

func newSpyStore() *spyStore { return &spyStore{inner: features.NewMemory(), seen: map[string]int{}} }

func (s *spyStore) Record(ctx context.Context, tx *txn.Transaction, fn func(*features.CustomerHistory, *features.TerminalHistory)) error {
	if s.fail != nil {
		return s.fail
	}
	return s.inner.Record(ctx, tx, func(c *features.CustomerHistory, t *features.TerminalHistory) {
		s.mu.Lock()
		s.seen[tx.ID] = len(c.Events)
		s.mu.Unlock()
		fn(c, t)
	})
}

func (s *spyStore) Label(ctx context.Context, l txn.Label) error {
	if err := s.inner.Label(ctx, l); err != nil {
		return err
	}
	s.mu.Lock()
	s.label = append(s.label, l)
	s.mu.Unlock()
	return nil
}

// spyPublisher records what is published; it fails with fail, or blocks until release is closed.
type spyPublisher struct {
	mu      sync.Mutex
	evs     []event.Event
	fail    error
	entered chan struct{}
	release chan struct{}
	closed  bool
}

func (p *spyPublisher) Publish(ctx context.Context, evs []event.Event) error {
	if p.entered != nil {
		p.entered <- struct{}{}
	}
	if p.release != nil {
		select {
		case <-p.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.fail != nil {
		return p.fail
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("publish after Close")
	}
	p.evs = append(p.evs, evs...)
	return nil
}

func (p *spyPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *spyPublisher) events() []event.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event.Event(nil), p.evs...)
}

type atomicString struct {
	mu sync.Mutex
	s  string
}

func (a *atomicString) Store(s string) { a.mu.Lock(); a.s = s; a.mu.Unlock() }
func (a *atomicString) Load() string   { a.mu.Lock(); defer a.mu.Unlock(); return a.s }

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func newServer(t *testing.T, f *Function) string {
	t.Helper()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// builtinVersion is the version of the model compiled in (it changes when the model is retrained).
func builtinVersion(t *testing.T) string {
	t.Helper()
	m, err := model.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return m.Meta.Version
}
