package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"function/internal/proctest"
	"function/observability/dashboard"
	"function/observability/rules"
)

// start runs a command until the test ends, then stops it with SIGTERM (SIGKILL after 10 s). The
// returned channel is closed if the process exits early.
func start(t *testing.T, logName string, env []string, name string, args ...string) <-chan struct{} {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s log (tail):\n%s", logName, tail(string(out), 3000))
			}
		}
	})
	return exited
}

// ready waits for url to answer 200 while the process behind it runs.
func ready(t *testing.T, what, u string, exited <-chan struct{}) {
	t.Helper()
	eventually(t, 60*time.Second, what, func() error {
		select {
		case <-exited:
			t.Fatalf("%s: the process exited", what)
		default:
		}
		code, _, err := httpGet(u)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("HTTP %d", code)
		}
		return nil
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// eventually polls f every 250 ms until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func httpGet(u string) (int, []byte, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// promAPI calls a Prometheus HTTP API path and decodes the data of a successful answer into v.
func promAPI(base, path string, params url.Values, v any) error {
	u := base + path
	if params != nil {
		u += "?" + params.Encode()
	}
	code, body, err := httpGet(u)
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: HTTP %d, %w: %s", path, code, err, tail(string(body), 300))
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s %s", path, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, v)
}

type vectorResult struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	} `json:"result"`
}

// instant evaluates a query now and returns its samples' values.
func instant(base, q string) ([]float64, error) {
	var r vectorResult
	if err := promAPI(base, "/api/v1/query", url.Values{"query": {q}}, &r); err != nil {
		return nil, err
	}
	var out []float64
	for _, s := range r.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %w", q, s.Value[1], err)
		}
		out = append(out, v)
	}
	return out, nil
}

