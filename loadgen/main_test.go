package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/scoring"
	"function/internal/txn"
	"function/loadgen/pace"
	"function/loadgen/sink"
)

func TestBadFlagsGiveUsageErrors(t *testing.T) {
	t.Setenv("LABEL_HMAC_KEY", "")
	tests := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":          {[]string{"--bogus"}, "flag provided but not defined"},
		"unknown profile":       {[]string{"--profile", "storm"}, `--profile "storm"`},
		"constant without rate": {[]string{"--profile", "constant", "--duration", "1s"}, "needs --rate and --duration"},
		"bad phases":            {[]string{"--phases", "50:2m,fast:1m"}, "--phases"},
		"phases with profile":   {[]string{"--profile", "attack", "--phases", "5:1s"}, "exclude each other"},
		"bad attack durations":  {[]string{"--attack-durations", "1s,2s"}, "want 1 or 4"},
		"bad format":            {[]string{"--format", "xml", "--phases", "5:1s"}, "--format"},
		"http without url":      {[]string{"--target", "http", "--phases", "5:1s"}, "needs --url"},
		"bad target":            {[]string{"--target", "smtp", "--phases", "5:1s"}, "--target"},
		"bad acks":              {[]string{"--acks", "2", "--phases", "5:1s"}, "--acks"},
		"idempotent needs acks": {[]string{"--acks", "1", "--phases", "5:1s"}, "--idempotent needs --acks all"},
		"bad brokers":           {[]string{"--brokers", "localhost", "--phases", "5:1s"}, "host:port"},
		"missing dataset":       {[]string{"--source", "/nonexistent.csv", "--phases", "5:1s"}, "--source"},
		"stray argument":        {[]string{"--phases", "5:1s", "extra"}, "unexpected arguments"},
		"bad clock":             {[]string{"--clock", "utc", "--phases", "5:1s"}, "--clock"},
		"labels on wall clock":  {[]string{"--clock", "wall", "--labels", "--phases", "5:1s"}, "--labels needs --clock sim"},
		"labels without key":    {[]string{"--labels", "--phases", "5:1s"}, "--labels needs LABEL_HMAC_KEY"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != exitOK || !strings.Contains(stderr.String(), "--profile attack") {
		t.Errorf("-h: exit %d, usage %q", code, stderr.String())
	}
}

// HTTP mode POSTs binary CloudEvents at the profile's rate and reports per phase as text and JSON.
func TestHTTPTargetSendsCloudEvents(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tx struct {
			ID string `json:"transaction_id"`
		}
		if r.Header.Get("Ce-Type") != sink.TransactionType || r.Header.Get("Ce-Specversion") != "1.0" ||
			json.NewDecoder(r.Body).Decode(&tx) != nil || tx.ID != r.Header.Get("Ce-Id") {
			bad.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		ids[tx.ID] = true
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	report := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--target", "http", "--url", srv.URL, "--format", "cloudevent", "--phases", "100:1s,200:1s",
		"--report", report, "--id-prefix", "h-"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if bad.Load() != 0 || len(ids) != 300 {
		t.Fatalf("server saw %d distinct transactions and %d bad requests, want 300 and 0", len(ids), bad.Load())
	}
	var r pace.Report
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 2 || r.Phases[0].Acked != 100 || r.Phases[1].Acked != 200 || r.Total.Errors != 0 {
		t.Errorf("report %+v", r)
	}
	if !strings.Contains(stdout.String(), "achieved/s") || !strings.Contains(stderr.String(), "phase 2/2") {
		t.Errorf("no text report or progress line:\n%s\n%s", stdout.String(), stderr.String())
	}
}

// --clock wall dates each transaction when it is sent (live traffic); the default keeps the
// simulator's 2018 times.
func TestWallClockDatesTransactionsWhenSent(t *testing.T) {
	for _, tc := range []struct {
		clock string
		want  func(time.Time) bool
	}{
		{"wall", func(d time.Time) bool { return time.Since(d) < time.Minute && time.Since(d) > -time.Second }},
		{"sim", func(d time.Time) bool { return d.Year() == 2018 }},
	} {
		var mu sync.Mutex
		var dates []time.Time
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var tx struct {
				Date string `json:"tx_datetime"`
			}
			_ = json.NewDecoder(r.Body).Decode(&tx)
			d, err := time.Parse(time.DateTime, tx.Date)
			if err != nil {
				t.Errorf("tx_datetime %q: %v", tx.Date, err)
			}
			mu.Lock()
			dates = append(dates, d)
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}))
		var stdout, stderr bytes.Buffer
		code := run([]string{"--target", "http", "--url", srv.URL + "/predict", "--phases", "50:1s", "--clock", tc.clock, "--quiet"}, &stdout, &stderr)
		srv.Close()
		if code != exitOK || len(dates) != 50 {
			t.Fatalf("--clock %s: exit %d, %d transactions\n%s", tc.clock, code, len(dates), stderr.String())
		}
		for _, d := range dates {
			if !tc.want(d) {
				t.Errorf("--clock %s: tx_datetime %s", tc.clock, d)
				break
			}
		}
	}
}

