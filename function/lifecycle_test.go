package function

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveInBackground runs f.Serve on a loopback listener.
func serveInBackground(t *testing.T, f *Function, ctx context.Context, intakes ...Intake) (url string, served chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan error, 1)
	go func() { served <- f.Serve(ctx, ln, nil, intakes...) }()
	return "http://" + ln.Addr().String(), served
}

// TestShutdownStopsIntakeFirst: on SIGTERM the intake (the Kafka consumer) is cancelled while the
// function is still ready and its publisher open, and the publisher closes only after the intake
// has returned.
func TestShutdownStopsIntakeFirst(t *testing.T) {
	pub := &spyPublisher{}
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()), WithPublisher(pub))
	var readyAtCancel, closedAtCancel, closedAtReturn atomic.Bool
	intake := func(ctx context.Context) error {
		<-ctx.Done()
		ready, _ := f.Ready(context.Background())
		readyAtCancel.Store(ready)
		pub.mu.Lock()
		closedAtCancel.Store(pub.closed)
		pub.mu.Unlock()
		time.Sleep(200 * time.Millisecond) // leaving the group, committing
		pub.mu.Lock()
		closedAtReturn.Store(pub.closed)
		pub.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, served := serveInBackground(t, f, ctx, intake)
	waitReady(t, url+RouteReadiness)
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !readyAtCancel.Load() {
		t.Error("readiness was already 503 when the intake was cancelled: intake must stop first")
	}
	if closedAtCancel.Load() || closedAtReturn.Load() {
		t.Error("the publisher was closed while the intake could still deliver")
	}
	if !pub.closed {
		t.Error("publisher not closed after the intake returned")
	}
}

// TestIntakeFailureEndsServe: an intake that fails (the consumer cannot run) ends Serve with its
// error, so the process exits non-zero instead of serving probes with nothing consumed.
func TestIntakeFailureEndsServe(t *testing.T) {
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()))
	boom := errors.New("group coordinator gone")
	_, served := serveInBackground(t, f, context.Background(), func(context.Context) error { return boom })
	select {
	case err := <-served:
		if !errors.Is(err, boom) {
			t.Errorf("Serve: %v, want the intake's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running after its intake failed")
	}
}

// TestStuckIntakeKeepsStoreOpen: an intake that does not return within SHUTDOWN_TIMEOUT ends Serve
// with an error, and the publisher is left open rather than closed under it.
func TestStuckIntakeKeepsStoreOpen(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownTimeout = 300 * time.Millisecond
	pub := &spyPublisher{}
	f := New(WithConfig(cfg), WithLogger(quietLogger()), WithPublisher(pub))
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	url, served := serveInBackground(t, f, ctx, func(context.Context) error { <-release; return nil })
	waitReady(t, url+RouteReadiness)
	cancel()
	if err := <-served; err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Serve: %v, want an error naming the stuck intake", err)
	}
	if pub.closed {
		t.Error("publisher closed while the intake may still deliver")
	}
}

