package redisstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/model"
	"function/internal/proctest"
	"function/internal/scoring"
	"function/internal/txn"
)

// fnProcess is one fraud-detector process on a loopback port.
type fnProcess struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *os.File
}

func startFunction(t *testing.T, name, store, modelURI string) *fnProcess {
	t.Helper()
	p := newFunction(t, t.TempDir(), name, store, modelURI)
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			b, _ := os.ReadFile(p.log.Name())
			t.Logf("%s log (last 4 KiB):\n%s", name, tail(b, 4096))
		}
	})
	return p
}

// newFunction starts the function binary with its log in logDir and waits until it is ready;
// the caller stops it.
func newFunction(tb testing.TB, logDir, name, store, modelURI string) *fnProcess {
	tb.Helper()
	bin := proctest.Build(tb, proctest.Function)
	addr := proctest.FreeAddr(tb)
	log, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		tb.Fatalf("log file: %v", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS="+addr, "FEATURE_STORE="+store, "KAFKA_BROKERS=", "MODEL_URI="+modelURI, "EVENT_CLOCK=stream", "LABEL_HMAC_KEY="+processLabelKey)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &fnProcess{name: name, url: "http://" + addr, cmd: cmd, log: log}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(log.Name())
			tb.Fatalf("%s not ready after 30s: %v\n%s", name, err, tail(b, 4096))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM, as Kubernetes does, and kills after 10 s.
func (p *fnProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// reply is one HTTP answer of the function.
type reply struct {
	status     int
	body       []byte
	retryAfter string
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func (p *fnProcess) post(t *testing.T, path string, header http.Header, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	req.Header = header
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s%s: %v", p.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read reply of %s: %v", p.name, err)
	}
	return reply{status: resp.StatusCode, body: b, retryAfter: resp.Header.Get("Retry-After")}
}

func (p *fnProcess) predict(t *testing.T, tr *txn.Transaction) reply {
	t.Helper()
	return p.post(t, "/predict", http.Header{"Content-Type": {"application/json"}}, txn.AppendJSON(nil, tr))
}

// processLabelKey is the LABEL_HMAC_KEY of the function processes.
const processLabelKey = "process-test-label-key-0123456789abcdef"

// label delivers a fraud.label.v1 CloudEvent in binary mode, as a Trigger or KafkaSource would.
func (p *fnProcess) label(t *testing.T, l *txn.Label) reply {
	t.Helper()
	body, err := json.Marshal(l)
	if err != nil {
		t.Fatalf("label JSON: %v", err)
	}
	h := http.Header{
		"Content-Type":   {"application/json"},
		"Ce-Specversion": {"1.0"},
		"Ce-Type":        {"fraud.label.v1"},
		"Ce-Source":      {"/redisstore-test"},
		"Ce-Id":          {"label-" + l.TransactionID},
		// The trusted labelling path signs every label (LABEL_HMAC_KEY).
		"Ce-" + scoring.LabelSignatureExtension: {scoring.SignLabel([]byte(processLabelKey), l)},
	}
	return p.post(t, "/", h, body)
}

func prediction(t *testing.T, who string, r reply) scoring.Prediction {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", who, r.status, r.body)
	}
	var p scoring.Prediction
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s: prediction %s: %v", who, r.body, err)
	}
	p.ScoredAt = time.Time{}
	return p
}

// unavailable checks a reply is the retriable 503 a store outage must give.
func unavailable(t *testing.T, who string, r reply) {
	t.Helper()
	var body struct{ Error, Reason string }
	if r.status != http.StatusServiceUnavailable || json.Unmarshal(r.body, &body) != nil ||
		body.Reason != "store_unavailable" || body.Error == "" || r.retryAfter == "" {
		t.Fatalf("%s during the outage: status %d, Retry-After %q, body %s; want 503 with reason store_unavailable", who, r.status, r.retryAfter, r.body)
	}
}

