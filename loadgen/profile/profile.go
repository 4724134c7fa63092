// Package profile describes a load as phases of constant rate: the design's escalating attack,
// a constant load, or phases given on the command line as "50:2m,200:3m".
package profile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Phase is a constant rate held for a duration.
type Phase struct {
	Rate     float64       // records per second
	Duration time.Duration // how long the rate is held
}

// Records is how many records the phase sends.
func (p Phase) Records() int64 { return int64(p.Rate*p.Duration.Seconds() + 0.5) }

func (p Phase) String() string {
	return strconv.FormatFloat(p.Rate, 'f', -1, 64) + ":" + p.Duration.String()
}

// AttackRates are the design's attack phases (TPS) and AttackDurations their default lengths,
// each long enough for the HPA to react.
var (
	AttackRates     = []float64{50, 200, 500, 1500}
	AttackDurations = []time.Duration{2 * time.Minute, 3 * time.Minute, 3 * time.Minute, 10 * time.Minute}
)

// MaxRate bounds a phase's rate; beyond it the pacer's millisecond ticks carry hundreds of records.
const MaxRate = 1_000_000

// Attack is the escalating attack. durations overrides the default lengths: none keeps them, one
// applies to every phase, four set each.
func Attack(durations []time.Duration) ([]Phase, error) {
	ds := AttackDurations
	switch len(durations) {
	case 0:
	case 1:
		ds = []time.Duration{durations[0], durations[0], durations[0], durations[0]}
	case len(AttackRates):
		ds = durations
	default:
		return nil, fmt.Errorf("attack: %d durations given, want 1 or %d", len(durations), len(AttackRates))
	}
	ps := make([]Phase, len(AttackRates))
	for i, r := range AttackRates {
		ps[i] = Phase{Rate: r, Duration: ds[i]}
	}
	if err := validate(ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// Constant is one phase.
func Constant(rate float64, d time.Duration) ([]Phase, error) {
	ps := []Phase{{Rate: rate, Duration: d}}
	if err := validate(ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// Parse reads phases written as "rate:duration,rate:duration", e.g. "50:2m,200:3m,1500:30s".
func Parse(s string) ([]Phase, error) {
	var ps []Phase
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		rate, dur, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("phase %q: want rate:duration, e.g. 200:3m", part)
		}
		r, err := strconv.ParseFloat(rate, 64)
		if err != nil {
			return nil, fmt.Errorf("phase %q: rate %q is not a number", part, rate)
		}
		d, err := time.ParseDuration(dur)
		if err != nil {
			return nil, fmt.Errorf("phase %q: duration %q: %w", part, dur, err)
		}
		ps = append(ps, Phase{Rate: r, Duration: d})
	}
	if err := validate(ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// ParseDurations reads a comma-separated list of durations ("30s" or "15s,15s,15s,15s").
func ParseDurations(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var ds []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("duration %q: %w", part, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func validate(ps []Phase) error {
	if len(ps) == 0 {
		return errors.New("no phases")
	}
	for i, p := range ps {
		switch {
		case !(p.Rate > 0) || p.Rate > MaxRate:
			return fmt.Errorf("phase %d: rate %v must be in (0, %d]", i+1, p.Rate, MaxRate)
		case p.Duration <= 0:
			return fmt.Errorf("phase %d: duration %v must be positive", i+1, p.Duration)
		case p.Records() == 0:
			return fmt.Errorf("phase %d: %v sends no record", i+1, p)
		}
	}
	return nil
}

// Total is the length of all phases.
func Total(ps []Phase) time.Duration {
	var d time.Duration
	for _, p := range ps {
		d += p.Duration
	}
	return d
}
