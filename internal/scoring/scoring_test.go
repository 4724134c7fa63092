package scoring_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/model"
	"function/internal/scoring"
	"function/internal/simulate"
	"function/internal/txn"
)

func builtin(tb testing.TB) *model.Model {
	tb.Helper()
	m, err := model.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func stream(tb testing.TB, customers, days int) []txn.Transaction {
	tb.Helper()
	cfg := simulate.DefaultConfig(42)
	cfg.Customers, cfg.Terminals, cfg.Days = customers, customers*2, days
	s, err := simulate.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var out []txn.Transaction
	for {
		tx, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, tx)
	}
}

func TestScore(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := scoring.New(features.NewMemory(), scoring.WithClock(func() time.Time { return now }),
		scoring.WithEventClock(&scoring.Clock{Stream: true, MaxSkew: time.Hour, MaxLateness: time.Hour, LabelMaxDelay: time.Hour}))
	tx := txn.Transaction{ID: "1", Time: time.Date(2018, 8, 8, 10, 0, 0, 0, time.UTC), CustomerID: 1, TerminalID: 2, Amount: 42.5}
	if _, err := s.Score(context.Background(), &tx); !errors.Is(err, scoring.ErrNoModel) {
		t.Fatalf("before a model: err = %v, want ErrNoModel", err)
	}
	m := builtin(t)
	s.SetModel(m)
	p, err := s.Score(context.Background(), &tx)
	if err != nil {
		t.Fatal(err)
	}
	if p.TransactionID != "1" || p.TxDatetime != "2018-08-08 10:00:00" || p.ModelVersion != m.Meta.Version ||
		p.Threshold != m.Meta.Threshold || p.IsFraud != (p.FraudProbability >= p.Threshold) || !p.ScoredAt.Equal(now) ||
		!(p.FraudProbability > 0 && p.FraudProbability < 1) {
		t.Errorf("prediction %+v", p)
	}
	bad := tx
	bad.Amount = -1
	if _, err := s.Score(context.Background(), &bad); !errors.Is(err, txn.ErrInvalid) {
		t.Errorf("negative amount: err = %v, want ErrInvalid", err)
	}
	o := scoring.New(features.NewMemory(), scoring.WithThreshold(0.0000001), scoring.WithClock(func() time.Time { return tx.Time }))
	o.SetModel(m)
	if p, _ := o.Score(context.Background(), &tx); !p.IsFraud || p.Threshold != 0.0000001 {
		t.Errorf("threshold override ignored: %+v", p)
	}
}

// logit is the raw score a probability comes from (sigmoid 1, as the builtin model).
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func TestScoreExplains(t *testing.T) {
	m := builtin(t)
	txs := stream(t, 300, 40)
	cases := map[string]struct {
		mode scoring.Explain
		// what each kind of prediction carries
		flaggedReasons, legitReasons, explanation bool
	}{
		"flagged (default)": {scoring.ExplainFlagged, true, false, false},
		"all":               {scoring.ExplainAll, true, false, true},
		"none":              {scoring.ExplainNone, false, false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clock := &scoring.Clock{Stream: true, MaxSkew: 1e6 * time.Hour, MaxLateness: 1e6 * time.Hour}
			s := scoring.New(features.NewMemory(), scoring.WithEventClock(clock))
			s.SetModel(m)
			flagged := 0
			for i := range txs {
				p, err := s.ScoreExplained(context.Background(), &txs[i], tc.mode)
				if err != nil {
					t.Fatal(err)
				}
				wantReasons := tc.legitReasons
				if p.IsFraud {
					flagged++
					wantReasons = tc.flaggedReasons
				}
				if got := len(p.Reasons) > 0; got != wantReasons || len(p.Reasons) > scoring.TopReasons {
					t.Fatalf("%s (fraud %v): %d reasons, want some: %v", p.TransactionID, p.IsFraud, len(p.Reasons), wantReasons)
				}
				for j, r := range p.Reasons {
					if r.Contribution <= 0 || j > 0 && r.Contribution > p.Reasons[j-1].Contribution {
						t.Fatalf("%s: reasons not positive and strongest first: %+v", p.TransactionID, p.Reasons)
					}
				}
				if (p.Explanation != nil) != tc.explanation {
					t.Fatalf("%s: explanation %v, want %v", p.TransactionID, p.Explanation != nil, tc.explanation)
				}
				if p.Explanation != nil {
					// The parts add up to the score the prediction reports.
					raw := p.Explanation.ExpectedValue
					for _, c := range p.Explanation.Contributions {
						raw += c.Contribution
					}
					if d := math.Abs(raw - logit(p.FraudProbability)); d > 1e-9*max(1, math.Abs(raw)) && p.FraudProbability > 1e-12 && p.FraudProbability < 1-1e-12 {
						t.Fatalf("%s: contributions sum to %v, logit(p) = %v", p.TransactionID, raw, logit(p.FraudProbability))
					}
				}
			}
			if flagged == 0 {
				t.Fatal("no flagged prediction in the stream: the test proves nothing")
			}
		})
	}
}

