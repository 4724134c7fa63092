package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"function/internal/proctest"
)

// rig is the delivery path as the cluster runs it, on loopback: a real Kafka broker (started by
// `make test-faults`, restartable with its script), a real redis-server as the feature store, the
// fraud-detector binary in the HTTP transport, and the dispatcher reading the shipped KafkaSource
// and dead-letter KafkaSink, delivering to the function. Each part can be killed and restarted.
type rig struct {
	t        *testing.T
	root     string
	bin      map[string]string
	brokers  string
	kafkaSH  string
	labelKey string

	redisPort int
	redisDir  string
	fnAddr    string

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	logs  map[string]*bytes.Buffer
}

// Env the rig needs; `make test-faults` and `make soak` set them.
func requireEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	v := map[string]string{}
	for _, n := range names {
		v[n] = os.Getenv(n)
		if v[n] == "" {
			if os.Getenv("FAULTS_REQUIRED") != "" {
				t.Fatalf("%s is not set", n)
			}
			t.Skipf("%s is not set: `make test-faults` runs this with a real broker and redis-server", n)
		}
	}
	return v
}

func newRig(t *testing.T) *rig {
	t.Helper()
	env := requireEnv(t, "KAFKA_BROKERS", "KAFKA_SH", "REDIS_SERVER")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, root: root, bin: map[string]string{"redis": env["REDIS_SERVER"]}, brokers: env["KAFKA_BROKERS"],
		kafkaSH: env["KAFKA_SH"], labelKey: "faults-test-label-key-0123456789abcdef",
		redisPort: proctest.FreePort(t), redisDir: t.TempDir(), procs: map[string]*exec.Cmd{}, logs: map[string]*bytes.Buffer{}}
	r.fnAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
	for name, pkg := range map[string]string{"function": proctest.Function, "dispatcher": "eventing/dispatcher", "loadgen": "loadgen"} {
		r.bin[name] = proctest.Build(t, pkg)
	}
	t.Cleanup(func() {
		for _, name := range []string{"dispatcher", "function", "redis"} {
			r.kill(name)
		}
		if t.Failed() {
			r.mu.Lock()
			for name, b := range r.logs {
				t.Logf("%s log (last 4 KiB):\n%s", name, tail(b.Bytes(), 4096))
			}
			r.mu.Unlock()
		}
	})
	r.startRedis()
	r.startFunction()
	r.startDispatcher()
	return r
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start runs a part; its output goes to its log buffer.
func (r *rig) start(name string, args []string, env ...string) {
	r.t.Helper()
	cmd := exec.Command(r.bin[name], args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logs[name] == nil {
		r.logs[name] = &bytes.Buffer{}
	}
	w := lockedWriter{&r.mu, r.logs[name]}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", name, err)
	}
	r.procs[name] = cmd
	go func() { _ = cmd.Wait() }()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// kill sends SIGKILL: the crash, not the orderly stop.
func (r *rig) kill(name string) {
	r.mu.Lock()
	cmd := r.procs[name]
	delete(r.procs, name)
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	for i := 0; i < 100 && cmd.ProcessState == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) pid(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.procs[name]; c != nil && c.Process != nil {
		return c.Process.Pid
	}
	return 0
}

// startRedis runs redis-server as config/redis deploys it (AOF on, LRU eviction), on the same port
// and data folder each time, so a restart is a restart.
func (r *rig) startRedis() {
	r.t.Helper()
	r.start("redis", []string{"--port", strconv.Itoa(r.redisPort), "--bind", "127.0.0.1", "--dir", r.redisDir,
		"--appendonly", "yes", "--save", "", "--maxmemory", "400mb", "--maxmemory-policy", "allkeys-lru",
		"--daemonize", "no", "--loglevel", "warning"})
	waitTCP(r.t, net.JoinHostPort("127.0.0.1", strconv.Itoa(r.redisPort)))
}

func (r *rig) startFunction() {
	r.t.Helper()
	r.start("function", nil,
		"LISTEN_ADDRESS="+r.fnAddr, "FUNC_TRANSPORT=http", "EVENT_CLOCK=wall",
		fmt.Sprintf("FEATURE_STORE=redis://127.0.0.1:%d/0", r.redisPort),
		"KAFKA_BROKERS="+r.brokers, "PREDICTIONS_TOPIC=fraud-predictions", "LABEL_HMAC_KEY="+r.labelKey,
		"GOMEMLIMIT=200MiB")
	waitHTTP(r.t, "http://"+r.fnAddr+"/health/readiness")
}

// startDispatcher runs the KafkaSource stand-in on the shipped KafkaSource and KafkaSink: the
// retry policy under test is the one the cluster gets.
func (r *rig) startDispatcher() {
	r.t.Helper()
	r.start("dispatcher", []string{
		"--kafkasource", filepath.Join(r.root, "eventing/kafkasource.yaml"),
		"--kafkasink", filepath.Join(r.root, "eventing/kafkasink-dead-letter.yaml"),
		"--bootstrap-servers", r.brokers, "--sink-url", "http://" + r.fnAddr + "/",
		"--metrics-address", "127.0.0.1:0"})
}

// broker stops or starts the broker with its script (same data: a restart, not a new broker).
func (r *rig) broker(verb string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, r.kafkaSH, verb).CombinedOutput(); err != nil {
		r.t.Errorf("kafka.sh %s: %v\n%s", verb, err, out)
	}
}

// loadgen runs the load generator and returns its final delivery line and report file.
func (r *rig) loadgen(ctx context.Context, args ...string) (string, string, error) {
	report := filepath.Join(r.t.TempDir(), "report.json")
	args = append([]string{"--brokers", r.brokers, "--topic", "transactions-input", "--verify-topic", "fraud-predictions",
		"--drain-timeout", "60s", "--report", report, "--quiet"}, args...)
	cmd := exec.CommandContext(ctx, r.bin["loadgen"], args...)
	cmd.Env = append(os.Environ(), "LABEL_HMAC_KEY="+r.labelKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.t.Logf("loadgen %s:\n%s", strings.Join(args, " "), out.String())
	line := ""
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "sent=") {
			line = sc.Text()
		}
	}
	return line, report, err
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s did not accept connections within 20 s", addr)
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := httpClient.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s not ready within 30 s", url)
}

// rss is the resident set of pid in bytes (0 if it is gone).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
