package pace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"function/loadgen/profile"
)

// Report is a run's outcome, phase by phase. It is written as text and as JSON.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Phases   []PhaseReport `json:"phases"`
	Total    Totals        `json:"total"`
	// Delivery is filled in when the run read its predictions back.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// PhaseReport is one phase's outcome. AchievedTPS counts the records handed to the sender inside
// the phase's time window; a record that is due but goes out after the window counts as late.
type PhaseReport struct {
	Phase       int           `json:"phase"` // from 1
	TargetTPS   float64       `json:"target_tps"`
	Duration    time.Duration `json:"duration_ns"` // scheduled, or until the run was stopped
	Sent        int64         `json:"sent"`
	Late        int64         `json:"late"`
	Acked       int64         `json:"acked"`
	Errors      int64         `json:"errors"`
	Unanswered  int64         `json:"unanswered"`
	AchievedTPS float64       `json:"achieved_tps"`
	// AckedTPS is the acknowledged records over the time from the phase's start to the last
	// acknowledgement: the rate the sink really absorbed.
	AckedTPS float64 `json:"acked_tps"`
	ErrorPct float64 `json:"error_pct"`
	Stopped  bool    `json:"stopped,omitempty"`
	Latency  Latency `json:"latency_ms"`
}

// Latency percentiles in milliseconds, measured from each record's scheduled send time.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Totals sums the phases.
type Totals struct {
	Sent   int64 `json:"sent"`
	Acked  int64 `json:"acked"`
	Errors int64 `json:"errors"`
}

// Delivery is what reading the predictions topic back found for this run's transactions.
type Delivery struct {
	Sent       int64   `json:"sent"`
	Predicted  int64   `json:"predicted"` // distinct transaction ids
	Lost       int64   `json:"lost"`
	Duplicates int64   `json:"duplicates"` // extra records repeating a prediction exactly
	Conflicts  int64   `json:"conflicts"`  // extra records for an id with a different event id
	Latency    Latency `json:"end_to_end_latency_ms"`
	// ThroughputTPS is the rate at which new predictions arrived, first to last.
	ThroughputTPS float64 `json:"throughput_tps"`
}

// Line is the one-line delivery summary the demo prints.
func (d *Delivery) Line() string {
	return fmt.Sprintf("sent=%d predicted=%d lost=%d duplicates=%d", d.Sent, d.Predicted, d.Lost, d.Duplicates)
}

func ms(us int64) float64 { return float64(us) / 1000 }

// LatencyOf reads the percentiles of a histogram of microseconds.
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
}

func buildReport(phases []profile.Phase, stats []*phaseStats, start, end time.Time) Report {
	r := Report{Started: start, Duration: end.Sub(start)}
	for i, st := range stats {
		st.mu.Lock()
		p := phases[i]
		pr := PhaseReport{Phase: i + 1, TargetTPS: p.Rate, Duration: p.Duration, Sent: st.sent, Late: st.sent - st.onTime,
			Acked: st.acked, Errors: st.errors, Unanswered: st.sent - st.acked - st.errors}
		if !st.stoppedAt.IsZero() {
			pr.Stopped = true
			pr.Duration = min(st.stoppedAt.Sub(st.start), p.Duration)
		}
		if s := pr.Duration.Seconds(); s > 0 {
			pr.AchievedTPS = float64(st.onTime) / s
		}
		if el := st.lastAck.Sub(st.start).Seconds(); el > 0 {
			pr.AckedTPS = float64(st.acked) / el
		}
		if st.sent > 0 {
			pr.ErrorPct = 100 * float64(st.errors) / float64(st.sent)
		}
		pr.Latency = LatencyOf(st.hist)
		st.mu.Unlock()
		r.Phases = append(r.Phases, pr)
		r.Total.Sent += pr.Sent
		r.Total.Acked += pr.Acked
		r.Total.Errors += pr.Errors
	}
	return r
}

// WriteText writes the report as a table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-5s %10s %10s %9s %8s %9s %7s %7s %9s %9s %9s %9s\n",
		"phase", "target/s", "achieved/s", "accuracy", "sent", "acked", "errors", "late", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
	for _, p := range r.Phases {
		acc := 100 * (p.AchievedTPS/p.TargetTPS - 1)
		stopped := ""
		if p.Stopped {
			stopped = "  (stopped)"
		}
		fmt.Fprintf(&b, "%-5d %10.1f %10.1f %+8.2f%% %8d %9d %7d %7d %9.2f %9.2f %9.2f %9.2f%s\n",
			p.Phase, p.TargetTPS, p.AchievedTPS, acc, p.Sent, p.Acked, p.Errors, p.Late,
			p.Latency.P50, p.Latency.P99, p.Latency.P999, p.Latency.Max, stopped)
	}
	fmt.Fprintf(&b, "total: sent=%d acked=%d errors=%d in %s\n", r.Total.Sent, r.Total.Acked, r.Total.Errors, r.Duration.Round(time.Millisecond))
	if d := r.Delivery; d != nil {
		fmt.Fprintf(&b, "end-to-end latency ms: p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.2f; predictions %.0f/s; conflicts=%d\n",
			d.Latency.P50, d.Latency.P90, d.Latency.P99, d.Latency.P999, d.Latency.Max, d.ThroughputTPS, d.Conflicts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSONFile writes the report as indented JSON to path.
func (r *Report) WriteJSONFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
