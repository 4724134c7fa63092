package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"function/internal/kafkaio"
	"function/internal/kafkaio/kafkatest"
	"function/internal/proctest"
	"function/loadgen/pace"
)

// These tests run the pipeline the demo runs, on the real broker: this load generator (in
// process) → transactions topic → the real fraud-detector binary in Kafka mode → predictions
// topic, read back by the load generator, which accounts for every transaction.

// pipeline is one test's topics and function process.
type pipeline struct {
	t            *testing.T
	brokers      []string
	in, out, dlq string
	group        string
	mu           sync.Mutex
	fn           *exec.Cmd
	logs         *bytes.Buffer
	starts       int
}

func newPipeline(t *testing.T) *pipeline {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 6, "in", "out", "dlq")
	p := &pipeline{t: t, brokers: brokers, in: topics[0], out: topics[1], dlq: topics[2], group: topics[0] + "-fd", logs: &bytes.Buffer{}}
	t.Cleanup(func() {
		p.stopFunction(os.Interrupt)
		if t.Failed() {
			p.mu.Lock()
			t.Logf("function logs:\n%s", p.logs.String())
			p.mu.Unlock()
		}
	})
	return p
}

func (p *pipeline) startFunction() { p.startFunctionWith("FUNC_TRANSPORT=kafka") }

func (p *pipeline) startFunctionWith(env ...string) {
	p.t.Helper()
	cmd := exec.Command(proctest.Build(p.t, proctest.Function))
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "EVENT_CLOCK=stream", "LISTEN_ADDRESS=127.0.0.1:0",
		"KAFKA_BROKERS="+strings.Join(p.brokers, ","), "KAFKA_TOPIC="+p.in, "PREDICTIONS_TOPIC="+p.out,
		"DEAD_LETTER_TOPIC="+p.dlq, "KAFKA_CONSUMER_GROUP="+p.group)
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd.Stdout, cmd.Stderr = pipelineLog{p}, pipelineLog{p}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start function: %v", err)
	}
	p.fn = cmd
	p.starts++
}

func (p *pipeline) stopFunction(sig os.Signal) {
	p.mu.Lock()
	cmd := p.fn
	p.fn = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// pipelineLog appends the function's output to the pipeline's log under its lock.
type pipelineLog struct{ p *pipeline }

func (w pipelineLog) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.logs.Write(b)
}

// loadgen runs the load generator against the pipeline and returns its report.
func (p *pipeline) loadgen(args ...string) (pace.Report, int) {
	p.t.Helper()
	report := filepath.Join(p.t.TempDir(), "report.json")
	args = append([]string{"--brokers", strings.Join(p.brokers, ","), "--topic", p.in, "--verify-topic", p.out,
		"--drain-timeout", "40s", "--report", report, "--quiet"}, args...)
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	p.t.Logf("loadgen %s → exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	var r pace.Report
	data, err := os.ReadFile(report)
	if err != nil {
		p.t.Fatalf("no report: %v", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		p.t.Fatalf("report: %v", err)
	}
	if r.Delivery == nil {
		p.t.Fatal("report has no delivery accounting")
	}
	return r, code
}

func checkNothingLost(t *testing.T, r pace.Report, code int, want int64) {
	t.Helper()
	d := r.Delivery
	if code != exitOK || d.Lost != 0 || d.Predicted != want || d.Sent != want || r.Total.Errors != 0 || d.Conflicts != 0 {
		t.Fatalf("exit %d, %s conflicts=%d errors=%d; want all %d predicted, nothing lost, no conflicting prediction",
			code, d.Line(), d.Conflicts, r.Total.Errors, want)
	}
	t.Logf("%s (end-to-end p99 %.1f ms)", d.Line(), d.Latency.P99)
}

func TestKafkaPipelineDeliversEveryTransactionAndDeadLettersPoison(t *testing.T) {
	p := newPipeline(t)
	// A poison record ahead of the load, in the partition customer 1's transactions use.
	prod := kafkatest.Producer(t, p.brokers)
	poison := `{"transaction_id": 12, oops`
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: p.in, Key: sarama.StringEncoder("1"), Value: sarama.StringEncoder(poison)}); err != nil {
		t.Fatal(err)
	}
	p.startFunction()
	r, code := p.loadgen("--profile", "constant", "--rate", "400", "--duration", "5s")
	checkNothingLost(t, r, code, 2000)
	if ph := r.Phases[0]; math.Abs(ph.AchievedTPS/ph.TargetTPS-1) > 0.05 {
		t.Errorf("achieved %.1f/s for a target of %.0f/s", ph.AchievedTPS, ph.TargetTPS)
	}

	var reason, status, value string
	kafkatest.ReadUntil(t, p.brokers, p.dlq, 30*time.Second, func(m *sarama.ConsumerMessage) {
		data, _ := base64.StdEncoding.DecodeString(kafkatest.Header(m, kafkaio.HeaderErrorData))
		reason, status, value = string(data), kafkatest.Header(m, kafkaio.HeaderErrorCode), string(m.Value)
	}, func() bool { return value != "" })
	if value != poison || status != "400" || !strings.Contains(reason, "malformed JSON") {
		t.Errorf("dead letter %q status %q reason %q; want the poison record, 400, a JSON reason", value, status, reason)
	}
}

