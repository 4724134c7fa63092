package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/features/featuretest"
	"function/internal/redisstore"
	"function/internal/txn"
)

// step is one input of a golden sequence: a transaction with the features it must get, or a
// label (tx nil).
type step struct {
	tx      *txn.Transaction
	label   *txn.Label
	refused bool // the label must be refused (ErrUnknownTransaction)
	want    features.Vector
}

func at(s string) time.Time {
	t, err := time.Parse(txn.DatetimeLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func tx(id, when string, customer, terminal int64, amount float64) *txn.Transaction {
	return &txn.Transaction{ID: id, Time: at(when), CustomerID: customer, TerminalID: terminal, Amount: amount}
}

func fraud(t *txn.Transaction) *txn.Label {
	l := txn.LabelOf(t)
	l.Fraud = true
	return &l
}

// goldenSequence is checked by hand: each want is worked out from the handbook's definitions
// (windows closed on the right, terminal windows shifted back by the 7-day label delay; then
// amount × n / (the window's earlier amounts + 50), and the run of known frauds the terminal's
// newest known transaction ends), not from the code. 2018-04-01 is a Sunday.
func goldenSequence() []step {
	a := tx("a", "2018-04-02 10:00:00", 1, 10, 10)
	b := tx("b", "2018-04-02 22:00:00", 1, 20, 30)
	c := tx("c", "2018-04-03 10:00:00", 1, 10, 50)
	d := tx("d", "2018-04-09 10:00:00", 2, 10, 5)
	e := tx("e", "2018-04-10 10:00:01", 2, 10, 15)
	g := tx("g", "2018-04-14 06:30:00", 1, 30, 2.5)
	h := tx("h", "2018-04-13 12:00:00", 1, 30, 7.5)
	notFraud := txn.LabelOf(b)
	unseen := &txn.Label{TransactionID: "z", TerminalID: 99, Time: at("2018-04-01 00:00:00"), Fraud: true}
	return []step{
		{tx: a, want: features.Vector{10, 0, 0, 1, 10, 1, 10, 1, 10, 0, 0, 0, 0, 0, 0, 0.2, 0.2, 0.2, -1, 0}},
		// a is 12 hours back: in every customer window.
		{tx: b, want: features.Vector{30, 0, 0, 2, 20, 2, 20, 2, 20, 0, 0, 0, 0, 0, 0, 1, 1, 1, -1, 0}},
		// a is exactly one day back: out of the 1-day window (closed on the right only).
		{tx: c, want: features.Vector{50, 0, 0, 2, 40, 3, 30, 3, 30, 0, 0, 0, 0, 0, 0, 1.25, 150.0 / 90, 150.0 / 90, -1, 0}},
		// A redelivery changes nothing.
		{tx: c, want: features.Vector{50, 0, 0, 2, 40, 3, 30, 3, 30, 0, 0, 0, 0, 0, 0, 1.25, 150.0 / 90, 150.0 / 90, -1, 0}},
		{label: fraud(a)},
		{label: fraud(a)},              // twice: still one fraud
		{label: &notFraud},             // non-frauds change nothing
		{label: unseen, refused: true}, // a terminal with no transactions yet: never seen, refused
		// Terminal 10 as of 7 days back (2018-04-02 10:00, a included): a only, a fraud; its
		// newest known transaction is a, a run of one fraud 7 days old.
		{tx: d, want: features.Vector{5, 0, 0, 1, 5, 1, 5, 1, 5, 1, 1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 7, 1}},
		// Customer 2: d is one day and one second back. Terminal 10 as of 2018-04-03 10:00:01:
		// c in the 1-day window (no fraud); a and c in 7 and 30 days (one fraud). The newest
		// known transaction is c, genuine: no run.
		{tx: e, want: features.Vector{15, 0, 0, 1, 15, 2, 10, 2, 10, 1, 0, 2, 0.5, 2, 0.5, 0.3, 30.0 / 55, 30.0 / 55, -1, 0}},
		// Saturday, 06:30: weekend and night. Customer 1: a, b, c are 11+ days back.
		{tx: g, want: features.Vector{2.5, 1, 1, 1, 2.5, 1, 2.5, 4, 23.125, 0, 0, 0, 0, 0, 0, 0.05, 0.05, 10.0 / 140, -1, 0}},
		// Arrives after g but happened before it: g is in the future of h and not counted.
		{tx: h, want: features.Vector{7.5, 0, 0, 1, 7.5, 1, 7.5, 4, 24.375, 0, 0, 0, 0, 0, 0, 0.15, 0.15, 30.0 / 140, -1, 0}},
	}
}

// CheckGolden runs the hand-checked sequence through store and fails t on any feature that
// differs from the hand-worked value. Any features.Store must pass it.
func CheckGolden(t *testing.T, store features.Store) {
	t.Helper()
	ctx := context.Background()
	for i, s := range goldenSequence() {
		if s.label != nil {
			err := store.Label(ctx, *s.label)
			if s.refused {
				if !errors.Is(err, features.ErrUnknownTransaction) {
					t.Fatalf("step %d: label %s: err = %v, want ErrUnknownTransaction", i, s.label.TransactionID, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: label %s: %v", i, s.label.TransactionID, err)
			}
			continue
		}
		var got features.Vector
		called := false
		err := store.Record(ctx, s.tx, func(c *features.CustomerHistory, th *features.TerminalHistory) {
			called = true
			features.Compute(&got, s.tx, c, th)
		})
		if err != nil {
			t.Fatalf("step %d: record %s: %v", i, s.tx.ID, err)
		}
		if !called {
			t.Fatalf("step %d: record %s did not call fn", i, s.tx.ID)
		}
		if got != s.want {
			for k := range got {
				if got[k] != s.want[k] {
					t.Errorf("step %d (%s): %s = %v, want %v", i, s.tx.ID, features.Names[k], got[k], s.want[k])
				}
			}
		}
	}
}

// TestGolden holds both stores to the same hand-checked numbers: the shared golden sequence
// (internal/features/featuretest) and this package's, which adds redeliveries, repeated and
// unknown labels and late transactions.
func TestGolden(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	sequences := map[string]func(t *testing.T, s features.Store){
		"shared":     func(t *testing.T, s features.Store) { featuretest.RunGolden(t, s) },
		"redelivery": CheckGolden,
	}
	stores := map[string]func(prefix string) features.Store{
		"memory": func(string) features.Store { return features.NewMemory() },
		"redis": func(prefix string) features.Store {
			return redisstore.New(client, redisstore.WithPrefix(prefix))
		},
	}
	for seq, check := range sequences {
		for name, open := range stores {
			t.Run(seq+"/"+name, func(t *testing.T) { check(t, open(seq+":")) })
		}
	}
}
