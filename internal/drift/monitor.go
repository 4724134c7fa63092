package drift

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"function/internal/features"
)

// Defaults of the rolling window: the last 100,000 scored transactions in 20 segments, so the
// gauges move every 5,000 (at 50 TPS every 100 s, the window spanning 33 minutes; at 1,500 TPS
// every 3 s). Sampling noise on a window this size is about (bins − 1)/window ≈ 0.0001 of PSI.
const (
	DefaultWindow   = 100000
	DefaultSegments = 20
)

// Calendar features follow the clock, not the population: a window shorter than a week holds
// weekend traffic or none, one shorter than a day night traffic or none, and their PSI swings
// with the time of day. Their gauges are exported; the drift alert leaves them out.
var Calendar = map[string]bool{"TX_DURING_WEEKEND": true, "TX_DURING_NIGHT": true}

// scoreHist is the score histogram's index among a segment's histograms, after the features'.
const scoreHist = features.Count // index of the score's histogram in a segment

// Monitor keeps rolling histograms of the live features and scores in the reference's bins and
// exports their PSI against the reference as gauges:
//
//	ml_model_feature_psi{model_version, feature}   one per model input (features.Names)
//	ml_model_score_psi{model_version}
//
// The window is a ring of segments; when one fills, the gauges are recomputed over all of them
// and the oldest is cleared. Before the first segment fills, and for a model without a
// reference, no gauge exists (an alert cannot fire on a few transactions). Safe for concurrent
// use; Observe takes a mutex for about 16 bin searches.
type Monitor struct {
	featurePSI *prometheus.GaugeVec
	scorePSI   *prometheus.GaugeVec

	mu       sync.Mutex
	ref      *Reference
	version  string
	segSize  int
	segments [][]uint64 // per segment: every histogram's bins, concatenated
	offsets  [features.Count + 2]int
	cur, n   int                         // current segment, observations in it
	filled   int                         // complete segments so far (up to len(segments))
	last     [features.Count + 1]float64 // the PSI values the gauges show, the score's last
}

// Option configures a Monitor.
type Option func(*Monitor)

// WithWindow sets the window (observations) and the number of segments it rotates in.
func WithWindow(observations, segments int) Option {
	return func(m *Monitor) {
		if segments > 0 && observations >= segments {
			m.segSize = observations / segments
			m.segments = make([][]uint64, segments)
		}
	}
}

// SetWindow resizes the window (as WithWindow) and restarts it; the gauges stay until the next
// segment fills.
func (m *Monitor) SetWindow(observations, segments int) {
	m.mu.Lock()
	WithWindow(observations, segments)(m)
	ref, version := m.ref, m.version
	m.mu.Unlock()
	m.SetModel(version, ref)
}

// NewMonitor registers the PSI gauges on reg. It observes nothing until SetModel.
func NewMonitor(reg prometheus.Registerer, opts ...Option) *Monitor {
	m := &Monitor{
		featurePSI: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ml_model_feature_psi",
			Help: "Population stability index of each model input over the last scored transactions against the model's training window (bins stored with the model); > 0.25 is a significant shift.",
		}, []string{"model_version", "feature"}),
		scorePSI: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ml_model_score_psi",
			Help: "Population stability index of the fraud probability over the last scored transactions against the model's training window; > 0.25 is a significant shift.",
		}, []string{"model_version"}),
	}
	WithWindow(DefaultWindow, DefaultSegments)(m)
	for _, o := range opts {
		o(m)
	}
	reg.MustRegister(m.featurePSI, m.scorePSI)
	return m
}

// SetModel starts watching against ref for the model version (nil: stop watching). The window
// restarts, and the previous version's gauges are removed, so the labels stay bounded by the
// one model served. Transactions in flight with the old model may land in the new window.
func (m *Monitor) SetModel(version string, ref *Reference) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.featurePSI.Reset()
	m.scorePSI.Reset()
	m.ref, m.version = ref, version
	m.cur, m.n, m.filled = 0, 0, 0
	if ref == nil {
		return
	}
	off := 0
	for i := range features.Count {
		m.offsets[i] = off
		off += ref.Features[i].Bins()
	}
	m.offsets[scoreHist] = off
	off += ref.Score.Bins()
	m.offsets[scoreHist+1] = off
	for i := range m.segments {
		m.segments[i] = make([]uint64, off)
	}
}

// Observe counts one scored transaction: its features and its fraud probability.
func (m *Monitor) Observe(v *features.Vector, probability float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ref == nil {
		return
	}
	seg := m.segments[m.cur]
	for i := range features.Count {
		seg[m.offsets[i]+m.ref.Features[i].Bin(v[i])]++
	}
	seg[m.offsets[scoreHist]+m.ref.Score.Bin(probability)]++
	m.n++
	if m.n < m.segSize {
		return
	}
	m.filled = min(m.filled+1, len(m.segments))
	m.publish()
	m.cur = (m.cur + 1) % len(m.segments)
	m.n = 0
	clear(m.segments[m.cur])
}

// publish sets the gauges from the complete segments (the current one is complete when called).
func (m *Monitor) publish() {
	counts := make([]uint64, m.offsets[scoreHist+1])
	for k := range m.filled {
		seg := m.segments[(m.cur-k+len(m.segments))%len(m.segments)]
		for i, c := range seg {
			counts[i] += c
		}
	}
	for i := range features.Count {
		m.last[i] = PSI(m.ref.Features[i].Fractions, counts[m.offsets[i]:m.offsets[i+1]])
		m.featurePSI.WithLabelValues(m.version, features.Names[i]).Set(m.last[i])
	}
	m.last[scoreHist] = PSI(m.ref.Score.Fractions, counts[m.offsets[scoreHist]:])
	m.scorePSI.WithLabelValues(m.version).Set(m.last[scoreHist])
}

// Snapshot is the PSI of each feature and of the score as the gauges last showed them; ok is
// false before a segment has filled.
func (m *Monitor) Snapshot() (feature [features.Count]float64, score float64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ref == nil || m.filled == 0 {
		return feature, 0, false
	}
	copy(feature[:], m.last[:features.Count])
	return feature, m.last[scoreHist], true
}