// HTTP error statuses count as errors of their phase, in the report and in the metrics.
func TestHTTPErrorsAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--target", "http", "--url", srv.URL, "--phases", "50:1s", "--quiet"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), "errors=50") {
		t.Errorf("report does not count 50 errors:\n%s", stdout.String())
	}
}

type listSource struct{ txs []txn.Transaction }

func (s *listSource) Next() (txn.Transaction, bool, error) {
	if len(s.txs) == 0 {
		return txn.Transaction{}, false, nil
	}
	t := s.txs[0]
	s.txs = s.txs[1:]
	return t, true, nil
}
func (s *listSource) Close() error { return nil }

type recordingSink struct{ records []sink.Record }

func (s *recordingSink) Send(_ context.Context, r sink.Record, done func(error)) error {
	s.records = append(s.records, r)
	done(nil)
	return nil
}
func (s *recordingSink) Close() error { return nil }

// A fraud's label goes out once simulated time has passed the 7-day delay, not before; the
// metrics count the transactions by phase.
func TestGeneratorReleasesLabelsAfterTheDelay(t *testing.T) {
	day0 := time.Date(2018, 4, 1, 10, 0, 0, 0, time.UTC)
	tx := func(id string, at time.Time, fraud bool) txn.Transaction {
		return txn.Transaction{ID: id, Time: at, CustomerID: 7, TerminalID: 9, Amount: 10, Fraud: fraud}
	}
	src := &listSource{txs: []txn.Transaction{
		tx("a", day0, true), tx("b", day0.Add(24*time.Hour), false), tx("c", day0.Add(7*24*time.Hour+time.Second), false),
	}}
	out := &recordingSink{}
	reg := prometheus.NewRegistry()
	key := []byte("loadgen-test-label-key-0123456789abcdef")
	g := &generator{cfg: &config{labels: true, labelKey: key}, src: src, sink: out, metrics: newMetrics(reg), stderr: &bytes.Buffer{}}
	var types []string
	for i := 0; i < 3; i++ {
		if err := g.Send(context.Background(), int64(i), time.Now(), func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range out.records {
		typ := "plain"
		if r.CE != nil {
			typ = r.CE.Type
		}
		types = append(types, typ)
	}
	want := []string{"plain", "plain", sink.LabelType, "plain"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("records %v, want %v", types, want)
	}
	var l struct {
		ID    string `json:"transaction_id"`
		Fraud int    `json:"tx_fraud"`
	}
	if err := json.Unmarshal(out.records[2].Value, &l); err != nil || l.ID != "a" || l.Fraud != 1 {
		t.Errorf("label %s (%v), want transaction a, fraud", out.records[2].Value, err)
	}
	// The function's own check accepts the signature (and it is not valid under another key).
	decoded, err := txn.DecodeLabelJSON(out.records[2].Value)
	if err != nil {
		t.Fatal(err)
	}
	sig := out.records[2].CE.LabelSignature
	if err := scoring.VerifyLabel(key, &decoded, sig); err != nil {
		t.Errorf("labelsignature %q: %v", sig, err)
	}
	if scoring.VerifyLabel([]byte("another-key-another-key-another-key!"), &decoded, sig) == nil {
		t.Error("the signature verifies under another key")
	}
	if got := testutil.ToFloat64(g.metrics.sent.WithLabelValues("1")); got != 3 {
		t.Errorf("loadgen_sent_total{phase=1} = %v, want 3", got)
	}
}

func TestMetricsAreNamedAsAgreed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.sent.WithLabelValues("1").Inc()
	m.errors.WithLabelValues("1").Inc()
	names := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"loadgen_sent_total", "loadgen_errors_total", "loadgen_target_tps", "loadgen_achieved_tps", "loadgen_phase"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
