// Package drift compares what the function scores with what its model was trained on: the
// training window's distributions of each feature and of the score, binned at training time and
// stored with the model (Reference), against rolling histograms of the same bins online
// (Monitor), as a population stability index per feature and for the score.
package drift

import (
	"errors"
	"fmt"
	"math"

	"function/internal/features"
)

// Histogram is a binned distribution. Edges are the ascending upper bounds of all bins but the
// last, so there are len(Edges)+1 bins: x falls in bin i when Edges[i-1] < x <= Edges[i] (numpy's
// searchsorted(edges, x, side="left"), which training bins with). Fractions are the share of the
// training rows in each bin.
type Histogram struct {
	Edges     []float64 `json:"edges"`
	Fractions []float64 `json:"fractions"`
}

// Bin is the index of the bin x falls in. NaN, which no feature produces, counts in bin 0.
func (h *Histogram) Bin(x float64) int {
	if x != x {
		return 0
	}
	// sort.SearchFloat64s's answer (the first edge >= x) without its per-step closure call.
	lo, hi := 0, len(h.Edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.Edges[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Bins is the number of bins.
func (h *Histogram) Bins() int { return len(h.Edges) + 1 }

// MaxBins bounds a histogram from a model bundle (outside input): PSI is computed on every
// segment rotation, and a bundle cannot make that expensive.
const MaxBins = 64

func (h *Histogram) validate() error {
	if len(h.Edges) == 0 || len(h.Edges)+1 > MaxBins {
		return fmt.Errorf("%d edges, want 1..%d", len(h.Edges), MaxBins-1)
	}
	if len(h.Fractions) != len(h.Edges)+1 {
		return fmt.Errorf("%d fractions for %d bins", len(h.Fractions), len(h.Edges)+1)
	}
	for i, e := range h.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || i > 0 && !(e > h.Edges[i-1]) {
			return fmt.Errorf("edges not finite and strictly ascending at %d", i)
		}
	}
	sum := 0.0
	for _, f := range h.Fractions {
		if !(f >= 0 && f <= 1) {
			return fmt.Errorf("fraction %v outside [0, 1]", f)
		}
		sum += f
	}
	if math.Abs(sum-1) > 1e-6 {
		return fmt.Errorf("fractions sum to %v, want 1", sum)
	}
	return nil
}

// Reference is the training window's distributions, as training stores them in the model's
// metadata ("drift"): one histogram per model input, in features.Names order, and one of the
// fraud probability.
type Reference struct {
	Window   string      `json:"window"` // which rows, in words
	Rows     int         `json:"rows"`
	Features []Histogram `json:"features"`
	Score    Histogram   `json:"score"`
}

// ErrInvalid marks a reference that cannot be used.
var ErrInvalid = errors.New("invalid drift reference")

// Validate checks a reference read from a bundle.
func (r *Reference) Validate() error {
	if len(r.Features) != features.Count {
		return fmt.Errorf("%w: %d feature histograms, want %d", ErrInvalid, len(r.Features), features.Count)
	}
	for i := range r.Features {
		if err := r.Features[i].validate(); err != nil {
			return fmt.Errorf("%w: feature %s: %v", ErrInvalid, features.Names[i], err)
		}
	}
	if err := r.Score.validate(); err != nil {
		return fmt.Errorf("%w: score: %v", ErrInvalid, err)
	}
	if r.Rows <= 0 {
		return fmt.Errorf("%w: rows %d", ErrInvalid, r.Rows)
	}
	return nil
}

// Epsilon is the share an empty bin is given on either side, so that PSI stays finite when live
// traffic reaches a bin training never filled (or leaves one empty); the usual choice for PSI.
const Epsilon = 1e-4

// PSI is the population stability index of counts against the reference fractions:
// Σ (a − e)·ln(a / e) over the bins, a and e the live and reference shares (each at least
// Epsilon). 0 for identical distributions; the credit-scoring convention reads < 0.1 as stable,
// 0.1–0.25 as a moderate shift and > 0.25 as a significant one. NaN when counts are all zero.
func PSI(reference []float64, counts []uint64) float64 {
	total := uint64(0)
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	psi := 0.0
	for i, e := range reference {
		a := float64(counts[i]) / float64(total)
		a, e = max(a, Epsilon), max(e, Epsilon)
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}
