package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsMove(t *testing.T) {
	reg := NewRegistry()
	m := New(reg, "invalid_input", "publish_failed")
	m.SetModel("fraud-detector", "v1")
	m.ObservePrediction("v1", 0.9, true, time.Millisecond)
	m.ObservePrediction("v1", 0.1, false, time.Millisecond)
	m.ObservePrediction("v1", 0.2, false, time.Millisecond)
	m.Error("invalid_input")

	checks := map[string]struct {
		got, want float64
	}{
		"fraud":          {testutil.ToFloat64(m.Predictions.WithLabelValues("v1", OutcomeFraud)), 1},
		"legit":          {testutil.ToFloat64(m.Predictions.WithLabelValues("v1", OutcomeLegit)), 2},
		"invalid input":  {testutil.ToFloat64(m.Errors.WithLabelValues("invalid_input")), 1},
		"publish failed": {testutil.ToFloat64(m.Errors.WithLabelValues("publish_failed")), 0},
		"info":           {testutil.ToFloat64(m.ModelInfo.WithLabelValues("fraud-detector", "v1")), 1},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.FraudProbability); n != 1 {
		t.Errorf("probability histogram has %d series", n)
	}

	m.SetModel("fraud-detector", "v2")
	if n := testutil.CollectAndCount(m.ModelInfo); n != 1 {
		t.Errorf("after a model swap ml_model_info has %d series, want 1", n)
	}
	// A prediction of the previous version (scored before the swap) still counts under its own.
	m.ObservePrediction("v1", 0.9, true, time.Millisecond)
	m.ObservePrediction("v2", 0.9, true, time.Millisecond)
	if got := testutil.ToFloat64(m.Predictions.WithLabelValues("v1", OutcomeFraud)); got != 2 {
		t.Errorf("v1 fraud = %v after the swap, want 2", got)
	}
	if got := testutil.ToFloat64(m.Predictions.WithLabelValues("v2", OutcomeFraud)); got != 1 {
		t.Errorf("v2 fraud = %v, want 1", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestInstrument(t *testing.T) {
	reg := NewRegistry()
	m := New(reg)
	h := m.Instrument("/predict", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("code") {
		case "400":
			http.Error(w, "bad", http.StatusBadRequest)
		case "none":
			// writes nothing: net/http answers 200
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	for _, q := range []string{"", "400", "400", "none"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/predict?code="+q, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/predict", nil))
	want := `
# HELP http_requests_total HTTP requests served, by method, route and status code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="OTHER",route="/predict"} 1
http_requests_total{code="200",method="POST",route="/predict"} 2
http_requests_total{code="400",method="POST",route="/predict"} 2
`
	if err := testutil.CollectAndCompare(m.Requests, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.RequestDuration); n != 2 {
		t.Errorf("duration series %d, want 2 (POST and OTHER)", n)
	}
}
