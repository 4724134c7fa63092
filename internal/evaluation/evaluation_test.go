package evaluation_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"function/internal/evaluation"
)

func rows(scores []float64, frauds []bool) []evaluation.Row {
	out := make([]evaluation.Row, len(scores))
	for i := range scores {
		out[i] = evaluation.Row{Score: scores[i], Fraud: frauds[i], Customer: int64(i)}
	}
	return out
}

func TestRankingMetrics(t *testing.T) {
	cases := map[string]struct {
		rows    []evaluation.Row
		auc, ap float64
	}{
		"mixed":   {rows([]float64{0.9, 0.8, 0.7, 0.6}, []bool{true, false, true, false}), 0.75, 0.5 + 0.5*2.0/3},
		"perfect": {rows([]float64{0.9, 0.1}, []bool{true, false}), 1, 1},
		"tie":     {rows([]float64{0.5, 0.5}, []bool{true, false}), 0.5, 0.5},
		// Thresholds 0.9 (P 0, R 0), 0.5 (P 1/3, R 1/2), 0.1 (P 2/4, R 1); of the four
		// fraud/legit pairs only the tied one counts, as one half.
		"tie group": {rows([]float64{0.9, 0.5, 0.5, 0.1}, []bool{false, true, false, true}), 0.5 / 4, 0.5/3 + 0.5*0.5},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := evaluation.AUCROC(tc.rows); math.Abs(got-tc.auc) > 1e-12 {
				t.Errorf("AUC %v, want %v", got, tc.auc)
			}
			if got := evaluation.AveragePrecision(tc.rows); math.Abs(got-tc.ap) > 1e-12 {
				t.Errorf("AP %v, want %v", got, tc.ap)
			}
		})
	}
	if !math.IsNaN(evaluation.AUCROC(rows([]float64{1}, []bool{true}))) {
		t.Error("AUC of one class should be NaN")
	}
}

func TestCardPrecision(t *testing.T) {
	r := []evaluation.Row{
		{Day: 0, Customer: 1, Score: 0.9, Fraud: true},
		{Day: 0, Customer: 2, Score: 0.8},
		{Day: 0, Customer: 3, Score: 0.7, Fraud: true},
		{Day: 0, Customer: 3, Score: 0.1}, // a card's score is its day's highest
		{Day: 1, Customer: 1, Score: 0.95, Fraud: true},
		{Day: 1, Customer: 3, Score: 0.6, Fraud: true},
		{Day: 1, Customer: 2, Score: 0.5},
	}
	// Day 0: top 2 = cards 1, 2 → 1/2. Day 1: card 1 was detected, so top 2 = 3, 2 → 1/2.
	if got := evaluation.CardPrecisionAtK(r, 2); got != 0.5 {
		t.Errorf("CP@2 = %v, want 0.5", got)
	}
	// k beyond the cards of a day still divides by k.
	if got := evaluation.CardPrecisionAtK(r[:4], 4); got != 0.5 {
		t.Errorf("CP@4 = %v, want 0.5", got)
	}
}

func TestKnownCompromised(t *testing.T) {
	w := evaluation.Window{TrainStart: 10, TrainDays: 7, DelayDays: 7, TestDays: 7} // test days 24..30
	frauds := map[int64][]int64{
		1: {12}, // in the training week: known for the whole test week
		2: {20}, // in the delay: known from test day 24+(20-16)=28 on
		3: {25}, // in the test week itself: never known before the end
		4: {5},  // before the training week: not known (the handbook only looks from the train start)
	}
	var test []evaluation.Row
	for c := int64(1); c <= 4; c++ {
		for d := int64(24); d <= 30; d++ {
			test = append(test, evaluation.Row{Customer: c, Day: d})
		}
	}
	kept := map[int64]int{}
	for _, r := range w.KnownCompromised(test, frauds) {
		kept[r.Customer]++
	}
	want := map[int64]int{2: 4, 3: 7, 4: 7} // card 2 kept on days 24..27
	if len(kept) != len(want) || kept[2] != 4 || kept[3] != 7 || kept[4] != 7 {
		t.Errorf("kept %v, want %v", kept, want)
	}
}

