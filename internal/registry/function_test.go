package registry

// The real function binary following models:/fraud-detector@champion on a real MLflow server:
// it swaps to a newly promoted champion under a steady /predict load with no failed request and
// every response scored wholly by the version it names; a corrupted champion and an unreachable
// registry leave it serving the old model, counted and logged.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/model"
	"function/internal/proctest"
	"function/internal/simulate"
	"function/internal/txn"
)

// runningFunction is the fraud-detector binary serving on a loopback port.
type runningFunction struct {
	URL string
	log *syncBuffer
}

// startFunction builds ./function/cmd/fraud-detector (the entrypoint `make run` and the image
// use) and runs it with env until the test ends.
func startFunction(t *testing.T, env ...string) *runningFunction {
	t.Helper()
	bin := proctest.Build(t, proctest.Function)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append([]string{"LISTEN_ADDRESS=127.0.0.1:0", "EVENT_CLOCK=stream"}, env...)...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := regexp.MustCompile(`"msg":"listening","address":"([^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := addr.FindStringSubmatch(log.String()); m != nil {
			f := &runningFunction{URL: "http://" + m[1], log: log}
			for time.Now().Before(deadline) {
				if resp, err := http.Get(f.URL + "/health/readiness"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return f
					}
				}
				select {
				case <-done:
					t.Fatalf("function exited; its log:\n%s", log.String())
				case <-time.After(100 * time.Millisecond):
				}
			}
			t.Fatalf("function not ready after 30s; its log:\n%s", log.String())
		}
		select {
		case <-done:
			t.Fatalf("function exited; its log:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("function did not log its address; its log:\n%s", log.String())
		}
	}
}

// metric reads one sample from /metrics, 0 if absent.
func (f *runningFunction) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(f.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return x
		}
	}
	return 0
}

// prediction is the part of a /predict reply the test checks.
type prediction struct {
	TransactionID    string  `json:"transaction_id"`
	FraudProbability float64 `json:"fraud_probability"`
	Threshold        float64 `json:"threshold"`
	ModelVersion     string  `json:"model_version"`
}

// scored is one request of the load and its outcome.
type scored struct {
	tx     txn.Transaction
	status int
	err    error
	pred   prediction
}

// worker sends its transactions one after another (keep-alive) at a steady pace until stop
// closes or they run out, and records every outcome in order.
func worker(url string, txs []txn.Transaction, every time.Duration, stop <-chan struct{}) []scored {
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var out []scored
	for _, tx := range txs {
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
		s := scored{tx: tx}
		resp, err := client.Post(url+"/predict", "application/json", bytes.NewReader(txn.AppendJSON(nil, &tx)))
		if err != nil {
			s.err = err
		} else {
			s.status = resp.StatusCode
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if s.status == http.StatusOK {
				s.err = json.Unmarshal(body, &s.pred)
			} else {
				s.err = fmt.Errorf("HTTP %d: %s", s.status, body)
			}
		}
		out = append(out, s)
	}
	return out
}

// partitions splits a simulated stream into streams that share no customer and no terminal, so
// each one's features depend only on its own order and can be recomputed exactly.
func partitions(t *testing.T, n int) [][]txn.Transaction {
	t.Helper()
	cfg := simulate.DefaultConfig(7)
	cfg.Customers, cfg.Terminals, cfg.Days = 400, 800, 60
	sim, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([][]txn.Transaction, n)
	for {
		tx, ok := sim.Next()
		if !ok {
			break
		}
		// Round-trip through JSON so the local replay sees exactly what the function decodes.
		dec, err := txn.DecodeJSON(txn.AppendJSON(nil, &tx))
		if err != nil {
			t.Fatal(err)
		}
		if i := int(tx.CustomerID % int64(n)); tx.TerminalID%int64(n) == int64(i) {
			parts[i] = append(parts[i], dec)
		}
	}
	return parts
}

func mustParse(t *testing.T, b bundle) *model.Model {
	t.Helper()
	m, err := model.Parse(b.txt, b.meta)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withThreshold gives b another decision threshold (metadata only; the checksum still holds).
func withThreshold(t *testing.T, b bundle, thr float64) bundle {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b.meta, &m); err != nil {
		t.Fatal(err)
	}
	m["threshold"] = thr
	meta, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return bundle{txt: b.txt, meta: meta}
}

func TestFunctionFollowsChampion(t *testing.T) {
	srv := startMLflow(t)
	a := newAdmin(t, srv.URL)
	b1 := withThreshold(t, builtinBundle(t), 0.5)
	b2 := withThreshold(t, variant(t, b1, "9"), 0.4)
	models := map[string]*model.Model{}
	v1 := a.register(b1)
	v2 := a.register(b2)
	models[v1], models[v2] = mustParse(t, b1), mustParse(t, b2)
	a.promote(v1)

	fn := startFunction(t,
		"MODEL_URI=models:/fraud-detector@champion",
		"MLFLOW_TRACKING_URI="+srv.URL,
		"MODEL_POLL_INTERVAL=1s")
	if got := fn.metric(t, fmt.Sprintf(`ml_model_info{model_name="fraud-detector",model_version=%q}`, v1)); got != 1 {
		t.Fatalf("ml_model_info for version %s = %v after start, want 1", v1, got)
	}

	// The function bounds event time by the stream's watermark (EVENT_CLOCK=stream): the checks
	// after the load send transactions dated at the load's latest.
	var lastAt time.Time
	t.Run("swap under load", func(t *testing.T) {
		const workers = 3 // 250 requests/s each
		parts := partitions(t, workers)
		stop := make(chan struct{})
		results := make([][]scored, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = worker(fn.URL, parts[i], 4*time.Millisecond, stop) }()
		}
		time.Sleep(2 * time.Second) // steady load on v1 first
		promoted := time.Now()
		a.promote(v2)
		// Within a few poll intervals the function must be on v2; then keep the load a while.
		deadline := time.Now().Add(20 * time.Second)
		for fn.metric(t, fmt.Sprintf(`ml_model_info{model_name="fraud-detector",model_version=%q}`, v2)) != 1 {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("function still not on version %s 20s after promotion; log:\n%s", v2, fn.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		switched := time.Since(promoted)
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()

		total, perVersion := 0, map[string]int{}
		for w, res := range results {
			// Replay this worker's stream locally and score it with the model each reply names:
			// the function's probability must be exactly that model's, with its threshold.
			store := features.NewMemory()
			seenV2 := false
			for i, s := range res {
				if s.tx.Time.After(lastAt) {
					lastAt = s.tx.Time
				}
				if s.err != nil {
					t.Fatalf("worker %d request %d (%s): %v", w, i, s.tx.ID, s.err)
				}
				var v features.Vector
				if err := store.Record(context.Background(), &s.tx, func(c *features.CustomerHistory, th *features.TerminalHistory) {
					features.Compute(&v, &s.tx, c, th)
				}); err != nil {
					t.Fatal(err)
				}
				m, ok := models[s.pred.ModelVersion]
				if !ok {
					t.Fatalf("worker %d request %d labelled with unknown version %q", w, i, s.pred.ModelVersion)
				}
				if want := m.Probability(&v); s.pred.FraudProbability != want || s.pred.Threshold != m.Meta.Threshold {
					t.Fatalf("worker %d request %d labelled %s: probability %v threshold %v, that model gives %v threshold %v",
						w, i, s.pred.ModelVersion, s.pred.FraudProbability, s.pred.Threshold, want, m.Meta.Threshold)
				}
				if s.pred.ModelVersion == v2 {
					seenV2 = true
				} else if seenV2 {
					t.Fatalf("worker %d request %d scored by %s after %s had answered", w, i, s.pred.ModelVersion, v2)
				}
				perVersion[s.pred.ModelVersion]++
				total++
			}
		}
		if perVersion[v1] == 0 || perVersion[v2] == 0 {
			t.Fatalf("per version %v: the load did not straddle the swap", perVersion)
		}
		t.Logf("%d requests, 0 errors, per version %v; switched %v after promotion", total, perVersion, switched.Round(time.Millisecond))
		if got := fn.metric(t, fmt.Sprintf(`ml_model_info{model_name="fraud-detector",model_version=%q}`, v1)); got != 0 {
			t.Fatalf("ml_model_info still 1 for the old version %s", v1)
		}
	})

	t.Run("corrupted champion is rejected", func(t *testing.T) {
		bad := variant(t, b2, "3")
		bad.txt = bytes.Replace(bad.txt, []byte("leaf_value="), []byte("leaf_value=x"), 1) // checksum now wrong
		v3 := a.register(bad)
		before := fn.metric(t, `ml_model_errors_total{reason="model_invalid"}`)
		a.promote(v3)
		waitFor(t, 15*time.Second, func() bool {
			return fn.metric(t, `ml_model_errors_total{reason="model_invalid"}`) > before
		}, "ml_model_errors_total{reason=model_invalid} to grow")
		expectServing(t, fn, v2, lastAt)
		if !strings.Contains(fn.log.String(), `"reason":"model_invalid"`) {
			t.Fatalf("no model_invalid reload failure in the log:\n%s", fn.log.String())
		}
		a.promote(v2)
	})

	t.Run("registry unreachable", func(t *testing.T) {
		srv.Stop()
		before := fn.metric(t, `ml_model_errors_total{reason="model_registry_unavailable"}`)
		waitFor(t, 15*time.Second, func() bool {
			return fn.metric(t, `ml_model_errors_total{reason="model_registry_unavailable"}`) > before
		}, "ml_model_errors_total{reason=model_registry_unavailable} to grow")
		expectServing(t, fn, v2, lastAt)
		if !strings.Contains(fn.log.String(), `"reason":"model_registry_unavailable"`) {
			t.Fatalf("no model_registry_unavailable reload failure in the log:\n%s", fn.log.String())
		}
	})
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectServing checks that /predict still answers, scored by version; the transactions are dated at.
func expectServing(t *testing.T, fn *runningFunction, version string, at time.Time) {
	t.Helper()
	body := `{"transaction_id":"after-%d","tx_datetime":%q,"customer_id":1,"terminal_id":2,"tx_amount":42.5}`
	for i := range 5 {
		resp, err := http.Post(fn.URL+"/predict", "application/json", strings.NewReader(fmt.Sprintf(body, i, at.UTC().Format("2006-01-02 15:04:05"))))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p prediction
		if err == nil {
			err = json.Unmarshal(raw, &p)
		}
		if resp.StatusCode != http.StatusOK || err != nil || p.ModelVersion != version {
			t.Fatalf("/predict: HTTP %d (%.300s), %v, version %q; want 200 from version %s", resp.StatusCode, raw, err, p.ModelVersion, version)
		}
	}
}
