package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// twoTreesCounted is twoTrees with the training counts LightGBM writes: tree 0 saw 100 rows, 60
// to the left split (40 to leaf 0, 20 to leaf 1) and 40 to leaf 2.
var twoTreesCounted = strings.Replace(strings.Replace(twoTrees,
	"leaf_value=0.1 0.2 0.3\n", "leaf_value=0.1 0.2 0.3\nleaf_count=40 20 40\ninternal_count=100 60\n", 1),
	"leaf_value=-0.05\n", "leaf_value=-0.05\nleaf_count=100\n", 1)

// conditional is the tree's expected output when only the features in known follow x and the
// others are averaged over the training rows (weighted by the nodes' counts): the value function
// TreeSHAP's Shapley values are defined on.
func (e *Ensemble) conditional(i int32, x []float64, known map[int]bool) float64 {
	if i < 0 {
		return e.leaves[^i]
	}
	n := &e.nodes[i]
	if known[int(n.feature)] {
		if decideLeft(n, x[n.feature]) {
			return e.conditional(n.left, x, known)
		}
		return e.conditional(n.right, x, known)
	}
	l, r := e.count(n.left), e.count(n.right)
	return (l*e.conditional(n.left, x, known) + r*e.conditional(n.right, x, known)) / n.count
}

// treeFeatures lists the features tree root splits on.
func (e *Ensemble) treeFeatures(root int32) []int {
	seen := map[int]bool{}
	var out []int
	var walk func(int32)
	walk = func(i int32) {
		if i < 0 {
			return
		}
		if f := int(e.nodes[i].feature); !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
		walk(e.nodes[i].left)
		walk(e.nodes[i].right)
	}
	walk(root)
	return out
}

// bruteShapley is the Shapley value of every feature by its definition, a sum over all subsets
// of each tree's features (features a tree does not split on get nothing from it).
func (e *Ensemble) bruteShapley(x []float64) []float64 {
	phi := make([]float64, e.features)
	for _, root := range e.roots {
		if root < 0 {
			continue
		}
		fs := e.treeFeatures(root)
		m := len(fs)
		for _, i := range fs {
			for mask := 0; mask < 1<<m; mask++ {
				known := map[int]bool{}
				size := 0
				skip := false
				for j, f := range fs {
					if mask&(1<<j) != 0 {
						if f == i {
							skip = true
						}
						known[f] = true
						size++
					}
				}
				if skip {
					continue
				}
				without := e.conditional(root, x, known)
				known[i] = true
				with := e.conditional(root, x, known)
				w := fact(size) * fact(m-size-1) / fact(m)
				phi[i] += w * (with - without)
			}
		}
	}
	return phi
}

func fact(n int) float64 {
	f := 1.0
	for i := 2; i <= n; i++ {
		f *= float64(i)
	}
	return f
}

func TestContributionsMatchShapleyDefinition(t *testing.T) {
	small, err := ParseLightGBM([]byte(twoTreesCounted))
	if err != nil {
		t.Fatal(err)
	}
	txt, err := builtin.ReadFile("builtin/" + ModelFile)
	if err != nil {
		t.Fatal(err)
	}
	big, err := ParseLightGBM(txt)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bigRows := make([][]float64, 20)
	for r := range bigRows {
		x := make([]float64, big.Features())
		for i := range x {
			// Around the builtin model's thresholds: amounts, counts and risks.
			x[i] = []float64{rng.Float64(), rng.Float64() * 300, float64(rng.IntN(40)), 0}[rng.IntN(4)]
		}
		bigRows[r] = x
	}
	cases := map[string]struct {
		e    *Ensemble
		rows [][]float64
	}{
		"hand tree": {small, [][]float64{{1, 0}, {1, 3}, {2, 0}, {math.NaN(), 5}, {1, math.NaN()}}},
		"builtin":   {big, bigRows},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, x := range tc.rows {
				phi := make([]float64, tc.e.Features())
				exp, err := tc.e.Contributions(x, phi)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.e.bruteShapley(x)
				for i := range phi {
					if math.Abs(phi[i]-want[i]) > 1e-9 {
						t.Errorf("x=%v feature %d: TreeSHAP %v, definition %v", x, i, phi[i], want[i])
					}
				}
				sum := exp
				for _, p := range phi {
					sum += p
				}
				if raw := tc.e.Raw(x); math.Abs(sum-raw) > 1e-9 {
					t.Errorf("x=%v: Σ phi + expected = %v, raw %v", x, sum, raw)
				}
			}
		})
	}
	// The hand tree's expected value is its count-weighted mean leaf plus the constant tree.
	if want := 0.4*0.1 + 0.2*0.2 + 0.4*0.3 - 0.05; math.Abs(small.ExpectedValue()-want) > 1e-15 {
		t.Errorf("expected value %v, want %v", small.ExpectedValue(), want)
	}
}

func TestContributionsNeedCounts(t *testing.T) {
	cases := map[string]string{
		"no counts":  twoTrees,
		"zero count": strings.Replace(twoTreesCounted, "leaf_count=40 20 40", "leaf_count=40 0 40", 1),
		"bad count":  strings.Replace(twoTreesCounted, "internal_count=100 60", "internal_count=100 x", 1),
	}
	for name, dump := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := ParseLightGBM([]byte(dump))
			if err != nil {
				t.Fatal(err) // scoring still works without counts
			}
			if _, err := e.Contributions([]float64{1, 0}, make([]float64, 2)); err != ErrNotExplainable {
				t.Errorf("err = %v, want ErrNotExplainable", err)
			}
		})
	}
}