// runDisrupted runs the load generator while disrupt runs beside it.
func (p *pipeline) runDisrupted(disrupt func(), args ...string) (pace.Report, int) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); disrupt() }()
	r, code := p.loadgen(args...)
	wg.Wait()
	return r, code
}

// Binary fraud.transaction.v1 events this time: they pass through the consumer unwrapped.
func TestKafkaPipelineSurvivesFunctionKill(t *testing.T) {
	p := newPipeline(t)
	p.startFunction()
	r, code := p.runDisrupted(func() {
		time.Sleep(5 * time.Second)
		p.stopFunction(syscallKill)
		time.Sleep(2 * time.Second)
		p.startFunction()
	}, "--profile", "constant", "--rate", "300", "--duration", "15s", "--format", "cloudevent")
	checkNothingLost(t, r, code, 4500)
	t.Logf("duplicates after SIGKILL: %d (exact repeats, at-least-once)", r.Delivery.Duplicates)
}

func TestKafkaPipelineSurvivesBrokerRestart(t *testing.T) {
	script := os.Getenv("KAFKA_SH")
	if script == "" {
		if os.Getenv("KAFKA_REQUIRED") != "" {
			t.Fatal("KAFKA_SH (the broker script) is not set: cannot restart the broker")
		}
		t.Skip("KAFKA_SH not set: make test-kafka runs this")
	}
	p := newPipeline(t)
	p.startFunction()
	broker := func(verb string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, script, verb).CombinedOutput()
		if err != nil {
			t.Errorf("kafka.sh %s: %v\n%s", verb, err, out)
		}
	}
	r, code := p.runDisrupted(func() {
		time.Sleep(5 * time.Second)
		broker("stop")
		time.Sleep(3 * time.Second)
		broker("start")
	}, "--profile", "constant", "--rate", "300", "--duration", "15s")
	checkNothingLost(t, r, code, 4500)
	t.Logf("duplicates after the broker restart: %d; producer p99 %.0f ms", r.Delivery.Duplicates, r.Phases[0].Latency.P99)
}

// In the HTTP transport (KafkaSource's path) the function publishes the same predictions, acknowledged
// by Kafka before it answers: every 2xx the load generator counts must have its prediction.
func TestKafkaPredictionsFromTheHTTPTransport(t *testing.T) {
	p := newPipeline(t)
	p.startFunctionWith("FUNC_TRANSPORT=http")
	url := "http://" + p.listenAddress() + "/"
	r, code := p.loadgen("--target", "http", "--url", url, "--format", "cloudevent", "--phases", "200:5s")
	checkNothingLost(t, r, code, 1000)
}

// listenAddress waits for the function's "listening" log line and returns its address.
func (p *pipeline) listenAddress() string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		logs := p.logs.String()
		p.mu.Unlock()
		for _, line := range strings.Split(logs, "\n") {
			var l struct {
				Msg     string `json:"msg"`
				Address string `json:"address"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.Address != "" {
				return l.Address
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatal("the function did not log its listen address within 30 s")
	return ""
}