// TestTwoProcessesShareRedis: two function processes on one Redis, fed one interleaved stream
// (each transaction to one of them, labels too), give the same predictions as one process on the
// in-memory store, also across Redis outages: paused (nothing answers), then killed and restarted
// (it comes back from its append-only file, as a production Redis with persistence would).
// Deliveries that fail are retried as KafkaSource does, in order.
func TestTwoProcessesShareRedis(t *testing.T) {
	srv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	probe := writeProbeModel(t)
	a := startFunction(t, "redis-a", srv.URL(0), probe)
	b := startFunction(t, "redis-b", srv.URL(0), probe)
	mem := startFunction(t, "memory", "memory", probe)
	shared := [2]*fnProcess{a, b}

	stream := messyStream(t, 20)
	outageAt := map[int]struct {
		name     string
		down, up func()
	}{
		len(stream) / 3:     {"paused", srv.Pause, srv.Resume},
		2 * len(stream) / 3: {"killed", srv.Kill, srv.Start},
	}
	var txs, labels, nonZeroRisk, failed int
	probs := map[float64]bool{}
	for i, in := range stream {
		to := shared[i%2]
		deliver := func() reply {
			if in.label != nil {
				return to.label(t, in.label)
			}
			return to.predict(t, in.tx)
		}
		if o, ok := outageAt[i]; ok {
			o.down()
			start := time.Now()
			for range 3 {
				r := deliver()
				unavailable(t, to.name+" ("+o.name+")", r)
				failed++
			}
			t.Logf("redis %s at input %d: 503 store_unavailable, %v per attempt", o.name, i, (time.Since(start) / 3).Round(time.Millisecond))
			o.up()
		}
		if in.label != nil {
			labels++
			if r := deliver(); r.status >= 300 {
				t.Fatalf("label to %s: status %d: %s", to.name, r.status, r.body)
			}
			if r := mem.label(t, in.label); r.status >= 300 {
				t.Fatalf("label to memory: status %d: %s", r.status, r.body)
			}
			continue
		}
		txs++
		got := prediction(t, to.name, deliver())
		want := prediction(t, mem.name, mem.predict(t, in.tx))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d, transaction %s:\n%s %+v\nmemory  %+v", i, in.tx.ID, to.name, got, want)
		}
		probs[got.FraudProbability] = true
		if in.tx.Time.Sub(stream[0].tx.Time) > 8*24*time.Hour {
			nonZeroRisk++
		}
	}
	if len(probs) < txs/3 || labels == 0 || failed != 6 {
		t.Fatalf("test too tame: %d distinct probabilities, %d labels, %d failed deliveries", len(probs), labels, failed)
	}
	t.Logf("%d transactions and %d labels over two processes on Redis: every prediction equal to the in-memory process's (%d distinct probabilities, %d past the label delay)",
		txs, labels, len(probs), nonZeroRisk)
}

// writeProbeModel writes a model bundle whose probability fingerprints the store's features (the
// bootstrap model looks at the amount only, so equal probabilities would prove nothing): one chain
// tree per customer and terminal feature, its leaf the bucket of the value (counts and run
// lengths by 1, averages by 0.5, risks by 0.005, amount ratios by 0.05, run ages by 0.25 days)
// times a weight of its own, so that any feature landing in another bucket moves the
// probability.
func writeProbeModel(t *testing.T) string {
	t.Helper()
	var m strings.Builder
	fmt.Fprintf(&m, "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=%d\nobjective=binary sigmoid:1\n", features.Count-1)
	m.WriteString("feature_names=" + strings.Join(features.Names[:], " ") + "\n\n")
	primes := []float64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59}
	for i, f := range []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19} {
		step, buckets := 1.0, 400 // counts, fraud run lengths
		switch {
		case f == 4 || f == 6 || f == 8: // average amounts
			step, buckets = 0.5, 1200
		case f == 10 || f == 12 || f == 14: // risks
			step, buckets = 0.005, 200
		case f >= 15 && f <= 17: // amount ratios
			step, buckets = 0.05, 400
		case f == 18: // fraud run age in days (-1 without one: the first bucket)
			step, buckets = 0.25, 160
		}
		w := 1e-6 * math.Sqrt(primes[i])
		var feat, thr, dt, left, right, leaves []string
		for k := range buckets {
			feat = append(feat, strconv.Itoa(f))
			thr = append(thr, strconv.FormatFloat((float64(k)+0.5)*step, 'g', -1, 64))
			dt = append(dt, "2")
			left = append(left, strconv.Itoa(^k))
			if k == buckets-1 {
				right = append(right, strconv.Itoa(^buckets))
			} else {
				right = append(right, strconv.Itoa(k+1))
			}
		}
		for k := range buckets + 1 {
			leaves = append(leaves, strconv.FormatFloat(float64(k)*w, 'g', -1, 64))
		}
		fmt.Fprintf(&m, "Tree=%d\nnum_leaves=%d\nnum_cat=0\nsplit_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\nis_linear=0\nshrinkage=1\n\n\n",
			i, buckets+1, strings.Join(feat, " "), strings.Join(thr, " "), strings.Join(dt, " "),
			strings.Join(left, " "), strings.Join(right, " "), strings.Join(leaves, " "))
	}
	m.WriteString("end of trees\n")
	txt := []byte(m.String())
	sum := sha256.Sum256(txt)
	meta, err := json.Marshal(model.Metadata{Name: "probe", Version: "test", FeatureNames: features.Names[:],
		Threshold: 0.5, ModelSHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if _, err := model.Parse(txt, meta); err != nil {
		t.Fatalf("probe model does not load: %v", err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{model.ModelFile: txt, model.MetadataFile: meta} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	return dir
}
