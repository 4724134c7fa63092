package scoring_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/scoring"
	"function/internal/txn"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// v1Fields are the fraud.prediction.v1 data fields design.md fixes; issue 16 added reasons and
// explanation after them. Old consumers must see the same names and values.
var v1Fields = []string{"transaction_id", "customer_id", "terminal_id", "tx_datetime", "tx_amount",
	"fraud_probability", "is_fraud", "threshold", "model_name", "model_version", "scored_at"}

// TestPredictionSchema pins the prediction's JSON: a legit prediction has exactly the v1 fields
// (byte for byte what it was), a flagged one adds reasons, ?explain=all adds explanation; the
// golden file shows a flagged, fully explained prediction (regenerate with -update).
func TestPredictionSchema(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := &scoring.Clock{Stream: true, MaxSkew: time.Hour, MaxLateness: time.Hour, LabelMaxDelay: time.Hour}
	s := scoring.New(features.NewMemory(), scoring.WithClock(func() time.Time { return at }), scoring.WithEventClock(clock))
	s.SetModel(builtin(t))
	keys := func(p scoring.Prediction) []string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(extra ...string) []string {
		k := append(slices.Clone(v1Fields), extra...)
		slices.Sort(k)
		return k
	}
	when := time.Date(2018, 8, 8, 10, 0, 0, 0, time.UTC)
	legit := txn.Transaction{ID: "legit", Time: when, CustomerID: 1, TerminalID: 2, Amount: 20}
	flagged := txn.Transaction{ID: "flagged", Time: when, CustomerID: 3, TerminalID: 4, Amount: 900}
	cases := map[string]struct {
		tx   *txn.Transaction
		mode scoring.Explain
		want []string
	}{
		"legit":         {&legit, scoring.ExplainFlagged, sorted()},
		"flagged":       {&flagged, scoring.ExplainFlagged, sorted("reasons")},
		"legit, all":    {&legit, scoring.ExplainAll, sorted("explanation")},
		"flagged, all":  {&flagged, scoring.ExplainAll, sorted("reasons", "explanation")},
		"flagged, none": {&flagged, scoring.ExplainNone, sorted()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := s.ScoreExplained(context.Background(), tc.tx, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(p); !slices.Equal(got, tc.want) {
				t.Errorf("fields %v, want %v", got, tc.want)
			}
		})
	}
	p, err := s.ScoreExplained(context.Background(), &txn.Transaction{ID: "golden", Time: when, CustomerID: 5, TerminalID: 6, Amount: 640.5}, scoring.ExplainAll)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/prediction_explained.json"
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("prediction changed; if on purpose, run go test -update and document it in README:\n%s", got)
	}
	// An old consumer decodes only the v1 fields and sees them unchanged.
	var old struct {
		TransactionID    string  `json:"transaction_id"`
		FraudProbability float64 `json:"fraud_probability"`
		IsFraud          bool    `json:"is_fraud"`
		ModelVersion     string  `json:"model_version"`
	}
	if err := json.Unmarshal(got, &old); err != nil || old.TransactionID != "golden" || old.FraudProbability != p.FraudProbability ||
		!old.IsFraud || old.ModelVersion != p.ModelVersion {
		t.Errorf("old consumer read %+v, %v", old, err)
	}
}