// TestMatchesScikitLearn compares with the values the training side computed with scikit-learn
// and its Card Precision@100 on a real test week (testdata/metrics.json, written by make train).
func TestMatchesScikitLearn(t *testing.T) {
	data, err := os.ReadFile("testdata/metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Scores    []float64 `json:"scores"`
		Labels    []int     `json:"labels"`
		Customers []int64   `json:"customer_ids"`
		Days      []int64   `json:"days"`
		AUC       float64   `json:"auc_roc"`
		AP        float64   `json:"average_precision"`
		CP        float64   `json:"card_precision_at_100"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Scores) < 1000 || len(v.Labels) != len(v.Scores) || len(v.Customers) != len(v.Scores) || len(v.Days) != len(v.Scores) {
		t.Fatalf("vectors: %d scores, %d labels, %d customers, %d days", len(v.Scores), len(v.Labels), len(v.Customers), len(v.Days))
	}
	r := make([]evaluation.Row, len(v.Scores))
	for i := range r {
		r[i] = evaluation.Row{Score: v.Scores[i], Fraud: v.Labels[i] == 1, Customer: v.Customers[i], Day: v.Days[i]}
	}
	got := evaluation.Evaluate(r)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"AUC ROC", got.AUCROC, v.AUC}, {"average precision", got.AveragePrecision, v.AP}, {"CP@100", got.CardPrecisionAt100, v.CP}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s: Go %v, scikit-learn/handbook %v", c.name, c.got, c.want)
		}
	}
}

// TestCardPrecisionCeiling: the ceiling is a perfect ranking's CP@100, so no scoring of the same
// rows beats it, and a day with fewer compromised cards than k caps it.
func TestCardPrecisionCeiling(t *testing.T) {
	var rows []evaluation.Row
	for c := range int64(300) {
		// Day 0: cards 0..2 compromised (one fraud each); day 1: cards 100..149.
		rows = append(rows,
			evaluation.Row{Customer: c, Day: 0, Fraud: c < 3, Score: float64(c%7) / 7},
			evaluation.Row{Customer: c, Day: 1, Fraud: c >= 100 && c < 150, Score: float64(c%11) / 11})
	}
	r := evaluation.Evaluate(rows)
	if want := (3.0/100 + 50.0/100) / 2; r.CardPrecisionAt100Ceiling != want {
		t.Errorf("ceiling = %v, want %v", r.CardPrecisionAt100Ceiling, want)
	}
	if r.CardPrecisionAt100 > r.CardPrecisionAt100Ceiling {
		t.Errorf("CP@100 %v above its ceiling %v", r.CardPrecisionAt100, r.CardPrecisionAt100Ceiling)
	}
	for i := range rows {
		rows[i].Score = 0
		if rows[i].Fraud {
			rows[i].Score = 1
		}
	}
	if got := evaluation.Evaluate(rows).CardPrecisionAt100; got != r.CardPrecisionAt100Ceiling {
		t.Errorf("a perfect ranking's CP@100 = %v, the ceiling says %v", got, r.CardPrecisionAt100Ceiling)
	}
}

// TestSeenCeiling: the seen ceiling ranks the unseen frauds with the genuine transactions, and
// the AUC is split between the frauds a model can see and those it cannot.
func TestSeenCeiling(t *testing.T) {
	var rows []evaluation.Row
	for c := range int64(1000) {
		// Cards 0..39 have a seen fraud, 900..919 an unseen one; the genuine ones score 0.2 or
		// 0.8, the unseen frauds 0.5 between them, the seen ones 0.9 above all.
		r := evaluation.Row{Customer: c, Score: 0.2 + 0.6*float64(c%2)}
		switch {
		case c < 40:
			r.Fraud, r.Score = true, 0.9
		case c >= 900 && c < 920:
			r.Fraud, r.Unseen, r.Score = true, true, 0.5
		}
		rows = append(rows, r)
	}
	r := evaluation.Evaluate(rows)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"ceiling", r.CardPrecisionAt100Ceiling, 0.6},
		{"seen ceiling", r.CardPrecisionAt100SeenCeiling, 0.4},
		{"AUC on the seen frauds", r.AUCROCSeen, 1},
		{"AUC on the unseen frauds", r.AUCROCUnseen, 0.5},
		{"frauds", float64(r.Frauds), 60},
		{"unseen frauds", float64(r.UnseenFrauds), 20},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
