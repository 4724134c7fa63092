package drift_test

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/drift"
	"function/internal/features"
)

func TestBin(t *testing.T) {
	h := drift.Histogram{Edges: []float64{0, 1, 2.5}, Fractions: []float64{.25, .25, .25, .25}}
	cases := map[string]struct {
		x    float64
		want int
	}{
		"below the first edge": {-3, 0},
		"on an edge: its bin":  {0, 0},
		"just above an edge":   {math.Nextafter(0, 1), 1},
		"on the second edge":   {1, 1},
		"between":              {2, 2},
		"on the last edge":     {2.5, 2},
		"above every edge":     {1e9, 3},
		"NaN":                  {math.NaN(), 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := h.Bin(tc.x); got != tc.want {
				t.Errorf("Bin(%v) = %d, want %d", tc.x, got, tc.want)
			}
		})
	}
}

func TestPSI(t *testing.T) {
	cases := map[string]struct {
		ref    []float64
		counts []uint64
		want   float64
	}{
		"identical":  {[]float64{.5, .5}, []uint64{50, 50}, 0},
		"90/10":      {[]float64{.5, .5}, []uint64{90, 10}, .4*math.Log(.9/.5) - .4*math.Log(.1/.5)},
		"empty bin":  {[]float64{.5, .5}, []uint64{100, 0}, (1-.5)*math.Log(1/.5) + (drift.Epsilon-.5)*math.Log(drift.Epsilon/.5)},
		"new bin":    {[]float64{1, 0}, []uint64{50, 50}, (.5-1)*math.Log(.5) + (.5-drift.Epsilon)*math.Log(.5/drift.Epsilon)},
		"no traffic": {[]float64{.5, .5}, []uint64{0, 0}, math.NaN()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := drift.PSI(tc.ref, tc.counts)
			if math.IsNaN(tc.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("PSI = %v, want %v", got, tc.want)
			}
		})
	}
}

// uniformReference bins every feature and the score at 0.5: half the training rows each side.
func uniformReference() *drift.Reference {
	r := &drift.Reference{Window: "test", Rows: 100, Score: drift.Histogram{Edges: []float64{.5}, Fractions: []float64{.5, .5}}}
	for range features.Count {
		r.Features = append(r.Features, drift.Histogram{Edges: []float64{.5}, Fractions: []float64{.5, .5}})
	}
	return r
}

