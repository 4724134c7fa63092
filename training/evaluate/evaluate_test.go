//go:build !race

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"

	"function/internal/evaluation"
)

// TestHeavyBuiltinBeatsHandbook runs the evaluate command on five seeds the built-in model was not
// trained on (101-105, the README's table) and holds it to issue 16's targets where the data
// allows them: mean AUC >= 0.885 and AP >= 0.72, no seed below the handbook's best after model
// selection (AUC 0.869, AP 0.687), and CP@100 at its seen ceiling on every seed (the 0.32
// is above that ceiling: README, "Part of every test week is unseen").
func TestHeavyBuiltinBeatsHandbook(t *testing.T) {
	var sum evaluation.Report
	seeds := []string{"101", "102", "103", "104", "105"}
	for _, s := range seeds {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-seed", s}, &out); err != nil {
			t.Fatal(err)
		}
		var r evaluation.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		t.Logf("seed %s: %s", s, bytes.TrimSpace(out.Bytes()))
		if r.Transactions < 40000 || r.Frauds < 200 {
			t.Errorf("seed %s: test week has %d transactions, %d frauds", s, r.Transactions, r.Frauds)
		}
		// The seen/unseen split is the bound the README gives for CP@100: the model ranks the
		// unseen frauds no better than chance and the seen ones almost perfectly, so its CP@100
		// sits at or under the seen ceiling (plus what chance gives the unseen ones).
		if r.UnseenFrauds == 0 || r.AUCROCUnseen < 0.4 || r.AUCROCUnseen > 0.6 || r.AUCROCSeen < 0.98 {
			t.Errorf("seed %s: %d unseen frauds, AUC %.3f on them and %.3f on the seen ones; want about 0.5 and above 0.98",
				s, r.UnseenFrauds, r.AUCROCUnseen, r.AUCROCSeen)
		}
		if r.CardPrecisionAt100SeenCeiling > r.CardPrecisionAt100Ceiling || math.Abs(r.CardPrecisionAt100-r.CardPrecisionAt100SeenCeiling) > 0.01 {
			t.Errorf("seed %s: CP@100 %.3f, seen ceiling %.3f, ceiling %.3f: want CP@100 = seen ceiling (±0.01, chance) <= ceiling",
				s, r.CardPrecisionAt100, r.CardPrecisionAt100SeenCeiling, r.CardPrecisionAt100Ceiling)
		}
		if r.AUCROC < 0.869 || r.AveragePrecision < 0.687 {
			t.Errorf("seed %s: AUC %.4f, AP %.4f: below the handbook's best 0.869 / 0.687", s, r.AUCROC, r.AveragePrecision)
		}
		sum.AUCROC += r.AUCROC
		sum.AveragePrecision += r.AveragePrecision
		sum.CardPrecisionAt100 += r.CardPrecisionAt100
	}
	n := float64(len(seeds))
	auc, ap, cp := sum.AUCROC/n, sum.AveragePrecision/n, sum.CardPrecisionAt100/n
	t.Logf("mean: AUC %.4f AP %.4f CP@100 %.4f", auc, ap, cp)
	if auc < 0.885 || ap < 0.72 {
		t.Errorf("mean AUC %.4f / AP %.4f below issue 16's 0.885 / 0.72", auc, ap)
	}
}
