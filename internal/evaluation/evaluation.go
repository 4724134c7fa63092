// Package evaluation implements the handbook's three fraud-detection metrics — AUC ROC and average
// precision as scikit-learn computes them, and Card Precision@k as the handbook defines it — and its
// test-set protocol (cards already known to be compromised are removed).
package evaluation

import (
	"cmp"
	"slices"
)

// Row is one scored test transaction.
type Row struct {
	Score    float64
	Fraud    bool
	Customer int64
	Day      int64 // days since the dataset's start
	// Unseen marks a fraud that nothing known when it was scored tells from a genuine
	// transaction: the simulator's scenario 2 at a terminal whose current compromise has no fraud
	// known yet (Report.CardPrecisionAt100SeenCeiling).
	Unseen bool
}

// byScoreDesc returns the indices of scores from highest to lowest.
func byScoreDesc(rows []Row) []int {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rows[b].Score, rows[a].Score) })
	return idx
}

// AUCROC is the area under the ROC curve, ties counted as half (sklearn's roc_auc_score). It is
// NaN when only one class is present.
func AUCROC(rows []Row) float64 {
	idx := byScoreDesc(rows)
	var pos, neg float64
	for _, r := range rows {
		if r.Fraud {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nan()
	}
	var area, tp, fp, prevTP, prevFP float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && rows[idx[j]].Score == rows[idx[i]].Score {
			if rows[idx[j]].Fraud {
				tp++
			} else {
				fp++
			}
			j++
		}
		area += (fp - prevFP) * (tp + prevTP) / 2
		prevTP, prevFP = tp, fp
		i = j
	}
	return area / (pos * neg)
}

// AveragePrecision is Σ (R_n − R_{n−1}) P_n over the distinct score thresholds (sklearn's
// average_precision_score). It is NaN without positives.
func AveragePrecision(rows []Row) float64 {
	idx := byScoreDesc(rows)
	var pos float64
	for _, r := range rows {
		if r.Fraud {
			pos++
		}
	}
	if pos == 0 {
		return nan()
	}
	var ap, tp, fp, prevRecall float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && rows[idx[j]].Score == rows[idx[i]].Score {
			if rows[idx[j]].Fraud {
				tp++
			} else {
				fp++
			}
			j++
		}
		recall := tp / pos
		ap += (recall - prevRecall) * tp / (tp + fp)
		prevRecall = recall
		i = j
	}
	return ap
}

// CardPrecisionAtK is the handbook's Card Precision@k: for each day, the customers ranked by their
// highest score of the day, the share of compromised cards among the top k; cards detected on an
// earlier day are left out of later days; the mean over days. Equal scores rank by customer id.
func CardPrecisionAtK(rows []Row, k int) float64 {
	type card struct {
		score float64
		fraud bool
	}
	days := map[int64]map[int64]*card{}
	for _, r := range rows {
		d := days[r.Day]
		if d == nil {
			d = map[int64]*card{}
			days[r.Day] = d
		}
		c := d[r.Customer]
		if c == nil {
			d[r.Customer] = &card{score: r.Score, fraud: r.Fraud}
			continue
		}
		c.score = max(c.score, r.Score)
		c.fraud = c.fraud || r.Fraud
	}
	order := make([]int64, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.Sort(order)
	detected := map[int64]bool{}
	sum := 0.0
	for _, d := range order {
		type ranked struct {
			customer int64
			card
		}
		var list []ranked
		for c, v := range days[d] {
			if !detected[c] {
				list = append(list, ranked{c, *v})
			}
		}
		slices.SortFunc(list, func(a, b ranked) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return cmp.Compare(a.customer, b.customer)
		})
		hits := 0
		for _, c := range list[:min(k, len(list))] {
			if c.fraud {
				hits++
				detected[c.customer] = true
			}
		}
		sum += float64(hits) / float64(k)
	}
	if len(order) == 0 {
		return nan()
	}
	return sum / float64(len(order))
}

// Window is the handbook's split: a training week, a delay, a test week (days since the start).
type Window struct {
	TrainStart, TrainDays, DelayDays, TestDays int64
}