// TestDrainKeepsListenerOpen: for DRAIN_DELAY after SIGTERM readiness answers 503 while new
// connections are still accepted and served, each reply telling the client to close.
func TestDrainKeepsListenerOpen(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = time.Second
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	ctx, cancel := context.WithCancel(context.Background())
	url, served := serveInBackground(t, f, ctx)
	waitReady(t, url+RouteReadiness)
	cancel()
	waitFor(t, "draining", func() bool { ok, _ := f.Ready(context.Background()); return !ok })
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get(url + RouteReadiness)
	if err != nil {
		t.Fatalf("readiness while draining: %v (the listener must stay open)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readiness while draining: %d, want 503", resp.StatusCode)
	}
	resp, err = client.Post(url+RoutePredict, "application/json", strings.NewReader(txBody("drain", 1, 10)))
	if err != nil {
		t.Fatalf("predict while draining: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("predict while draining: %d, Connection: close %v; want 200 and close", resp.StatusCode, resp.Close)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// exitOf runs the binary with env until it exits or budget passes.
func exitOf(t *testing.T, bin string, budget time.Duration, env ...string) (code int, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("still running after %v (killed); output:\n%s", budget, b)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(b)
}

// TestBinaryExitStatuses: a MODEL_URI naming no model exits 2 as the README promises, and so does
// a typo in FUNC_TRANSPORT (it used to be ignored: the function served HTTP only).
func TestBinaryExitStatuses(t *testing.T) {
	bin := buildBinary(t)
	bad := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "model.txt"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "metadata.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		env  []string
		want string
	}{
		"missing model":    {[]string{"MODEL_URI=" + filepath.Join(t.TempDir(), "none")}, "MODEL_URI"},
		"invalid model":    {[]string{"MODEL_URI=" + bad}, "invalid model"},
		"transport typo":   {[]string{"FUNC_TRANSPORT=kakfa"}, "FUNC_TRANSPORT"},
		"kafka no brokers": {[]string{"FUNC_TRANSPORT=kafka"}, "KAFKA_BROKERS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, out := exitOf(t, bin, 20*time.Second, append([]string{"LISTEN_ADDRESS=127.0.0.1:0", "KAFKA_BROKERS="}, tc.env...)...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 and %q in the output:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestKafkaModeStartFailureExits: with FUNC_TRANSPORT=kafka a Start that fails (here: no model at
// MODEL_URI) exits non-zero within seconds. It used to hang: the consumer's goroutine waited
// forever for a readiness that could never come. Needs a real broker (make test-function-kafka).
func TestKafkaModeStartFailureExits(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("KAFKA_REQUIRED") != "" {
			t.Fatal("KAFKA_BROKERS is not set")
		}
		t.Skip("KAFKA_BROKERS not set: make test-function-kafka runs this on a real broker")
	}
	bin := buildBinary(t)
	start := time.Now()
	code, out := exitOf(t, bin, 30*time.Second, "LISTEN_ADDRESS=127.0.0.1:0", "FUNC_TRANSPORT=kafka",
		"KAFKA_BROKERS="+brokers, "KAFKA_CONSUMER_GROUP=start-failure-test",
		"MODEL_URI="+filepath.Join(t.TempDir(), "none"))
	t.Logf("exit %d after %v", code, time.Since(start).Round(time.Millisecond))
	if code == 0 || !strings.Contains(out, "function failed") {
		t.Errorf("exit %d, want non-zero after a failed Start; output:\n%s", code, out)
	}
}

// TestSIGTERMUnderKeepAlive: 50 keep-alive clients POST /predict in a loop while the real binary
// gets SIGTERM, and keep sending for a second more, reconnecting when told to close: the routing
// lag of a platform, whose proxies still send a terminating pod new connections until they learn
// it is gone. Every request is answered, none reset or refused: for DRAIN_DELAY the listener stays
// open, readiness 503, each reply saying Connection: close. It used to close the listener and the
// idle connections at once: 49 of 50 clients were reset.
func TestSIGTERMUnderKeepAlive(t *testing.T) {
	const (
		clients    = 50
		routingLag = time.Second
	)
	bin := buildBinary(t)
	p := startBinary(t, bin, "LISTEN_ADDRESS=127.0.0.1:0", "DRAIN_DELAY=2s")
	url := "http://" + p.addr
	waitReady(t, url+RouteReadiness)

	var served, toldClose atomic.Int64
	var stopAt atomic.Int64
	stopAt.Store(time.Now().Add(time.Hour).UnixNano())
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	warm := make(chan struct{}, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			for n := 0; time.Now().UnixNano() < stopAt.Load(); n++ {
				resp, err := c.Post(url+RoutePredict, "application/json", strings.NewReader(txBody("k", int64(i), 10)))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					failures = append(failures, resp.Status)
					mu.Unlock()
					return
				}
				served.Add(1)
				if resp.Close {
					toldClose.Add(1)
				}
				if n == 3 {
					warm <- struct{}{}
				}
			}
		}()
	}
	for range clients {
		select {
		case <-warm:
		case <-time.After(20 * time.Second):
			t.Fatal("clients did not get going")
		}
	}
	before := served.Load()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopAt.Store(time.Now().Add(routingLag).UnixNano())
	wg.Wait()
	for range p.logs {
	}
	exitErr := <-p.exit
	resets := 0
	for _, f := range failures {
		if strings.Contains(f, "reset") || strings.Contains(f, "EOF") {
			resets++
		}
	}
	t.Logf("%d requests before SIGTERM, %d in the %v after (%d replies with Connection: close); %d failed, %d of them resets",
		before, served.Load()-before, routingLag, toldClose.Load(), len(failures), resets)
	if len(failures) > 0 {
		t.Errorf("%d of %d clients failed: %q", len(failures), clients, failures)
	}
	if toldClose.Load() < clients {
		t.Errorf("%d replies said Connection: close, want at least one per client (%d)", toldClose.Load(), clients)
	}
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v, want 0", exitErr)
	}
}

// TestKafkaModeShutdownOrder: the real binary in FUNC_TRANSPORT=kafka on a real broker, SIGTERM:
// the consumer stops (leaves its group) before readiness turns 503 and before the publisher and
// store close, and the process exits 0.
func TestKafkaModeShutdownOrder(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("KAFKA_REQUIRED") != "" {
			t.Fatal("KAFKA_BROKERS is not set")
		}
		t.Skip("KAFKA_BROKERS not set: make test-function-kafka runs this on a real broker")
	}
	bin := buildBinary(t)
	p := startBinary(t, bin, "LISTEN_ADDRESS=127.0.0.1:0", "FUNC_TRANSPORT=kafka", "KAFKA_BROKERS="+brokers,
		"KAFKA_CONSUMER_GROUP=shutdown-order-test", "DRAIN_DELAY=500ms")
	waitReady(t, "http://"+p.addr+RouteReadiness)
	var logs []string
	deadline := time.After(60 * time.Second)
	for consuming := false; !consuming; {
		select {
		case l := <-p.logs:
			logs = append(logs, l)
			consuming = strings.Contains(l, `"msg":"kafka transport consuming"`)
		case <-deadline:
			t.Fatalf("not consuming:\n%s", strings.Join(logs, "\n"))
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for l := range p.logs {
		logs = append(logs, l)
	}
	if err := <-p.exit; err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	joined := strings.Join(logs, "\n")
	order := []string{`"msg":"shutting down"`, `"msg":"kafka transport stopped"`, `"msg":"draining"`, `"msg":"function stopped"`}
	at := -1
	for _, want := range order {
		i := strings.Index(joined, want)
		if i < 0 || i < at {
			t.Fatalf("want the log in the order %q:\n%s", order, joined)
		}
		at = i
	}
}
