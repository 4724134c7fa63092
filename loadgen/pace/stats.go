package pace

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
const (
	minLatencyUS = 1
	maxLatencyUS = int64(10 * time.Minute / time.Microsecond)
)

// phaseStats counts one phase's outcomes. Outcomes arrive from the sender's goroutines.
type phaseStats struct {
	mu        sync.Mutex
	sent      int64 // handed to the sender
	onTime    int64 // handed to the sender within the phase's window
	acked     int64
	errors    int64
	hist      *hdrhistogram.Histogram
	start     time.Time
	end       time.Time // scheduled end
	lastSend  time.Time
	lastAck   time.Time
	stoppedAt time.Time // non-zero if the run was interrupted during the phase
}

func newPhaseStats(start, end time.Time) *phaseStats {
	return &phaseStats{hist: hdrhistogram.New(minLatencyUS, maxLatencyUS, 3), start: start, end: end}
}

func (s *phaseStats) outcome(scheduled time.Time, err error) {
	lat := time.Since(scheduled).Microseconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors++
		return
	}
	s.acked++
	s.lastAck = time.Now()
	_ = s.hist.RecordValue(min(max(lat, minLatencyUS), maxLatencyUS))
}

func (s *phaseStats) handed(n int64, at time.Time) {
	s.mu.Lock()
	s.sent += n
	if at.Before(s.end) {
		s.onTime += n
	}
	s.lastSend = at
	s.mu.Unlock()
}