// HandbookWindow is §3.4's: train 2018-07-25..31, delay 7 days, test 2018-08-08..14.
var HandbookWindow = Window{TrainStart: 115, TrainDays: 7, DelayDays: 7, TestDays: 7}

// TestStart is the first test day.
func (w Window) TestStart() int64 { return w.TrainStart + w.TrainDays + w.DelayDays }

// End is the day after the last test day.
func (w Window) End() int64 { return w.TestStart() + w.TestDays }

// KnownCompromised filters test rows as the handbook's get_train_test_set does: a test day drops
// the customers with a fraud in the training week or on any day up to the one that is known by
// then (the day before test day − delay). frauds lists the days on which each customer was
// defrauded, over the whole dataset.
func (w Window) KnownCompromised(test []Row, frauds map[int64][]int64) []Row {
	out := test[:0:0]
	for _, r := range test {
		i := r.Day - w.TestStart()
		knownUpTo := w.TrainStart + w.TrainDays + i - 1 // inclusive
		known := false
		for _, d := range frauds[r.Customer] {
			if d >= w.TrainStart && d <= knownUpTo {
				known = true
				break
			}
		}
		if !known {
			out = append(out, r)
		}
	}
	return out
}

// Report is what the evaluate command prints.
type Report struct {
	AUCROC             float64 `json:"auc_roc"`
	AveragePrecision   float64 `json:"average_precision"`
	CardPrecisionAt100 float64 `json:"card_precision_at_100"`
	// CardPrecisionAt100Ceiling is the CP@100 of a perfect ranking of the same rows: the frauds
	// first. It is the most any model can reach on the test week: a day with fewer than 100
	// undetected compromised cards caps its share below 1.
	CardPrecisionAt100Ceiling float64 `json:"card_precision_at_100_ceiling"`
	// CardPrecisionAt100SeenCeiling is the CP@100 of a ranking that knows every fraud except the
	// unseen ones, which it ranks with the genuine transactions: the most a model whose inputs
	// cannot see those frauds can expect.
	CardPrecisionAt100SeenCeiling float64 `json:"card_precision_at_100_seen_ceiling"`
	// AUCROCSeen and AUCROCUnseen are the model's AUC on the seen and on the unseen frauds, each
	// against all the genuine transactions: about 0.5 on the unseen ones says the model cannot
	// tell them from genuine ones (NaN when a part is empty).
	AUCROCSeen   float64 `json:"auc_roc_seen"`
	AUCROCUnseen float64 `json:"auc_roc_unseen"`
	Transactions int     `json:"transactions"`
	Frauds       int     `json:"frauds"`
	UnseenFrauds int     `json:"unseen_frauds"`
}

// Evaluate computes the three metrics over test rows.
func Evaluate(rows []Row) Report {
	r := Report{AUCROC: AUCROC(rows), AveragePrecision: AveragePrecision(rows), CardPrecisionAt100: CardPrecisionAtK(rows, 100), Transactions: len(rows)}
	perfect := make([]Row, len(rows))
	seen := make([]Row, len(rows))
	var seenRows, unseenRows []Row
	for i, x := range rows {
		perfect[i], seen[i] = x, x
		perfect[i].Score, seen[i].Score = 0, 0
		switch {
		case x.Fraud && x.Unseen:
			r.Frauds++
			r.UnseenFrauds++
			perfect[i].Score = 1
			unseenRows = append(unseenRows, x)
		case x.Fraud:
			r.Frauds++
			perfect[i].Score, seen[i].Score = 1, 1
			seenRows = append(seenRows, x)
		default:
			seenRows = append(seenRows, x)
			unseenRows = append(unseenRows, x)
		}
	}
	r.CardPrecisionAt100Ceiling = CardPrecisionAtK(perfect, 100)
	r.CardPrecisionAt100SeenCeiling = CardPrecisionAtK(seen, 100)
	r.AUCROCSeen, r.AUCROCUnseen = AUCROC(seenRows), AUCROC(unseenRows)
	return r
}

func nan() float64 {
	var z float64
	return z / z
}
