package model

import (
	"math"
	"strings"
	"testing"
	"time"
)

// A hand-written two-tree dump: tree 0 splits feature 0 at 1.5 (NaN → default right, missing
// type NaN = decision_type 8) then feature 1 at 0 (missing type Zero, default left = 2|4 = 6);
// tree 1 is a single leaf.
const twoTrees = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:2

Tree=0
num_leaves=3
num_cat=0
split_feature=0 1
threshold=1.5 0
decision_type=8 6
left_child=1 -1
right_child=-3 -2
leaf_value=0.1 0.2 0.3
shrinkage=1

Tree=1
num_leaves=1
num_cat=0
leaf_value=-0.05
shrinkage=1


end of trees
`

func TestEnsembleDecisions(t *testing.T) {
	e, err := ParseLightGBM([]byte(twoTrees))
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	cases := map[string]struct {
		x    []float64
		leaf float64
	}{
		"left then zero goes default left": {[]float64{1, 0}, 0.1},
		"left then NaN is zero":            {[]float64{1, nan}, 0.1},
		"left then positive goes right":    {[]float64{1.5, 3}, 0.2},
		"left then negative <= 0":          {[]float64{0, -1}, 0.1},
		"right":                            {[]float64{1.6, 0}, 0.3},
		"NaN takes the default (right)":    {[]float64{nan, 0}, 0.3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw := e.Raw(tc.x)
			if want := tc.leaf - 0.05; math.Abs(raw-want) > 1e-15 {
				t.Errorf("raw %v, want %v", raw, want)
			}
			if p, want := e.Probability(tc.x), 1/(1+math.Exp(-2*(tc.leaf-0.05))); math.Abs(p-want) > 1e-15 {
				t.Errorf("probability %v, want %v", p, want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]struct{ model, want string }{
		"truncated":   {twoTrees[:len(twoTrees)-20], "truncated"},
		"multiclass":  {strings.Replace(twoTrees, "num_class=1", "num_class=3", 1), "one class"},
		"regression":  {strings.Replace(twoTrees, "objective=binary sigmoid:2", "objective=regression", 1), "not binary"},
		"categorical": {strings.Replace(twoTrees, "decision_type=8 6", "decision_type=9 6", 1), "categorical"},
		"bad child":   {strings.Replace(twoTrees, "left_child=1 -1", "left_child=7 -1", 1), "out of range"},
		"bad leaf":    {strings.Replace(twoTrees, "right_child=-3 -2", "right_child=-9 -2", 1), "out of range"},
		"short leafs": {strings.Replace(twoTrees, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 0.2", 1), "leaf_value"},
		"feature":     {strings.Replace(twoTrees, "split_feature=0 1", "split_feature=0 5", 1), "beyond"},
		"no trees":    {"tree\nnum_class=1\nnum_tree_per_iteration=1\nobjective=binary\nmax_feature_idx=1\nend of trees\n", "no trees"},
		"garbage num": {strings.Replace(twoTrees, "threshold=1.5 0", "threshold=1.5 x", 1), "threshold"},
		// Structures that are not trees: each would loop in Raw or score from the wrong leaf.
		"cycle":            {strings.Replace(twoTrees, "left_child=1 -1", "left_child=1 0", 1), "reached twice"},
		"self loop":        {strings.Replace(twoTrees, "left_child=1 -1", "left_child=0 -1", 1), "reached twice"},
		"shared leaf":      {strings.Replace(twoTrees, "right_child=-3 -2", "right_child=-1 -2", 1), "leaf 0 is reached twice"},
		"negative child":   {strings.Replace(twoTrees, "left_child=1 -1", "left_child=-2147483649 -1", 1), "out of range"},
		"unreachable leaf": {strings.Replace(twoTrees, "right_child=-3 -2", "right_child=-3 -1", 1), "reached twice"},
		"negative feature": {strings.Replace(twoTrees, "split_feature=0 1", "split_feature=0 -1", 1), "feature"},
		"huge feature":     {strings.Replace(twoTrees, "split_feature=0 1", "split_feature=0 70000", 1), "feature"},
		"NaN threshold":    {strings.Replace(twoTrees, "threshold=1.5 0", "threshold=nan 0", 1), "threshold 0 is NaN"},
		"Inf threshold":    {strings.Replace(twoTrees, "threshold=1.5 0", "threshold=1.5 -inf", 1), "threshold 1 is -Inf"},
		"NaN leaf":         {strings.Replace(twoTrees, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 NaN 0.3", 1), "leaf_value 1 is NaN"},
		"Inf leaf":         {strings.Replace(twoTrees, "leaf_value=-0.05", "leaf_value=+Inf", 1), "leaf_value 0 is +Inf"},
		"more leaves than splits": {strings.Replace(strings.Replace(twoTrees, "num_leaves=3", "num_leaves=4", 1),
			"leaf_value=0.1 0.2 0.3", "leaf_value=0.1 0.2 0.3 0.4", 1), "split_feature: 2 values, want 3"},
		"Inf sigmoid":            {strings.Replace(twoTrees, "sigmoid:2", "sigmoid:inf", 1), "sigmoid"},
		"num_leaves not a count": {strings.Replace(twoTrees, "num_leaves=3", "num_leaves=0", 1), "num_leaves"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseGuarded(t, tc.model)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// parseGuarded parses a dump and, if it loads, scores a few vectors with it; a model that does
// not finish within a second fails the test instead of hanging it.
func parseGuarded(t *testing.T, dump string) (*Ensemble, error) {
	t.Helper()
	type result struct {
		e   *Ensemble
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := ParseLightGBM([]byte(dump))
		if err == nil {
			var flat []float64
			for _, x := range probes(e.Features()) {
				_ = e.Probability(x)
				flat = append(flat, x...)
			}
			e.RawBatch(flat, make([]float64, len(flat)/e.Features()))
		}
		done <- result{e, err}
	}()
	select {
	case r := <-done:
		return r.e, r.err
	case <-time.After(time.Second):
		t.Fatal("model accepted and Probability did not return within 1s (a cycle in a tree?)")
		return nil, nil
	}
}

// probes are feature vectors that between them take both sides of most splits.
func probes(n int) [][]float64 {
	var out [][]float64
	for _, v := range []float64{0, 1, -1, 1e300, -1e300, math.NaN()} {
		x := make([]float64, n)
		for i := range x {
			x[i] = v
		}
		out = append(out, x)
	}
	return out
}

// TestCyclicModelRefused is the reported attack: a dump whose child indices form a cycle used to
// load, and Predict then looped forever.
func TestCyclicModelRefused(t *testing.T) {
	cyclic := strings.Replace(twoTrees, "left_child=1 -1", "left_child=1 0", 1)
	if _, err := parseGuarded(t, cyclic); err == nil {
		t.Fatal("a tree whose node 1 points back at node 0 was accepted")
	}
}

// The builtin model's trees are all real trees (the check refuses nothing LightGBM writes).
func TestBuiltinPassesStructureCheck(t *testing.T) {
	txt, err := builtin.ReadFile("builtin/" + ModelFile)
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseGuarded(t, string(txt))
	if err != nil {
		t.Fatal(err)
	}
	if e.Trees() == 0 {
		t.Fatal("no trees")
	}
}

func FuzzParseLightGBM(f *testing.F) {
	f.Add([]byte(twoTrees))
	f.Add([]byte(strings.Replace(twoTrees, "left_child=1 -1", "left_child=1 0", 1)))
	f.Add([]byte(strings.Replace(twoTrees, "right_child=-3 -2", "right_child=-1 -2", 1)))
	f.Add([]byte(strings.Replace(twoTrees, "threshold=1.5 0", "threshold=nan 0", 1)))
	f.Add([]byte(twoTreesCounted))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseLightGBM(data)
		if err != nil {
			return
		}
		// Whatever parsed must evaluate, without panicking and without looping: a checked tree
		// reaches a leaf in at most as many steps as it has splits.
		phi := make([]float64, e.Features())
		var flat []float64
		for _, x := range probes(e.Features()) {
			flat = append(flat, x...)
		}
		batch := make([]float64, len(flat)/e.Features())
		e.RawBatch(flat, batch)
		for r, x := range probes(e.Features()) {
			if p := e.Probability(x); p != p {
				t.Fatalf("probability NaN for %v", x)
			}
			// The evaluation layout scores exactly as the TreeSHAP nodes do.
			if want := e.rawReference(x); math.Float64bits(e.Raw(x)) != math.Float64bits(want) || math.Float64bits(batch[r]) != math.Float64bits(want) {
				t.Fatalf("x=%v: Raw %v, RawBatch %v, reference %v", x, e.Raw(x), batch[r], want)
			}
			// An explanation either is refused or sums to the raw score.
			exp, err := e.Contributions(x, phi)
			if err != nil {
				continue
			}
			sum, scale := exp, math.Abs(exp)
			for _, c := range phi {
				sum += c
				scale += math.Abs(c)
			}
			if raw := e.Raw(x); !(math.Abs(sum-raw) <= 1e-9*max(1, scale)) {
				t.Fatalf("x=%v: contributions sum to %v, raw %v", x, sum, raw)
			}
		}
	})
}
