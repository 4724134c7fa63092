// Package telemetry defines the function's Prometheus metrics (names fixed by the design) on a
// registry the caller passes in, and the HTTP middleware that counts requests.
package telemetry

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcome label values of ml_model_predictions_total.
const (
	OutcomeFraud = "fraud"
	OutcomeLegit = "legit"
)

// Metrics are the function's own series. Labels stay bounded: versions, routes, methods, status
// codes and a fixed set of error reasons, never ids or raw error text.
type Metrics struct {
	Predictions        *prometheus.CounterVec // model_version, outcome
	PredictionDuration prometheus.Histogram
	Errors             *prometheus.CounterVec // reason
	Requests           *prometheus.CounterVec // method, route, code
	RequestDuration    *prometheus.HistogramVec
	FraudProbability   prometheus.Histogram
	ModelInfo          *prometheus.GaugeVec   // model_name, model_version
	Shed               *prometheus.CounterVec // limit: ShedInFlight or ShedBufferedBytes
	InFlight           prometheus.Gauge
	BufferedBytes      prometheus.Gauge

	// current holds the prediction counters of the version SetModel named last, so that a
	// prediction of that version costs no label lookup.
	current atomic.Pointer[versionCounters]
}

type versionCounters struct {
	version      string
	fraud, legit prometheus.Counter
}

// Limit label values of http_requests_shed_total: which bound turned a request away.
const (
	ShedInFlight      = "in_flight"
	ShedBufferedBytes = "buffered_bytes"
)

// NewRegistry is a registry with the Go and process collectors, as /metrics serves it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New registers the metrics on reg. reasons are pre-created at zero so that error ratios exist
// before the first error.
func New(reg prometheus.Registerer, reasons ...string) *Metrics {
	m := &Metrics{
		Predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ml_model_predictions_total",
			Help: "Transactions scored, by model version and outcome (fraud or legit).",
		}, []string{"model_version", "outcome"}),
		PredictionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ml_model_prediction_duration_seconds",
			Help:    "Time to compute features and score one transaction.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05},
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ml_model_errors_total",
			Help: "Requests or events that failed, by reason.",
		}, []string{"reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route and status code.",
		}, []string{"method", "route", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"method", "route"}),
		FraudProbability: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ml_model_fraud_probability",
			Help:    "Distribution of fraud probabilities, to watch for drift.",
			Buckets: []float64{.05, .1, .15, .2, .25, .3, .35, .4, .45, .5, .55, .6, .65, .7, .75, .8, .85, .9, .95},
		}),
		ModelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ml_model_info",
			Help: "The model being served (value 1).",
		}, []string{"model_name", "model_version"}),
		Shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_shed_total",
			Help: "Scoring requests answered 503 + Retry-After because a bound was reached, by limit (in_flight: MAX_INFLIGHT, buffered_bytes: MAX_BUFFERED_BYTES).",
		}, []string{"limit"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "Scoring requests being served (bounded by MAX_INFLIGHT).",
		}),
		BufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_request_body_buffered_bytes",
			Help: "Request body bytes held in memory, all requests together (bounded by MAX_BUFFERED_BYTES).",
		}),
	}
	reg.MustRegister(m.Predictions, m.PredictionDuration, m.Errors, m.Requests, m.RequestDuration, m.FraudProbability, m.ModelInfo,
		m.Shed, m.InFlight, m.BufferedBytes)
	m.Shed.WithLabelValues(ShedInFlight)
	m.Shed.WithLabelValues(ShedBufferedBytes)
	for _, r := range reasons {
		m.Errors.WithLabelValues(r)
	}
	return m
}

// SetModel makes name/version the only ml_model_info series and pre-creates its prediction
// counters.
func (m *Metrics) SetModel(name, version string) {
	m.ModelInfo.Reset()
	m.ModelInfo.WithLabelValues(name, version).Set(1)
	m.current.Store(&versionCounters{version: version,
		fraud: m.Predictions.WithLabelValues(version, OutcomeFraud),
		legit: m.Predictions.WithLabelValues(version, OutcomeLegit)})
}

// ObservePrediction counts one scored transaction.
func (m *Metrics) ObservePrediction(version string, probability float64, fraud bool, took time.Duration) {
	if c := m.current.Load(); c != nil && c.version == version {
		if fraud {
			c.fraud.Inc()
		} else {
			c.legit.Inc()
		}
	} else {
		outcome := OutcomeLegit
		if fraud {
			outcome = OutcomeFraud
		}
		m.Predictions.WithLabelValues(version, outcome).Inc()
	}
	m.FraudProbability.Observe(probability)
	m.PredictionDuration.Observe(took.Seconds())
}

// Error counts one failure.
func (m *Metrics) Error(reason string) { m.Errors.WithLabelValues(reason).Inc() }

// Instrument counts and times h's requests under the fixed route label.
// The series of the route's most common answers (POST or GET, 200) are looked up on their first
// request and kept; any other method or code is looked up per request. No series is created
// before a request has it.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	type series struct {
		ok       prometheus.Counter
		duration prometheus.Observer
	}
	var post, get atomic.Pointer[series]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			method := boundedMethod(r.Method)
			var kept *atomic.Pointer[series]
			switch {
			case code != http.StatusOK:
			case method == http.MethodPost:
				kept = &post
			case method == http.MethodGet:
				kept = &get
			}
			if kept == nil {
				m.Requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
				m.RequestDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
				return
			}
			s := kept.Load()
			if s == nil {
				s = &series{m.Requests.WithLabelValues(method, route, "200"), m.RequestDuration.WithLabelValues(method, route)}
				kept.Store(s)
			}
			s.ok.Inc()
			s.duration.Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

// boundedMethod keeps the method label to the standard verbs.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
