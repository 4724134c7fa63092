package function

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/events"
	"function/internal/scoring"
	"function/internal/telemetry"
)

// rawRequest opens a connection to addr and writes a request head and the first part of its body,
// holding the rest back (a slow upload). It returns the connection and a reader of its reply.
func rawRequest(t *testing.T, addr, path string, contentLength int, first string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, contentLength, first)
	return c, bufio.NewReader(c)
}

func readReply(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestInflightBound: with MAX_INFLIGHT scoring requests held open (slow uploads), the next one is
// answered at once with 503 + Retry-After and counted; probes still answer; once the slow ones end
// scoring works again.
func TestInflightBound(t *testing.T) {
	cfg := testConfig()
	cfg.MaxInflight = 3
	f, srv := startFunction(t, WithConfig(cfg))
	addr := strings.TrimPrefix(srv.URL, "http://")
	var held []net.Conn
	for range cfg.MaxInflight {
		c, _ := rawRequest(t, addr, RoutePredict, 200, "{")
		held = append(held, c)
	}
	waitFor(t, "3 requests in flight", func() bool { return testutil.ToFloat64(f.Metrics().InFlight) == 3 })

	resp, body := post(t, srv.URL+"/predict", "application/json", txBody("over", 1, 10))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the bound: %d Retry-After=%q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if b := decodeJSON[events.ErrorBody](t, body); b.Reason != events.ReasonOverloaded {
		t.Errorf("body %+v, want reason %s", b, events.ReasonOverloaded)
	}
	if got := testutil.ToFloat64(f.Metrics().Shed.WithLabelValues(telemetry.ShedInFlight)); got != 1 {
		t.Errorf("http_requests_shed_total{limit=in_flight} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(events.ReasonOverloaded)); got != 1 {
		t.Errorf("ml_model_errors_total{reason=overloaded} = %v, want 1", got)
	}
	if resp, _ := do(t, mustRequest(t, "GET", srv.URL+RouteReadiness)); resp.StatusCode != http.StatusOK {
		t.Errorf("readiness under the bound: %d, want 200 (probes are not bounded)", resp.StatusCode)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "nothing in flight", func() bool { return testutil.ToFloat64(f.Metrics().InFlight) == 0 })
	if resp, body := post(t, srv.URL+"/predict", "application/json", txBody("after", 1, 10)); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slow uploads ended: %d %s", resp.StatusCode, body)
	}
}

// TestBufferedBytesBound: bodies held together are bounded; the request whose body would pass the
// bound gets 503 + Retry-After; the declared Content-Length reserves nothing by itself.
func TestBufferedBytesBound(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxBufferedBytes = 100 << 10
	f, srv := startFunction(t, WithConfig(cfg))
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Declaring the largest body and sending one byte holds one initial buffer, not 64 KiB.
	c1, _ := rawRequest(t, addr, RoutePredict, int(cfg.MaxBodyBytes), "[")
	defer c1.Close()
	waitFor(t, "one body buffered", func() bool { return testutil.ToFloat64(f.Metrics().BufferedBytes) > 0 })
	if got := testutil.ToFloat64(f.Metrics().BufferedBytes); got > initialBodyBuffer {
		t.Errorf("a 1-byte body of declared length %d holds %v bytes, want at most %d", cfg.MaxBodyBytes, got, initialBodyBuffer)
	}
	// Two bodies that really send 40 KiB each cannot both be held (each needs a 64 KiB buffer).
	pad := strings.Repeat(" ", 40<<10)
	c2, br2 := rawRequest(t, addr, RoutePredict, int(cfg.MaxBodyBytes), pad)
	c3, br3 := rawRequest(t, addr, RoutePredict, int(cfg.MaxBodyBytes), pad)
	replies := make(chan int, 2)
	var wg sync.WaitGroup
	for _, cr := range []struct {
		c  net.Conn
		br *bufio.Reader
	}{{c2, br2}, {c3, br3}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cr.c.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, err := http.ReadResponse(cr.br, nil)
			if err != nil {
				replies <- 0 // still reading: held within the bound
				return
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%d without Retry-After", resp.StatusCode)
			}
			replies <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(replies)
	shed := 0
	for s := range replies {
		if s == http.StatusServiceUnavailable {
			shed++
		}
	}
	if shed != 1 {
		t.Errorf("%d of the two 40 KiB uploads got 503, want exactly 1", shed)
	}
	if got := testutil.ToFloat64(f.Metrics().Shed.WithLabelValues(telemetry.ShedBufferedBytes)); got != 1 {
		t.Errorf("http_requests_shed_total{limit=buffered_bytes} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.Metrics().BufferedBytes); got > float64(cfg.MaxBufferedBytes) {
		t.Errorf("buffered %v bytes, over the bound %d", got, cfg.MaxBufferedBytes)
	}
	c1.Close()
	c2.Close()
	c3.Close()
	waitFor(t, "budget returned", func() bool { return testutil.ToFloat64(f.Metrics().BufferedBytes) == 0 })
}

// TestClientGoneIsNotBadInput: a client that closes mid-body is counted client_gone, not
// invalid_event, and no 400 is recorded.
func TestClientGoneIsNotBadInput(t *testing.T) {
	f, srv := startFunction(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, _ := rawRequest(t, addr, RouteCloudEvents, 500, `{"specversion":`)
	time.Sleep(50 * time.Millisecond)
	c.Close()
	waitFor(t, "client_gone counted", func() bool {
		return testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(events.ReasonClientGone)) == 1
	})
	for _, r := range []string{events.ReasonInvalidEvent, events.ReasonInvalidInput} {
		if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(r)); got != 0 {
			t.Errorf("ml_model_errors_total{reason=%s} = %v, want 0", r, got)
		}
	}
	if got := testutil.ToFloat64(f.Metrics().Requests.WithLabelValues("POST", RouteCloudEvents, "400")); got != 0 {
		t.Errorf("http_requests_total{code=400} = %v, want 0", got)
	}
}

// TestBodyTimeoutIs408: a body that stalls past the server's read timeout is answered 408 (which
// KafkaSource retries) and counted body_timeout, not invalid input.
func TestBodyTimeoutIs408(t *testing.T) {
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()), WithClock(func() time.Time { return fixedNow }))
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.Handler(), ReadTimeout: 300 * time.Millisecond}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	c, br := rawRequest(t, ln.Addr().String(), RoutePredict, 500, `{"transaction_id":`)
	resp, body := readReply(t, c, br)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body: %d %s, want 408", resp.StatusCode, body)
	}
	if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(events.ReasonBodyTimeout)); got != 1 {
		t.Errorf("ml_model_errors_total{reason=body_timeout} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(events.ReasonInvalidInput)); got != 0 {
		t.Errorf("ml_model_errors_total{reason=invalid_input} = %v, want 0", got)
	}
}

