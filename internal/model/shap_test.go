package model_test

import (
	"encoding/csv"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"function/internal/features"
	"function/internal/model"
)

// readCSV reads a testdata table written by training: a header, then floats.
func readCSV(t testing.TB, path string) (header []string, rows [][]float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for r, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for i, s := range rec {
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s row %d: %v", path, r+1, err)
			}
		}
		rows = append(rows, row)
	}
	return recs[0], rows
}

func vector(row []float64) *features.Vector {
	var v features.Vector
	copy(v[:], row)
	return &v
}

// TestContributionsParityWithLightGBM compares Go's TreeSHAP with LightGBM's
// predict(pred_contrib=True) on the parity rows (testdata/contrib.csv, written by `make train` or
// `python -m fraudtrain.contrib` from testdata/parity.csv), and checks that the parts sum to the
// raw score.
func TestContributionsParityWithLightGBM(t *testing.T) {
	_, rows := readCSV(t, "testdata/parity.csv")
	header, want := readCSV(t, "testdata/contrib.csv")
	if len(want) != len(rows) || len(rows) < 10000 {
		t.Fatalf("%d contribution rows for %d parity rows, want equal and at least 10,000", len(want), len(rows))
	}
	for i, n := range features.Names {
		if header[i] != n {
			t.Fatalf("column %d is %q, want %q", i, header[i], n)
		}
	}
	if header[features.Count] != "expected_value" {
		t.Fatalf("last column %q, want expected_value", header[features.Count])
	}
	m, err := model.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	worst, worstSum := 0.0, 0.0
	for r, row := range rows {
		v := vector(row)
		x, err := m.Explain(v)
		if err != nil {
			t.Fatal(err)
		}
		for i := range features.Count {
			worst = max(worst, math.Abs(x.Contributions[i]-want[r][i]))
		}
		worst = max(worst, math.Abs(x.Expected-want[r][features.Count]))
		worstSum = max(worstSum, math.Abs(x.Raw()-m.Raw(v)))
	}
	t.Logf("%d rows: max |Go − LightGBM pred_contrib| = %.3g, max |Σ contributions + expected − raw| = %.3g",
		len(rows), worst, worstSum)
	if worst > 1e-6 {
		t.Errorf("max contribution difference %g > 1e-6", worst)
	}
	if worstSum > 1e-9 {
		t.Errorf("contributions plus expected value miss the raw score by %g > 1e-9", worstSum)
	}
}

// The cost of a reason: scoring alone against scoring plus the full TreeSHAP explanation, on the
// same parity rows (compare the two in one run; the machine is shared).
func BenchmarkScore(b *testing.B) {
	m, rows := benchRows(b)
	b.ReportAllocs()
	b.ResetTimer()
	s := 0.0
	for i := 0; b.Loop(); i++ {
		s += m.Probability(rows[i%len(rows)])
	}
	_ = s
}

func BenchmarkScoreAndExplain(b *testing.B) {
	m, rows := benchRows(b)
	b.ReportAllocs()
	b.ResetTimer()
	s := 0.0
	for i := 0; b.Loop(); i++ {
		v := rows[i%len(rows)]
		s += m.Probability(v)
		x, err := m.Explain(v)
		if err != nil {
			b.Fatal(err)
		}
		s += x.Expected
	}
	_ = s
}

func benchRows(b *testing.B) (*model.Model, []*features.Vector) {
	b.Helper()
	m, err := model.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	_, rows := readCSV(b, "testdata/parity.csv")
	vs := make([]*features.Vector, 1000)
	for i := range vs {
		vs[i] = vector(rows[i*len(rows)/len(vs)])
	}
	return m, vs
}

func TestTopReasons(t *testing.T) {
	var v features.Vector
	for i := range v {
		v[i] = float64(i) + 0.5
	}
	x := model.Explanation{Expected: -5}
	x.Contributions[0] = 0.3 // AMOUNT
	x.Contributions[12] = 2  // TERMINAL_RISK_7D
	x.Contributions[4] = 0.3 // a tie with AMOUNT: model order breaks it
	x.Contributions[7] = -1  // towards legit: never a reason
	cases := map[string]struct {
		n    int
		want []string
	}{
		"all positive, strongest first": {10, []string{"TERMINAL_RISK_7D", "AMOUNT", "CUSTOMER_AVG_AMOUNT_1D"}},
		"cut at n":                      {2, []string{"TERMINAL_RISK_7D", "AMOUNT"}},
		"none asked":                    {0, []string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := x.Top(&v, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("%d reasons %+v, want %v", len(got), got, tc.want)
			}
			for i, r := range got {
				f := slices.Index(features.ReasonCodes[:], r.Code)
				if r.Code != tc.want[i] || r.Feature != features.Names[f] || r.Value != v[f] || r.Contribution != x.Contributions[f] {
					t.Errorf("reason %d = %+v, want code %s with its feature, value and contribution", i, r, tc.want[i])
				}
			}
		})
	}
	if all := x.All(&v); len(all) != features.Count || all[12].Code != "TERMINAL_RISK_7D" || all[7].Contribution != -1 {
		t.Errorf("All = %+v", all)
	}
}

// Every input has a distinct code (a consumer keys on them).
func TestReasonCodesDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range features.ReasonCodes {
		if c == "" || seen[c] {
			t.Errorf("feature %s: code %q empty or repeated", features.Names[i], c)
		}
		seen[c] = true
	}
}