type failing struct{}

func (failing) Record(context.Context, *txn.Transaction, func(*features.CustomerHistory, *features.TerminalHistory)) error {
	return errors.New("connection refused")
}
func (failing) Label(context.Context, txn.Label) error { return errors.New("connection refused") }

func TestStoreErrorsAreTransient(t *testing.T) {
	tx := txn.Transaction{ID: "1", Time: time.Unix(1e9, 0), CustomerID: 1, TerminalID: 2, Amount: 1}
	key := []byte("0123456789abcdef0123456789abcdef")
	s := scoring.New(failing{}, scoring.WithClock(func() time.Time { return tx.Time }), scoring.WithLabelKey(key))
	s.SetModel(builtin(t))
	if _, err := s.Score(context.Background(), &tx); !errors.Is(err, scoring.ErrStore) {
		t.Errorf("err = %v, want ErrStore", err)
	}
	l := txn.LabelOf(&tx)
	if err := s.Label(context.Background(), l, scoring.SignLabel(key, &l)); !errors.Is(err, scoring.ErrStore) {
		t.Errorf("label err = %v, want ErrStore", err)
	}
}

// BenchmarkScore is features (in-memory store, 5,000 customers' state) plus inference plus the
// prediction, for one transaction.
func BenchmarkScore(b *testing.B) {
	txs := stream(b, 5000, 40)
	ctx := context.Background()
	// Warm the state with the first 30 days, then time the rest. Every timed iteration scores a
	// transaction not seen before: when the stream runs out, the state starts again from the
	// warm-up, off the clock (wrapping around would time the duplicate-id path instead).
	warm := len(txs) * 3 / 4
	rest := txs[warm:]
	var s *scoring.Scorer
	fresh := func() {
		s = scoring.New(features.NewMemory(), scoring.WithEventClock(&scoring.Clock{Stream: true, MaxSkew: time.Hour, MaxLateness: 24 * time.Hour}))
		s.SetModel(builtin(b))
		for i := range txs[:warm] {
			if _, err := s.Score(ctx, &txs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	fresh()
	b.ReportAllocs()
	b.ResetTimer()
	flagged := 0
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(rest) {
			b.StopTimer()
			fresh()
			j = 0
			b.StartTimer()
		}
		p, err := s.ScoreExplained(ctx, &rest[j], benchMode)
		if err != nil {
			b.Fatal(err)
		}
		if p.IsFraud {
			flagged++
		}
	}
	b.ReportMetric(float64(flagged)/float64(b.N), "flagged/op")
}

// benchMode is the explanation mode of BenchmarkScore; the sub-benchmarks below set it.
var benchMode = scoring.ExplainFlagged

// BenchmarkScoreExplain is BenchmarkScore in each explanation mode, for the cost of reasons:
// none, the default (reasons on flagged predictions) and every contribution on every prediction.
func BenchmarkScoreExplain(b *testing.B) {
	for _, c := range []struct {
		name string
		mode scoring.Explain
	}{{"none", scoring.ExplainNone}, {"flagged", scoring.ExplainFlagged}, {"all", scoring.ExplainAll}} {
		b.Run(c.name, func(b *testing.B) {
			benchMode = c.mode
			defer func() { benchMode = scoring.ExplainFlagged }()
			BenchmarkScore(b)
		})
	}
}

// BenchmarkBatchInference is the model alone over precomputed feature rows, on one goroutine.
func BenchmarkBatchInference(b *testing.B) {
	txs := stream(b, 2000, 40)
	r := features.NewReplayer(features.NewMemory())
	rows := make([]features.Vector, len(txs))
	for i := range txs {
		if err := r.Next(context.Background(), &txs[i], &rows[i]); err != nil {
			b.Fatal(err)
		}
	}
	m := builtin(b)
	out := make([]float64, len(rows))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.ProbabilityBatch(rows, out)
	}
	b.ReportMetric(float64(b.N)*float64(len(rows))/b.Elapsed().Seconds(), "rows/s")
}