// TestScannerIsNotAnError: unknown paths and methods are answered 404/405 but never counted in
// ml_model_errors_total, so a scanner cannot raise the error-rate alert.
func TestScannerIsNotAnError(t *testing.T) {
	f, srv := startFunction(t)
	for _, p := range []string{"/admin", "/.env", "/wp-login.php", "/predict/x"} {
		if resp, _ := do(t, mustRequest(t, "GET", srv.URL+p)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/")); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /: %d, want 405", resp.StatusCode)
	}
	for _, r := range events.Reasons {
		if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(r)); got != 0 {
			t.Errorf("ml_model_errors_total{reason=%s} = %v after a scan, want 0", r, got)
		}
	}
	if got := testutil.ToFloat64(f.Metrics().Requests.WithLabelValues("GET", routeOther, "404")); got != 4 {
		t.Errorf("http_requests_total{route=other,code=404} = %v, want 4", got)
	}
}

// Test503HidesAddresses: a store failure naming its address answers a generic reason; the address
// stays in the log.
func Test503HidesAddresses(t *testing.T) {
	st := newSpyStore()
	st.fail = fmt.Errorf("%w: dial tcp 10.9.8.7:6379: connect: connection refused", scoring.ErrStore)
	_, srv := startFunction(t, WithStore(st))
	resp, body := post(t, srv.URL+"/predict", "application/json", txBody("t1", 1, 10))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d %s, want 503", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "10.9.8.7") || strings.Contains(string(body), "6379") {
		t.Errorf("503 body echoes the store's address: %s", body)
	}
	if b := decodeJSON[events.ErrorBody](t, body); b.Reason != events.ReasonStoreUnavailable {
		t.Errorf("body %+v, want reason %s", b, events.ReasonStoreUnavailable)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzReadBody: any body, declared length and read pattern gives back exactly the bytes sent (or
// 413 past the limit, or a client error for a short body), never holds more of the shared budget
// than a doubling buffer needs, and returns all of it.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte(`{"transaction_id":"t"}`), int64(-1), uint8(7))
	f.Add(bytes.Repeat([]byte("x"), 5000), int64(5000), uint8(1))
	f.Add([]byte("short"), int64(100), uint8(3))
	f.Add(bytes.Repeat([]byte("y"), 9000), int64(10), uint8(200))
	f.Fuzz(func(t *testing.T, body []byte, declared int64, step uint8) {
		const limit = 8192
		m := telemetry.New(prometheus.NewRegistry())
		lim := &limiter{m: m}
		b := &budget{lim: lim, max: 1 << 20}
		r := httptest.NewRequest(http.MethodPost, "/predict", iotest.OneByteReader(bytes.NewReader(body)))
		if step%2 == 0 {
			r = httptest.NewRequest(http.MethodPost, "/predict", &chunky{b: body, n: int(step) + 1})
		}
		r.ContentLength = declared
		got, err := readBody(httptest.NewRecorder(), r, limit, b)
		switch {
		case err == nil:
			if !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes, sent %d", len(got), len(body))
			}
			if b.held > 2*int64(len(body))+initialBodyBuffer {
				t.Fatalf("holds %d bytes of budget for a %d-byte body", b.held, len(body))
			}
		case len(body) > limit || declared > limit:
			if status, _ := events.Classify(err); status != http.StatusRequestEntityTooLarge {
				t.Fatalf("over the limit: %v (status %d)", err, status)
			}
		default:
			if status, _ := events.Classify(err); status >= 500 {
				t.Fatalf("read error classified %d: %v", status, err)
			}
		}
		b.release()
		if lim.buffered.Load() != 0 {
			t.Fatalf("%d bytes of budget not returned", lim.buffered.Load())
		}
	})
}

// chunky reads n bytes at a time.
type chunky struct {
	b []byte
	n int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}