func TestReferenceValidate(t *testing.T) {
	cases := map[string]struct {
		edit func(*drift.Reference)
		want string
	}{
		"valid":           {func(*drift.Reference) {}, ""},
		"missing feature": {func(r *drift.Reference) { r.Features = r.Features[1:] }, fmt.Sprintf("%d feature histograms", features.Count-1)},
		"no edges":        {func(r *drift.Reference) { r.Score = drift.Histogram{Fractions: []float64{1}} }, "0 edges"},
		"fractions count": {func(r *drift.Reference) { r.Score.Fractions = []float64{1} }, "1 fractions for 2 bins"},
		"descending edges": {func(r *drift.Reference) {
			r.Features[3] = drift.Histogram{Edges: []float64{2, 1}, Fractions: []float64{.2, .3, .5}}
		}, "ascending"},
		"NaN edge":       {func(r *drift.Reference) { r.Features[0].Edges[0] = math.NaN() }, "finite"},
		"sum not 1":      {func(r *drift.Reference) { r.Features[0].Fractions[0] = .9 }, "sum"},
		"negative share": {func(r *drift.Reference) { r.Features[0].Fractions = []float64{-.5, 1.5} }, "outside"},
		"no rows":        {func(r *drift.Reference) { r.Rows = 0 }, "rows"},
		"too many bins": {func(r *drift.Reference) {
			h := drift.Histogram{}
			for i := range drift.MaxBins {
				h.Edges = append(h.Edges, float64(i))
				h.Fractions = append(h.Fractions, 1/float64(drift.MaxBins+1))
			}
			r.Score = drift.Histogram{Edges: h.Edges, Fractions: append(h.Fractions, 1/float64(drift.MaxBins+1))}
		}, "edges, want"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := uniformReference()
			tc.edit(r)
			err := r.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// vec is a feature vector with every input at x.
func vec(x float64) *features.Vector {
	var v features.Vector
	for i := range v {
		v[i] = x
	}
	return &v
}

func TestMonitorRollingWindow(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := drift.NewMonitor(reg, drift.WithWindow(100, 4)) // segments of 25
	psi := func(feature string) float64 {
		t.Helper()
		return testutil.ToFloat64(featureGauge(t, reg, "v1", feature))
	}
	m.Observe(vec(0), 0) // before SetModel: ignored
	m.SetModel("v1", uniformReference())
	for range 24 {
		m.Observe(vec(0), 0)
	}
	if n := testutil.CollectAndCount(reg, "ml_model_feature_psi", "ml_model_score_psi"); n != 0 {
		t.Fatalf("%d PSI series before a segment filled, want none", n)
	}
	m.Observe(vec(0), 0) // 25: all on the low side of every bin
	allLow := drift.PSI([]float64{.5, .5}, []uint64{25, 0})
	if n := testutil.CollectAndCount(reg, "ml_model_feature_psi"); n != features.Count {
		t.Fatalf("%d feature series, want %d", n, features.Count)
	}
	if got := psi("TX_AMOUNT"); math.Abs(got-allLow) > 1e-12 {
		t.Errorf("PSI %v, want %v", got, allLow)
	}
	// Three more segments alternating low and high (38 low, 37 high): the window is 63 % low.
	for i := range 75 {
		m.Observe(vec(float64(i%2)), float64(i%2))
	}
	if got, want := psi("TERMINAL_ID_RISK_30DAY_WINDOW"), drift.PSI([]float64{.5, .5}, []uint64{63, 37}); math.Abs(got-want) > 1e-12 {
		t.Errorf("after a full window: PSI %v, want %v", got, want)
	}
	// One more balanced segment pushes the all-low one out: the window is balanced again.
	for i := range 25 {
		m.Observe(vec(float64(i%2)), float64(i%2))
	}
	if got, want := psi("TX_AMOUNT"), drift.PSI([]float64{.5, .5}, []uint64{51, 49}); math.Abs(got-want) > 1e-12 {
		t.Errorf("after rotation: PSI %v, want %v", got, want)
	}
	_, score, ok := m.Snapshot()
	if !ok || math.Abs(score-psi("TX_AMOUNT")) > 1e-12 {
		t.Errorf("snapshot score PSI %v (%v)", score, ok)
	}
	// A new model: the old version's series go, the window restarts.
	m.SetModel("v2", uniformReference())
	if n := testutil.CollectAndCount(reg, "ml_model_feature_psi", "ml_model_score_psi"); n != 0 {
		t.Errorf("%d series right after the swap, want none", n)
	}
	for range 25 {
		m.Observe(vec(1), 1)
	}
	if n := testutil.CollectAndCount(reg, "ml_model_feature_psi", "ml_model_score_psi"); n != features.Count+1 {
		t.Errorf("%d series for v2, want %d (v1's must be gone)", n, features.Count+1)
	}
	m.SetModel("v3", nil) // a bundle without a reference
	for range 50 {
		m.Observe(vec(1), 1)
	}
	if n := testutil.CollectAndCount(reg, "ml_model_feature_psi", "ml_model_score_psi"); n != 0 {
		t.Errorf("%d series for a model without reference, want none", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func featureGauge(t *testing.T, reg *prometheus.Registry, version, feature string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ml_model_feature_psi" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model_version"] == version && labels["feature"] == feature {
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "copy"})
				g.Set(m.GetGauge().GetValue())
				return g
			}
		}
	}
	t.Fatalf("no ml_model_feature_psi{model_version=%q, feature=%q}", version, feature)
	return nil
}

func TestCalendarFeaturesAreInputs(t *testing.T) {
	for name := range drift.Calendar {
		found := false
		for _, n := range features.Names {
			found = found || n == name
		}
		if !found {
			t.Errorf("calendar feature %s is not a model input", name)
		}
	}
}

func TestSetWindowRestarts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := drift.NewMonitor(reg)
	m.SetModel("v1", uniformReference())
	m.SetWindow(40, 20) // segments of 2, as DRIFT_WINDOW=40
	m.Observe(vec(0), 0)
	if _, _, ok := m.Snapshot(); ok {
		t.Fatal("PSI after 1 of a 2-transaction segment")
	}
	m.Observe(vec(1), 1)
	if _, score, ok := m.Snapshot(); !ok || math.Abs(score) > 1e-12 {
		t.Errorf("after one balanced segment: score PSI %v (%v), want 0", score, ok)
	}
}

// A reference arrives in a model bundle (outside input): whatever JSON it is, it is refused or
// watched without panicking, and its PSI values are finite and not negative.
func FuzzReference(f *testing.F) {
	good, err := json.Marshal(uniformReference())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, 0.3, 0.7)
	f.Add([]byte(`{"rows":1,"features":[],"score":{"edges":[1],"fractions":[1,0]}}`), 1.0, 2.0)
	f.Add([]byte(strings.Replace(string(good), `"edges":[0.5]`, `"edges":[0.5,0.4]`, 1)), -1.0, 1e300)
	f.Fuzz(func(t *testing.T, data []byte, x, p float64) {
		var r drift.Reference
		if json.Unmarshal(data, &r) != nil || r.Validate() != nil {
			return
		}
		m := drift.NewMonitor(prometheus.NewRegistry(), drift.WithWindow(20, 20))
		m.SetModel("v", &r)
		m.Observe(vec(x), p)
		feat, score, ok := m.Snapshot()
		if !ok {
			t.Fatal("no PSI after a full segment")
		}
		for _, v := range append(feat[:], score) {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Fatalf("PSI %v", v)
			}
		}
	})
}

// TestBinIsSearchFloat64s: Bin answers what sort.SearchFloat64s does (the first edge >= x), at,
// between, below and above the edges.
func TestBinIsSearchFloat64s(t *testing.T) {
	for _, edges := range [][]float64{{0.5}, {-1, 0, 1}, {1, 2, 3, 4, 5, 6, 7, 8}, {0.001, 0.01, 0.1, 1, 10, 100, 1000}} {
		h := drift.Histogram{Edges: edges}
		var xs []float64
		for _, e := range edges {
			xs = append(xs, e, math.Nextafter(e, math.Inf(-1)), math.Nextafter(e, math.Inf(1)))
		}
		xs = append(xs, math.Inf(-1), math.Inf(1), -1e9, 1e9, 0)
		for _, x := range xs {
			if got, want := h.Bin(x), sort.SearchFloat64s(edges, x); got != want {
				t.Errorf("edges %v: Bin(%v) = %d, sort.SearchFloat64s says %d", edges, x, got, want)
			}
		}
	}
}
