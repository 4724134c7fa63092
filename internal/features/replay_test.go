package features_test

import (
	"context"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/txn"
)

func TestLabelQueueReleasesAfterDelay(t *testing.T) {
	t0 := time.Date(2018, 4, 1, 12, 0, 0, 0, time.UTC)
	var q features.LabelQueue
	for i, fraud := range []bool{true, false, true} {
		tx := txn.Transaction{ID: string(rune('a' + i)), Time: t0.Add(time.Duration(i) * time.Hour), Fraud: fraud}
		q.Push(&tx)
	}
	if q.Len() != 2 {
		t.Fatalf("queued %d, want only the 2 frauds", q.Len())
	}
	var got []string
	release := func(now time.Time) {
		t.Helper()
		if err := q.Due(now, func(l txn.Label) error { got = append(got, l.TransactionID); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	release(t0.Add(features.LabelDelay - time.Second))
	if len(got) != 0 {
		t.Fatalf("released %v before the delay", got)
	}
	release(t0.Add(features.LabelDelay)) // exactly at the delay: known
	release(t0.Add(features.LabelDelay + time.Hour))
	if len(got) != 1 || got[0] != "a" {
		t.Fatalf("released %v, want [a]", got)
	}
	release(t0.Add(features.LabelDelay + 2*time.Hour))
	if len(got) != 2 || got[1] != "c" || q.Len() != 0 {
		t.Fatalf("released %v, %d left", got, q.Len())
	}
}

func TestReplayerRejectsTimeTravel(t *testing.T) {
	r := features.NewReplayer(features.NewMemory())
	var v features.Vector
	t0 := time.Date(2018, 4, 1, 12, 0, 0, 0, time.UTC)
	a := txn.Transaction{ID: "a", Time: t0, CustomerID: 1, TerminalID: 1, Amount: 1}
	b := txn.Transaction{ID: "b", Time: t0.Add(-time.Second), CustomerID: 1, TerminalID: 1, Amount: 1}
	if err := r.Next(context.Background(), &a, &v); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(context.Background(), &b, &v); err == nil {
		t.Error("out-of-order transaction accepted")
	}
}

// Histories keep only what some window can still see.
func TestMemoryPrunesBeyondHorizon(t *testing.T) {
	s := features.NewMemory()
	t0 := time.Date(2018, 4, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	for d := range 100 {
		tx := txn.Transaction{ID: string(rune(d)), Time: t0.Add(time.Duration(d) * 24 * time.Hour), CustomerID: 1, TerminalID: 1, Amount: 1}
		if err := s.Record(context.Background(), &tx, func(c *features.CustomerHistory, tr *features.TerminalHistory) { n = len(c.Events) }); err != nil {
			t.Fatal(err)
		}
	}
	if want := int(features.Horizon / (24 * time.Hour)); n != want {
		t.Errorf("history holds %d daily events, want %d", n, want)
	}
}
