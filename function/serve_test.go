package function

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"function/internal/proctest"
)

// TestGracefulShutdown: on cancel (what SIGTERM does in main) Serve stops accepting connections,
// lets the in-flight request finish, and only then calls Stop, which closes the publisher.
func TestGracefulShutdown(t *testing.T) {
	pub := &spyPublisher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()), WithPublisher(pub))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.Serve(ctx, ln, nil) }()
	waitReady(t, url+"/health/readiness")

	type result struct {
		status int
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/predict", "application/json", strings.NewReader(txBody("slow", 1, 10)))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- result{status: resp.StatusCode}
	}()
	<-pub.entered // the request is being served
	cancel()

	// New connections are refused once the listener closes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ready, _ := f.Ready(context.Background()); ready {
		t.Error("ready while draining")
	}
	select {
	case <-served:
		t.Fatal("Serve returned with a request in flight")
	default:
	}
	close(pub.release)
	if r := <-inflight; r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request: status %d, err %v", r.status, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if len(pub.events()) != 1 || !pub.closed {
		t.Errorf("published %d, closed %v: want the in-flight prediction published, then Close", len(pub.events()), pub.closed)
	}
}

// TestServeStartFailure: a function that cannot start ends Serve with the error (main exits 1).
func TestServeStartFailure(t *testing.T) {
	cfg := testConfig()
	cfg.ModelURI = filepath.Join(t.TempDir(), "missing")
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Serve(context.Background(), ln, nil) }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Serve: %v, want the model load error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running without a model")
	}
}

// buildBinary builds the entrypoint exactly as the image does.
func buildBinary(t *testing.T) string {
	t.Helper()
	return proctest.Build(t, proctest.Function)
}

type process struct {
	cmd  *exec.Cmd
	addr string
	logs chan string // every log line, after the listening one
	exit chan error
}

// startBinary runs bin with env and waits for its "listening" log line.
func startBinary(t testing.TB, bin string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "EVENT_CLOCK=stream"), env...) // the tests' data is dated 2018
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: make(chan string, 1024), exit: make(chan error, 1)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exit
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg     string `json:"msg"`
				Address string `json:"address"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Address
				continue
			}
			select {
			case p.logs <- sc.Text():
			default:
			}
		}
		close(p.logs)
		p.exit <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.addr = a
	case <-time.After(30 * time.Second):
		t.Fatal("the binary did not log its address")
	}
	return p
}

// TestBinary runs the real entrypoint: it answers /predict within seconds of starting, logs JSON,
// and exits 0 after SIGTERM once it has stopped.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	start := time.Now()
	p := startBinary(t, bin, "LISTEN_ADDRESS=127.0.0.1:0")
	url := "http://" + p.addr
	waitReady(t, url+"/health/readiness")
	resp, body := post(t, url+"/predict", "application/json", txBody("bin1", 596, 57.16))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"transaction_id":"bin1"`) {
		t.Fatalf("predict: %d %s", resp.StatusCode, body)
	}
	t.Logf("first prediction %v after the process started", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("first prediction after %v, want seconds", took)
	}
	resp, body = do(t, mustRequest(t, "GET", url+"/metrics"))
	v := builtinVersion(t)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `ml_model_predictions_total{model_version="`+v+`",outcome="legit"} 1`) &&
		!strings.Contains(string(body), `ml_model_predictions_total{model_version="`+v+`",outcome="fraud"} 1`) {
		t.Errorf("metrics after one prediction:\n%s", body)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for l := range p.logs {
		logs = append(logs, l)
	}
	if err := <-p.exit; err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	joined := strings.Join(logs, "\n")
	for _, want := range []string{`"msg":"function started"`, `"msg":"shutting down"`, `"msg":"function stopped"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("log lacks %s:\n%s", want, joined)
		}
	}
}

func TestBinaryBadConfig(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS=127.0.0.1:0", "FRAUD_THRESHOLD=2", "MAX_BATCH=-1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; output %s", err, out)
	}
	for _, want := range []string{"FRAUD_THRESHOLD", "MAX_BATCH", `"level":"ERROR"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %s: %s", want, out)
		}
	}
}
