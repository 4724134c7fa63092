// Package pace drives a load open-loop: every record has a send time fixed in advance by the
// phase's rate, sends are never held back by responses, and each latency is measured from the
// record's scheduled time, so a stall shows in the latencies instead of hiding in a slower rate
// (no coordinated omission).
package pace

import (
	"context"
	"time"

	"function/loadgen/profile"
)

// Sender delivers records. Send must not wait for the outcome: it calls done exactly once, later,
// from any goroutine, with nil once the record is acknowledged.
// seq counts records from 0 across phases; scheduled is the record's send time.
type Sender interface {
	Send(ctx context.Context, seq int64, scheduled time.Time, done func(error)) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, seq int64, scheduled time.Time, done func(error)) error

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, seq int64, scheduled time.Time, done func(error)) error {
	return f(ctx, seq, scheduled, done)
}

// Observer is told when a phase starts (index from 0) and, once a second, the progress.
type Observer interface {
	PhaseStarted(i int, p profile.Phase)
	Progress(p Progress)
}

// Progress is the state of the run, once a second.
type Progress struct {
	Phase        int // from 0
	Of           int
	Target       float64 // phase rate
	Achieved     float64 // records handed to the sender per second over the last second
	Sent, Errors int64   // this phase
	P99          time.Duration
}

// closingLineMin is the shortest phase tail that gets its own progress line.
const closingLineMin = 500 * time.Millisecond

// Tick is how often the pacer wakes up to send the records that have become due.
const Tick = time.Millisecond

// Run sends the phases' records through s, in sequence, and returns the per-phase report once
// every outcome is in (or wait has passed after the last send). Cancelling ctx stops sending; the
// report covers what was sent.
func Run(ctx context.Context, phases []profile.Phase, s Sender, obs Observer, wait time.Duration) Report {
	start := time.Now()
	stats := make([]*phaseStats, 0, len(phases))
	var seq int64
	progressAt := start.Add(time.Second)
	phaseStart := start
	var lastReport struct {
		at   time.Time
		sent int64
	}
phases:
	for i, p := range phases {
		end := phaseStart.Add(p.Duration)
		st := newPhaseStats(phaseStart, end)
		stats = append(stats, st)
		if obs != nil {
			obs.PhaseStarted(i, p)
		}
		lastReport.at, lastReport.sent = phaseStart, 0
		// The first progress line of a phase covers a full second of it.
		if first := phaseStart.Add(time.Second); progressAt.Before(first) {
			progressAt = first
		}
		n := p.Records()
		interval := float64(time.Second) / p.Rate
		for k := int64(0); k < n; {
			now := time.Now()
			// Records 0..due-1 of this phase are due at now.
			due := min(int64(float64(now.Sub(phaseStart))/interval)+1, n)
			var handed int64
			for ; k < due; k++ {
				scheduled := phaseStart.Add(time.Duration(float64(k) * interval))
				err := s.Send(ctx, seq, scheduled, func(err error) { st.outcome(scheduled, err) })
				seq++
				handed++
				if err != nil {
					st.outcome(scheduled, err)
					if ctx.Err() != nil {
						st.handed(handed, time.Now())
						st.stoppedAt = time.Now()
						break phases
					}
				}
			}
			if handed > 0 {
				st.handed(handed, time.Now())
			}
			if now.After(progressAt) {
				progressAt = progressAt.Add(time.Second)
				if obs != nil {
					obs.Progress(progressOf(i, len(phases), p, st, &lastReport.at, &lastReport.sent, now))
				}
			}
			if k >= n {
				break
			}
			next := phaseStart.Add(time.Duration(float64(k) * interval))
			select {
			case <-ctx.Done():
				st.stoppedAt = time.Now()
				break phases
			case <-time.After(max(min(time.Until(next), Tick), 0)):
			}
		}
		// The next phase starts on schedule, not when this one's last record went out.
		phaseStart = end
		if d := time.Until(end); d > 0 {
			select {
			case <-ctx.Done():
				st.stoppedAt = time.Now()
				break phases
			case <-time.After(d):
			}
		}
		// Every phase closes with a line covering its tail, so a phase shorter than a second,
		// or the last part of a longer one, still shows; a tail too short to rate is skipped.
		if now := time.Now(); obs != nil && now.Sub(lastReport.at) >= closingLineMin {
			obs.Progress(progressOf(i, len(phases), p, st, &lastReport.at, &lastReport.sent, now))
		}
	}
	sendEnd := time.Now()
	waitOutcomes(stats, wait)
	return buildReport(phases, stats, start, sendEnd)
}

func progressOf(i, of int, p profile.Phase, st *phaseStats, lastAt *time.Time, lastSent *int64, now time.Time) Progress {
	st.mu.Lock()
	defer st.mu.Unlock()
	pr := Progress{Phase: i, Of: of, Target: p.Rate, Sent: st.sent, Errors: st.errors,
		P99: time.Duration(st.hist.ValueAtQuantile(99)) * time.Microsecond}
	if el := now.Sub(*lastAt).Seconds(); el > 0 {
		pr.Achieved = float64(st.sent-*lastSent) / el
	}
	*lastAt, *lastSent = now, st.sent
	return pr
}

// waitOutcomes waits until every handed record has an outcome, or wait passed.
func waitOutcomes(stats []*phaseStats, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		pending := int64(0)
		for _, st := range stats {
			st.mu.Lock()
			pending += st.sent - st.acked - st.errors
			st.mu.Unlock()
		}
		if pending <= 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