func post(t *testing.T, u, body string) int {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestPrometheusScrapesFunction: the real function, some /predict calls, and a real Prometheus
// server on loopback with the rules loaded. The target is up, predictions are counted, every rule
// evaluates without error, the recording rules see the function's series, and every dashboard
// query is accepted by the server.
func TestPrometheusScrapesFunction(t *testing.T) {
	requireTools(t, "prometheus", "go")
	if _, err := os.Stat(filepath.Join(repoRoot, "function/cmd/fraud-detector")); err != nil {
		t.Fatalf("the function's entrypoint is missing: %v", err)
	}
	dir := t.TempDir()
	ns := deployNamespace(t) // the label the PodMonitor's targets carry

	// --- the function, built and run as `make run` would
	bin := proctest.Build(t, proctest.Function)
	loadgenBin := proctest.Build(t, "loadgen")
	fnAddr := proctest.FreeAddr(t)
	fnExited := start(t, "fraud-detector.log", []string{"LISTEN_ADDRESS=" + fnAddr, "EVENT_CLOCK=stream", /* the load generator replays 2018 */
		"DRIFT_WINDOW=40" /* the PSI gauges appear after 2 transactions, for the dashboard's queries */}, bin)
	fnURL := "http://" + fnAddr
	ready(t, "function ready", fnURL+"/health/readiness", fnExited)
	// --- Prometheus with the rules of the PrometheusRule; groups evaluate every 2 s here instead of
	// 30 s so that the test sees several evaluations (the expressions are unchanged).
	f := loadRules(t)
	for i := range f.Spec.Groups {
		f.Spec.Groups[i].Interval = "2s"
	}
	rulesPath := writeRules(t, f, dir)
	promAddr := proctest.FreeAddr(t)
	loadgenAddr := proctest.FreeAddr(t)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 2s
rule_files: [%q]
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [%q]
  - job_name: fraud-detector
    static_configs:
      - targets: [%q]
        labels:
          namespace: %s
  - job_name: loadgen
    static_configs:
      - targets: [%q]
`, rulesPath, promAddr, fnAddr, ns, loadgenAddr)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runTool(t, dir, "promtool", "check", "config", configPath); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	promExited := start(t, "prometheus.log", nil, "prometheus",
		"--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
	)
	prom := "http://" + promAddr
	ready(t, "prometheus ready", prom+"/-/ready", promExited)

	t.Run("target up", func(t *testing.T) {
		eventually(t, 30*time.Second, "up == 1", func() error {
			v, err := instant(prom, `up{job="fraud-detector"}`)
			if err != nil {
				return err
			}
			if len(v) != 1 || v[0] != 1 {
				return fmt.Errorf("up = %v", v)
			}
			return nil
		})
	})

	// Traffic while Prometheus scrapes, so that rates are not zero: spread over a few scrapes.
	for i := 1; i <= 5; i++ {
		tx := fmt.Sprintf(`{"transaction_id":"%d","tx_datetime":"2018-08-08 10:0%d:00","customer_id":1,"terminal_id":2,"tx_amount":42.5}`, i, i)
		if code := post(t, fnURL+"/predict", tx); code != http.StatusOK {
			t.Fatalf("POST /predict %s: HTTP %d", tx, code)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code := post(t, fnURL+"/predict", `{"transaction_id":"bad","tx_amount":"not a number"}`); code != http.StatusBadRequest {
		t.Fatalf("POST /predict with a bad transaction: HTTP %d, want 400", code)
	}

	// The load generator drives /predict at 10 TPS for the rest of the test; Prometheus scrapes it
	// as the loadgen PodMonitor would.
	start(t, "loadgen.log", nil, loadgenBin, "--target", "http", "--url", fnURL+"/predict",
		"--phases", "10:10m", "--max-runtime", "5m", "--metrics-addr", loadgenAddr, "--quiet")

	t.Run("predictions counted", func(t *testing.T) {
		eventually(t, 30*time.Second, "ml_model_predictions_total > 0", func() error {
			v, err := instant(prom, `sum(ml_model_predictions_total{job="fraud-detector"})`)
			if err != nil {
				return err
			}
			if len(v) != 1 || v[0] < 5 {
				return fmt.Errorf("sum(ml_model_predictions_total) = %v, want >= 5", v)
			}
			return nil
		})
	})

	t.Run("every listed function metric exists", func(t *testing.T) {
		eventually(t, 30*time.Second, "metric names", func() error {
			var names []string
			if err := promAPI(prom, "/api/v1/label/__name__/values", nil, &names); err != nil {
				return err
			}
			have := map[string]bool{}
			for _, n := range names {
				have[n] = true
			}
			var missing []string
			for _, n := range rules.FunctionMetrics {
				if !have[n] {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("the function does not export %v", missing)
			}
			return nil
		})
	})

	t.Run("rules evaluate without error", func(t *testing.T) {
		type ruleState struct {
			Name           string    `json:"name"`
			Health         string    `json:"health"`
			LastError      string    `json:"lastError"`
			LastEvaluation time.Time `json:"lastEvaluation"`
		}
		var groups struct {
			Groups []struct {
				Name  string      `json:"name"`
				Rules []ruleState `json:"rules"`
			} `json:"groups"`
		}
		eventually(t, 30*time.Second, "every rule evaluated", func() error {
			if err := promAPI(prom, "/api/v1/rules", nil, &groups); err != nil {
				return err
			}
			n := 0
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					n++
					if r.Health != "ok" || r.LastEvaluation.Year() < 2000 {
						return fmt.Errorf("%s/%s: health %q, last evaluation %s, error %q", g.Name, r.Name, r.Health, r.LastEvaluation, r.LastError)
					}
				}
			}
			if want := len(f.Alerts()) + len(f.Records()); n != want {
				return fmt.Errorf("%d rules loaded, want %d", n, want)
			}
			return nil
		})
		// an evaluation failure shows up in Prometheus's own counter too (it scrapes itself)
		eventually(t, 30*time.Second, "no rule evaluation failures", func() error {
			v, err := instant(prom, `sum(prometheus_rule_evaluation_failures_total{job="prometheus"})`)
			if err != nil {
				return err
			}
			if len(v) != 1 || v[0] != 0 {
				return fmt.Errorf("prometheus_rule_evaluation_failures_total = %v, want 0", v)
			}
			return nil
		})
	})

	t.Run("recording rules see the function", func(t *testing.T) {
		for _, q := range []string{
			fmt.Sprintf(`namespace:fraud_detector_http_requests:rate5m{namespace=%q} > 0`, ns),
			fmt.Sprintf(`namespace:fraud_detector_errors:ratio_rate5m{namespace=%q} >= 0`, ns), // 0: no 5xx, the 400 is the client's
			fmt.Sprintf(`namespace:fraud_detector_http_request_duration_seconds:p95_rate5m{namespace=%q} >= 0`, ns),
		} {
			eventually(t, 30*time.Second, q, func() error {
				v, err := instant(prom, q)
				if err != nil {
					return err
				}
				if len(v) != 1 {
					return fmt.Errorf("%d samples", len(v))
				}
				return nil
			})
		}
	})

	t.Run("dashboard queries run and show the function and loadgen", func(t *testing.T) {
		d, err := dashboard.Build()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		collectExprs(raw, &exprs)
		if len(exprs) == 0 {
			t.Fatal("no queries found in the dashboard")
		}
		mayBeEmpty := clusterDerived(t, f)
		// as Grafana would, with the namespace of the scraped function selected
		grafana := strings.NewReplacer("$__rate_interval", "1m", "$"+dashboard.NamespaceVariable, ns)
		for _, e := range exprs {
			names, err := rules.MetricNames(e)
			if err != nil {
				t.Fatal(err)
			}
			// without kube-state-metrics, cAdvisor or kafka-exporter here, only the panels on the
			// function's and loadgen's own series can show data; those must (lazy ones aside).
			needData := true
			for _, n := range names {
				if mayBeEmpty[n] {
					needData = false
				}
			}
			eventually(t, 30*time.Second, e, func() error {
				v, err := instant(prom, grafana.Replace(e))
				if err != nil {
					return err
				}
				if needData && len(v) == 0 {
					return fmt.Errorf("no data")
				}
				return nil
			})
		}
	})
}

// clusterDerived returns the cluster metrics, the lazy ones, and the recording rules computed from
// them: the queries that may show no data in this test.
func clusterDerived(t *testing.T, f *rules.File) map[string]bool {
	t.Helper()
	derived := map[string]bool{}
	for _, n := range append(append([]string(nil), rules.ClusterMetrics...), rules.LazyMetrics...) {
		derived[n] = true
	}
	for changed := true; changed; {
		changed = false
		for _, g := range f.Spec.Groups {
			for _, r := range g.Rules {
				if r.Record == "" || derived[r.Record] {
					continue
				}
				names, err := rules.MetricNames(r.Expr)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if derived[n] {
						derived[r.Record], changed = true, true
						break
					}
				}
			}
		}
	}
	return derived
}

// collectExprs finds every "expr" string in a JSON document.
func collectExprs(raw []byte, out *[]string) {
	var v any
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "expr" {
					*out = append(*out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
}
