package function

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/events"
	"function/internal/kafkaio/kafkatest"
)

// TestFuncCLI drives the project through Knative Functions' own CLI (FUNC_CLI, knative.dev/func
// as make test-func builds it) on a copy of the project, since func writes .func/ into it:
// `func build` with the host builder, `func run` on the host, and `func invoke` of a transaction
// CloudEvent, whose reply must be the fraud.prediction.v1 the function scores in process for the
// same event. The func-go build also publishes the prediction to PREDICTIONS_TOPIC on the real
// broker (KAFKA_BROKERS), read back here. func-go reads ./cfg beside the process' environment:
// that is where the test puts the broker, the topic and the stream event clock.
func TestFuncCLI(t *testing.T) {
	cli := os.Getenv("FUNC_CLI")
	if cli == "" {
		t.Skip("FUNC_CLI not set: make test-func builds knative.dev/func and runs this test")
	}
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 1, "predictions")[0]

	// A stable copy keeps Go's build cache warm between runs (FUNC_PROJECT_DIR); else a temp dir.
	dir := os.Getenv("FUNC_PROJECT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	copyProject(t, "..", dir)
	cfg := fmt.Sprintf("KAFKA_BROKERS=%s\nPREDICTIONS_TOPIC=%s\nEVENT_CLOCK=stream\n", strings.Join(brokers, ","), topic)
	if err := os.WriteFile(filepath.Join(dir, "cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"FUNC_ENABLE_HOST_BUILDER=true", // v0.44.0 keeps the host builder behind this switch
		"XDG_CONFIG_HOME="+t.TempDir(),  // func's own config, not the developer's
		// The scaffolding's go.mod (module s, go 1.21, func-go's old requirements) must take this
		// module's requirements: -mod=mod lets go build update it in .func/builds.
		"GOFLAGS="+strings.TrimSpace(goEnv(t, "GOFLAGS")+" -mod=mod"),
	)
	funcCmd := func(args ...string) *exec.Cmd {
		c := exec.Command(cli, args...)
		c.Dir, c.Env = dir, env
		return c
	}

	start := time.Now()
	out, err := funcCmd("build", "--builder", "host", "--registry", "localhost:5000/fraud-detector").CombinedOutput()
	if err != nil {
		t.Fatalf("func build: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("Function built")) {
		t.Fatalf("func build did not report a built function:\n%s", out)
	}
	bin := filepath.Join(dir, ".func", "builds", "last", "result", "f.linux.amd64")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("func build left no linux/amd64 binary: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".func", "builds", "last", "oci", "index.json")); err != nil {
		t.Fatalf("func build left no OCI image index: %v", err)
	}
	t.Logf("func build: %.0f s", time.Since(start).Seconds())

	// func run --container=false builds the scaffolding on the host and runs it (its own go build).
	run := funcCmd("run", "--container=false", "--build=false")
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	run.Stdout, run.Stderr = pw, pw
	if err := run.Start(); err != nil {
		t.Fatalf("func run: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = run.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
			<-done
		}
		pw.Close()
	})
	port := make(chan string, 1)
	var logBuf bytes.Buffer
	go func() {
		re := regexp.MustCompile(`Running on host port (\d+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			logBuf.WriteString(line + "\n")
			if m := re.FindStringSubmatch(line); m != nil {
				port <- m[1]
			}
		}
	}()
	select {
	case p := <-port:
		t.Logf("func run: listening on port %s after %.0f s", p, time.Since(start).Seconds())
	case <-time.After(10 * time.Minute):
		t.Fatalf("func run did not report its port:\n%s", logBuf.String())
	}

	data := txBody("func-cli-1", 596, 957.16)
	out, err = funcCmd("invoke", "--format", "cloudevent", "--id", "func-cli-event-1",
		"--type", events.TypeTransaction, "--content-type", "application/json", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("func invoke: %v\n%s", err, out)
	}
	// func invoke prints the reply event's attributes, then its data after "Data,".
	text := string(out)
	for _, want := range []string{"type: " + events.TypePrediction, "subject: func-cli-1"} {
		if !strings.Contains(text, want) {
			t.Fatalf("func invoke reply lacks %q:\n%s", want, text)
		}
	}
	_, payload, ok := strings.Cut(text, "Data,\n")
	if !ok {
		t.Fatalf("func invoke printed no reply data:\n%s", text)
	}
	got := decodeJSON[prediction](t, []byte(payload))
	want := scoreInProcess(t, data)
	if got.ID != "func-cli-1" || got.Probability != want.Probability || got.IsFraud != want.IsFraud || got.ModelVersion != want.ModelVersion {
		t.Fatalf("func invoke reply %+v, want the in-process prediction %+v", got, want)
	}
	t.Logf("func invoke: fraud.prediction.v1 for func-cli-1, probability %v (in process: %v)", got.Probability, want.Probability)

	var published prediction
	kafkatest.ReadUntil(t, brokers, topic, 30*time.Second, func(m *sarama.ConsumerMessage) {
		_ = json.Unmarshal(m.Value, &published)
	}, func() bool { return published.ID != "" })
	if published.ID != "func-cli-1" || published.Probability != want.Probability {
		t.Fatalf("prediction on %s: %+v, want func-cli-1 with probability %v", topic, published, want.Probability)
	}
}

// prediction is the part of fraud.prediction.v1's data the CLI test compares.
type prediction struct {
	ID           string  `json:"transaction_id"`
	Probability  float64 `json:"fraud_probability"`
	IsFraud      bool    `json:"is_fraud"`
	ModelVersion string  `json:"model_version"`
}

// scoreInProcess is the reply this package's Function gives the same transaction event on an
// empty feature store, as the freshly started func-go process has.
func scoreInProcess(t *testing.T, data string) prediction {
	t.Helper()
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()), WithPublisher(events.Nop{}))
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() { _ = f.Stop(context.Background()) }()
	e := event.New()
	e.SetID("in-process-1")
	e.SetSource("/func-cli-test")
	e.SetType(events.TypeTransaction)
	if err := e.SetData("application/json", []byte(data)); err != nil {
		t.Fatal(err)
	}
	reply, err := f.Handle(context.Background(), e)
	if err != nil || reply == nil {
		t.Fatalf("Handle: %v (reply %v)", err, reply)
	}
	return decodeJSON[prediction](t, reply.Data())
}

// copyProject copies the tracked (and new, not ignored) files of the repository at root into dst,
// after removing what an earlier run left there (.func/ included).
func copyProject(t *testing.T, root, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}
