// Package attacktest replays the attacks on the fraud state (issue 12) against a scoring.Scorer
// over any features.Store, so that the in-memory and the Redis store are held to the same result.
package attacktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/model"
	"function/internal/scoring"
	"function/internal/txn"
)

// Key is the label key the scenarios sign their genuine labels with.
var Key = []byte("attacktest-label-key-0123456789abcdef")

// Start is "now" when a scenario's history ends.
var Start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	compromised = 1 // terminal with a month of confirmed frauds
	innocent    = 2 // terminal with the same traffic and no fraud
	perDay      = 2 // a small terminal, as in the handbook's world (about 1.5 a day)
)

// world is a scorer with a month of history: at each terminal perDay transactions a day from 30 to 1
// days before Start, those at the compromised terminal all confirmed frauds by signed labels.
type world struct {
	s   *scoring.Scorer
	now time.Time
	n   int
}

func build(t testing.TB, store features.Store) *world {
	t.Helper()
	m, err := model.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{now: Start.Add(-31 * 24 * time.Hour)}
	w.s = scoring.New(store, scoring.WithClock(func() time.Time { return w.now }), scoring.WithLabelKey(Key))
	w.s.SetModel(m)
	ctx := context.Background()
	for d := 30; d >= 1; d-- {
		for k := range perDay {
			at := Start.Add(-time.Duration(d)*24*time.Hour + time.Duration(k)*time.Hour)
			w.now = at
			for _, term := range []int64{compromised, innocent} {
				tx := txn.Transaction{ID: fmt.Sprintf("h-%d-%d-%d", term, d, k), Time: at, CustomerID: 1000*term + int64(k), TerminalID: term, Amount: 50}
				if _, err := w.s.Score(ctx, &tx); err != nil {
					t.Fatalf("history %s: %v", tx.ID, err)
				}
				if term == compromised {
					l := txn.LabelOf(&tx)
					l.Fraud = true
					if err := w.s.Label(ctx, l, scoring.SignLabel(Key, &l)); err != nil {
						t.Fatalf("label %s: %v", tx.ID, err)
					}
				}
			}
		}
	}
	w.now = Start
	return w
}

// score scores a transaction at terminal term dated at, from a customer new to the world.
func (w *world) score(t testing.TB, term int64, at time.Time) (float64, error) {
	t.Helper()
	w.n++
	tx := txn.Transaction{ID: fmt.Sprintf("probe-%d", w.n), Time: at, CustomerID: 90000 + int64(w.n), TerminalID: term, Amount: 50}
	p, err := w.s.Score(context.Background(), &tx)
	return p.FraudProbability, err
}

func (w *world) mustScore(t testing.TB, term int64) float64 {
	t.Helper()
	w.now = w.now.Add(time.Minute)
	p, err := w.score(t, term, w.now)
	if err != nil {
		t.Fatalf("score at terminal %d: %v", term, err)
	}
	return p
}

// Run runs every attack against a scorer over a store newStore returns (empty each call).
func Run(t *testing.T, newStore func(t *testing.T) features.Store) {
	w := build(t, newStore(t))
	high, low := w.mustScore(t, compromised), w.mustScore(t, innocent)
	t.Logf("before any attack: compromised terminal %.4f, innocent %.4f", high, low)
	if !(high > 10*low) {
		t.Fatalf("the world does not separate the terminals (%.4f vs %.4f): the attacks would prove nothing", high, low)
	}
	stillHigh := func(t *testing.T, w *world) {
		t.Helper()
		if p := w.mustScore(t, compromised); p < high*0.9 {
			t.Errorf("after the attack the next fraud at the compromised terminal scores %.4f, was %.4f", p, high)
		}
	}
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, txn.ErrInvalid) {
			t.Errorf("%s: err = %v, want a permanent refusal (400)", what, err)
		}
	}

	t.Run("wipe", func(t *testing.T) {
		for _, at := range []time.Time{Start.Add(38 * 24 * time.Hour), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
			w := build(t, newStore(t))
			_, err := w.score(t, compromised, at)
			refused(t, "transaction dated "+at.String(), err)
			stillHigh(t, w)
		}
	})
	t.Run("dilution", func(t *testing.T) {
		w := build(t, newStore(t))
		for i := range 20 { // backdated straight into the terminal's risk windows (7 to 37 days back)
			at := Start.Add(-time.Duration(8+i)*24*time.Hour - time.Duration(i)*time.Minute)
			_, err := w.score(t, compromised, at)
			refused(t, "fake transaction dated "+at.String(), err)
		}
		stillHigh(t, w)
	})
	t.Run("forged labels", func(t *testing.T) {
		w := build(t, newStore(t))
		for i := range 4 {
			l := txn.Label{TransactionID: fmt.Sprintf("never-%d", i), CustomerID: 2000 + int64(i), TerminalID: innocent, Time: Start.Add(-10 * 24 * time.Hour), Fraud: true}
			refused(t, "unsigned label", w.s.Label(context.Background(), l, ""))
			refused(t, "label signed with another key", w.s.Label(context.Background(), l, scoring.SignLabel([]byte("not-the-key-not-the-key-not-the-key"), &l)))
			// Even with the key (a compromised labeller), a label must name a transaction seen there.
			refused(t, "signed label for a transaction never seen", w.s.Label(context.Background(), l, scoring.SignLabel(Key, &l)))
			seen := txn.Label{TransactionID: fmt.Sprintf("h-%d-10-%d", innocent, i), CustomerID: 1000*innocent + int64(i), TerminalID: compromised, Time: Start.Add(-10*24*time.Hour + time.Duration(i)*time.Hour), Fraud: true}
			refused(t, "signed label naming the wrong terminal", w.s.Label(context.Background(), seen, scoring.SignLabel(Key, &seen)))
		}
		if p := w.mustScore(t, innocent); p > low*2 {
			t.Errorf("after forged labels the innocent terminal scores %.4f, was %.4f", p, low)
		}
	})
	t.Run("future labels", func(t *testing.T) {
		w := build(t, newStore(t))
		for _, at := range []time.Time{Start.Add(time.Hour), Start.Add(38 * 24 * time.Hour), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Start.Add(-40 * 24 * time.Hour)} {
			l := txn.Label{TransactionID: "future", CustomerID: 2000, TerminalID: innocent, Time: at, Fraud: true}
			err := w.s.Label(context.Background(), l, scoring.SignLabel(Key, &l))
			refused(t, "label dated "+at.String(), err)
			var fe *txn.FieldError
			if !errors.As(err, &fe) || fe.Field != "tx_datetime" {
				t.Errorf("label dated %s: %v, want a tx_datetime bound", at, err)
			}
		}
		if p := w.mustScore(t, innocent); p > low*2 {
			t.Errorf("after future labels the innocent terminal scores %.4f, was %.4f", p, low)
		}
	})
}
