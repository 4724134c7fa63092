package verify

import (
	"fmt"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func newTestReader() *Reader {
	return &Reader{expected: map[string]time.Time{}, seen: map[string]string{},
		hist: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)}
}

// walk is the accounting by a walk over every id: the oracle the running counts must agree with.
func walk(r *Reader) (predicted, lost int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.expected {
		if _, ok := r.seen[id]; ok {
			predicted++
		} else {
			lost++
		}
	}
	return predicted, lost
}

func TestResultCounts(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	type step struct {
		expect  string // Expect(id) if set
		arrive  string // arrived(id, event) if set
		eventID string
	}
	tests := []struct {
		name                                  string
		steps                                 []step
		predicted, lost, duplicates, conflict int64
	}{
		{"acknowledged then predicted", []step{{expect: "a"}, {arrive: "a", eventID: "e1"}}, 1, 0, 0, 0},
		{"prediction overtakes the acknowledgement", []step{{arrive: "a", eventID: "e1"}, {expect: "a"}}, 1, 0, 0, 0},
		{"never predicted", []step{{expect: "a"}, {expect: "b"}, {arrive: "b", eventID: "e1"}}, 1, 1, 0, 0},
		{"exact repeat", []step{{expect: "a"}, {arrive: "a", eventID: "e1"}, {arrive: "a", eventID: "e1"}}, 1, 0, 1, 0},
		{"conflicting prediction", []step{{expect: "a"}, {arrive: "a", eventID: "e1"}, {arrive: "a", eventID: "e2"}}, 1, 0, 0, 1},
		{"acknowledged twice", []step{{expect: "a"}, {arrive: "a", eventID: "e1"}, {expect: "a"}}, 1, 0, 0, 0},
		{"predicted but never acknowledged", []step{{arrive: "z", eventID: "e1"}, {expect: "a"}}, 0, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReader()
			for i, s := range tt.steps {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				if s.expect != "" {
					r.Expect(s.expect, at)
				}
				if s.arrive != "" {
					r.arrived(s.arrive, s.eventID, at)
				}
			}
			d := r.Result()
			if d.Predicted != tt.predicted || d.Lost != tt.lost || d.Duplicates != tt.duplicates || d.Conflicts != tt.conflict {
				t.Errorf("predicted/lost/duplicates/conflicts = %d/%d/%d/%d, want %d/%d/%d/%d",
					d.Predicted, d.Lost, d.Duplicates, d.Conflicts, tt.predicted, tt.lost, tt.duplicates, tt.conflict)
			}
			if p, l := walk(r); p != d.Predicted || l != d.Lost {
				t.Errorf("running counts %d/%d, a walk over the ids gives %d/%d", d.Predicted, d.Lost, p, l)
			}
		})
	}
}

// TestResultMatchesWalk interleaves many acknowledgements and predictions in both orders.
func TestResultMatchesWalk(t *testing.T) {
	r := newTestReader()
	now := time.Unix(1_800_000_000, 0)
	for i := range 10_000 {
		id := fmt.Sprintf("run-%d", i)
		switch i % 4 {
		case 0:
			r.Expect(id, now)
			r.arrived(id, "e"+id, now)
		case 1:
			r.arrived(id, "e"+id, now)
			r.Expect(id, now)
		case 2:
			r.Expect(id, now) // lost
		case 3:
			r.arrived(id, "e"+id, now) // not ours to count
		}
	}
	d := r.Result()
	p, l := walk(r)
	if d.Predicted != p || d.Lost != l || p != 5_000 || l != 2_500 {
		t.Fatalf("Result %d predicted / %d lost, walk %d / %d, want 5000 / 2500", d.Predicted, d.Lost, p, l)
	}
}

// BenchmarkResult: the progress line's accounting with a run's worth of ids (the ci attack sends
// about 1.1 M), the running counts against the walk over the ids they replace, in the same run.
func BenchmarkResult(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		r := newTestReader()
		now := time.Unix(1_800_000_000, 0)
		for i := range n {
			id := fmt.Sprintf("0123456789abcdef-%d", i)
			r.Expect(id, now)
			if i%10 != 0 {
				r.arrived(id, "e", now)
			}
		}
		b.Run(fmt.Sprintf("counts/ids=%d", n), func(b *testing.B) {
			for b.Loop() {
				_ = r.Result()
			}
		})
		b.Run(fmt.Sprintf("walk/ids=%d", n), func(b *testing.B) {
			for b.Loop() {
				_, _ = walk(r)
			}
		})
	}
}
