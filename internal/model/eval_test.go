package model

import (
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"function/internal/features"
)

// builtinEnsemble parses the committed model.
func builtinEnsemble(tb testing.TB) *Ensemble {
	tb.Helper()
	txt, err := builtin.ReadFile("builtin/" + ModelFile)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := ParseLightGBM(txt)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// parityRows reads the feature columns of testdata/parity.csv as rows back to back.
func parityRows(tb testing.TB, nf int) []float64 {
	tb.Helper()
	f, err := os.Open("testdata/parity.csv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	if len(rows) < 2 {
		tb.Fatal("no parity rows")
	}
	var out []float64
	for r, row := range rows[1:] {
		if len(row) < nf {
			tb.Fatalf("parity row %d has %d columns, want at least %d", r+1, len(row), nf)
		}
		for _, s := range row[:nf] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				tb.Fatalf("parity row %d: %v", r+1, err)
			}
			out = append(out, v)
		}
	}
	return out
}

// batchSizes are the batch lengths the tests score: empty, partial and whole blocks of
// evalLanes rows, and more than one chunk of batchRows.
var batchSizes = []int{0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 100, 1000}

// checkBatches scores every window of the rows x (nf values each) of each batch size with RawBatch
// and ProbabilityBatch, and each row with Raw, and fails on any bit that differs from
// rawReference.
func checkBatches(t *testing.T, e *Ensemble, x []float64) {
	t.Helper()
	nf := e.Features()
	rows := len(x) / nf
	want := make([]float64, rows)
	for r := range want {
		row := x[r*nf : r*nf+nf]
		want[r] = e.rawReference(row)
		if got := e.Raw(row); math.Float64bits(got) != math.Float64bits(want[r]) {
			t.Fatalf("row %d %v: Raw %v (%#x), reference %v (%#x)", r, row, got, math.Float64bits(got), want[r], math.Float64bits(want[r]))
		}
	}
	for _, size := range batchSizes {
		if size > rows {
			continue
		}
		out := make([]float64, size)
		prob := make([]float64, size)
		for start := 0; start+size <= rows; start += max(size, 1) {
			for i := range out {
				out[i] = math.NaN() // RawBatch must write every score
			}
			e.RawBatch(x[start*nf:(start+size)*nf], out)
			e.ProbabilityBatch(x[start*nf:(start+size)*nf], prob)
			for i, got := range out {
				r := start + i
				if math.Float64bits(got) != math.Float64bits(want[r]) {
					t.Fatalf("batch of %d at row %d: row %d %v scores %v (%#x), reference %v (%#x)",
						size, start, r, x[r*nf:r*nf+nf], got, math.Float64bits(got), want[r], math.Float64bits(want[r]))
				}
				if p := e.Probability(x[r*nf : r*nf+nf]); math.Float64bits(prob[i]) != math.Float64bits(p) {
					t.Fatalf("batch of %d: row %d probability %v, Probability %v", size, r, prob[i], p)
				}
			}
			if size == 0 {
				break
			}
		}
	}
}

func TestRawBatchParityRows(t *testing.T) {
	e := builtinEnsemble(t)
	x := parityRows(t, e.Features())
	checkBatches(t, e, x)
	// The rows scored in a different order (each score depends on its row only).
	nf := e.Features()
	rev := make([]float64, 0, len(x))
	for r := len(x)/nf - 1; r >= 0; r-- {
		rev = append(rev, x[r*nf:r*nf+nf]...)
	}
	checkBatches(t, e, rev[:1000*nf])
}

// thresholds lists every split threshold of e.
func thresholds(e *Ensemble) []float64 {
	var out []float64
	for _, n := range e.nodes {
		out = append(out, n.threshold)
	}
	return out
}

// edgeValue draws a feature value that tests the decisions' edges: a threshold exactly or one
// ulp away, NaN, signed zeros, values inside and at the ±1e-35 zero band, infinities, extremes.
func edgeValue(rng *rand.Rand, thr []float64) float64 {
	special := []float64{
		math.NaN(), 0, math.Copysign(0, -1), 1e-35, -1e-35, 5e-36, -5e-36, 2e-35, -2e-35,
		math.Nextafter(1e-35, 1), math.Nextafter(-1e-35, -1), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 1, -1,
	}
	switch k := rng.IntN(10); {
	case k < 3 && len(thr) > 0:
		v := thr[rng.IntN(len(thr))]
		switch rng.IntN(3) {
		case 1:
			v = math.Nextafter(v, math.Inf(1))
		case 2:
			v = math.Nextafter(v, math.Inf(-1))
		}
		return v
	case k < 6:
		return special[rng.IntN(len(special))]
	default:
		return rng.NormFloat64() * []float64{1e-35, 1, 100, 1e6}[rng.IntN(4)]
	}
}

// edgeRows draws rows of nf edge values; nanFree rows (every other one, at random) hold no NaN,
// so that both RawBatch's fast copy and its NaN handling are exercised.
func edgeRows(rng *rand.Rand, e *Ensemble, rows int) []float64 {
	nf := e.Features()
	thr := thresholds(e)
	x := make([]float64, rows*nf)
	for r := range rows {
		nanFree := rng.IntN(2) == 0
		for f := range nf {
			v := edgeValue(rng, thr)
			for nanFree && v != v {
				v = edgeValue(rng, thr)
			}
			x[r*nf+f] = v
		}
	}
	return x
}

func TestRawBatchEdgeValuesBuiltin(t *testing.T) {
	e := builtinEnsemble(t)
	rng := rand.New(rand.NewPCG(7, 11))
	checkBatches(t, e, edgeRows(rng, e, 3000))
}

// syntheticModel writes a LightGBM dump of trees random binary trees over nf features, grown
// leaf-wise as LightGBM grows them (a split turns its leaf into the left child and adds the
// right one). A tree is fast (missing type None everywhere) with probability fastShare;
// the others draw every split's decision type from all missing types and default sides.
func syntheticModel(rng *rand.Rand, trees, maxLeaves, nf int, fastShare float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=%d\nobjective=binary sigmoid:1.5\n\n", nf-1)
	thresholds := []float64{0, 1e-35, -1e-35, 5e-36, -2e-35, 1, -1, 0.5, 1e300, -1e300, math.SmallestNonzeroFloat64}
	for t := range trees {
		leaves := 1 + rng.IntN(maxLeaves)
		fast := rng.Float64() < fastShare
		// parent[l] is the split above leaf l and whether it is the left child; -1 for the root.
		type link struct {
			split int
			left  bool
		}
		parent := []link{{-1, false}}
		var feat, dt, left, right []int
		var thr []float64
		for len(parent) < leaves {
			l := rng.IntN(len(parent))
			s := len(feat)
			if p := parent[l]; p.split >= 0 {
				if p.left {
					left[p.split] = s
				} else {
					right[p.split] = s
				}
			}
			feat = append(feat, rng.IntN(nf))
			v := thresholds[rng.IntN(len(thresholds))]
			if rng.IntN(2) == 0 {
				v = rng.NormFloat64()
			}
			thr = append(thr, v)
			d := []int{0, 2}[rng.IntN(2)]
			if !fast {
				d = []int{0, 2, 4, 6, 8, 10, 12, 18}[rng.IntN(8)]
			}
			dt = append(dt, d)
			left = append(left, ^l)
			right = append(right, ^len(parent))
			parent[l] = link{s, true}
			parent = append(parent, link{s, false})
		}
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=%d\nnum_cat=0\n", t, leaves)
		if leaves > 1 {
			fmt.Fprintf(&b, "split_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\n",
				join(feat), joinFloats(thr), join(dt), join(left), join(right))
		}
		vals := make([]float64, leaves)
		for i := range vals {
			vals[i] = rng.NormFloat64()
		}
		fmt.Fprintf(&b, "leaf_value=%s\nshrinkage=1\n\n", joinFloats(vals))
	}
	b.WriteString("end of trees\n")
	return b.String()
}

func join(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, " ")
}

func TestRawBatchSyntheticMissingModes(t *testing.T) {
	cases := []struct {
		name                 string
		trees, maxLeaves, nf int
		fastShare            float64
	}{
		{"mixed", 37, 31, 6, 0.5},
		{"all general", 20, 15, 4, 0},
		{"all fast", 30, 15, 5, 1},
		{"single leaves and stumps", 25, 2, 3, 0.5},
		{"one feature", 17, 20, 1, 0.5},
		{"deep", 9, 200, 8, 0.5},
		{"wide, few rows per chunk", 12, 15, 100, 0.5},
		{"too wide for the copy", 12, 15, 200, 0.5},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			dump := syntheticModel(rng, tc.trees, tc.maxLeaves, tc.nf, tc.fastShare)
			e, err := parseGuarded(t, dump)
			if err != nil {
				t.Fatalf("%v\n%s", err, dump)
			}
			fast := 0
			for ti, tr := range e.evalTrees {
				if tr.fast != e.missingNoneOnly(e.roots[ti]) {
					t.Fatalf("tree %d: fast %v, but its splits say otherwise", ti, tr.fast)
				}
				if tr.fast {
					fast++
				}
			}
			if tc.fastShare == 1 && fast != tc.trees || tc.fastShare == 0 && fast == tc.trees {
				t.Fatalf("%d of %d trees fast", fast, tc.trees)
			}
			checkBatches(t, e, edgeRows(rng, e, 1200))
		})
	}
}

// missingNoneOnly reports whether every split below TreeSHAP node i has missing type None.
func (e *Ensemble) missingNoneOnly(i int32) bool {
	if i < 0 {
		return true
	}
	n := &e.nodes[i]
	return n.missing == missingNone && e.missingNoneOnly(n.left) && e.missingNoneOnly(n.right)
}

// TestTwoTreesEveryMode scores the hand-written dump with each decision type on both splits.
func TestTwoTreesEveryMode(t *testing.T) {
	for _, d0 := range []int{0, 2, 4, 6, 8, 10} {
		for _, d1 := range []int{0, 2, 4, 6, 8, 10} {
			dump := strings.Replace(twoTrees, "decision_type=8 6", fmt.Sprintf("decision_type=%d %d", d0, d1), 1)
			e, err := ParseLightGBM([]byte(dump))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(d0), uint64(d1)))
			checkBatches(t, e, edgeRows(rng, e, 300))
		}
	}
}

// TestEvalLayoutInRange walks every node of parsed models' layouts: every slot a walk can reach
// is inside its tree and every feature inside the row, and a walk of depth steps ends on a leaf.
func TestEvalLayoutInRange(t *testing.T) {
	models := map[string]*Ensemble{"builtin": builtinEnsemble(t)}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		dump := syntheticModel(rng, 1+rng.IntN(20), 1+rng.IntN(40), 1+rng.IntN(20), 0.5)
		e, err := ParseLightGBM([]byte(dump))
		if err != nil {
			t.Fatal(err)
		}
		models[fmt.Sprint("synthetic ", i)] = e
	}
	for name, e := range models {
		t.Run(name, func(t *testing.T) {
			if err := e.checkEval(); err != nil {
				t.Fatal(err)
			}
			for ti, tr := range e.evalTrees {
				start, end := int(tr.root/2), len(e.eval)
				if ti+1 < len(e.evalTrees) {
					end = int(e.evalTrees[ti+1].root / 2)
				}
				if want := e.leafValuesBelow(e.roots[ti], nil); !sameValues(e.layoutLeaves(start, end), want) || end-start != 2*len(want)-1 {
					t.Fatalf("tree %d: layout nodes [%d, %d) do not hold its %d leaves", ti, start, end, len(want))
				}
				// Every path: depth steps from the root, any choice at each split, ends on a leaf.
				var visit func(slot uint32, steps int)
				visit = func(slot uint32, steps int) {
					i := int(slot / 2)
					if slot%2 != 0 || i < start || i >= end {
						t.Fatalf("tree %d: slot %d outside nodes [%d, %d)", ti, slot, start, end)
					}
					n := e.eval[i]
					if n.child == slot {
						return
					}
					if steps == 0 {
						t.Fatalf("tree %d: no leaf after depth %d steps", ti, tr.depth)
					}
					if f := int(n.key & keyFeatureMask / evalLanes); f >= e.Features() {
						t.Fatalf("tree %d: feature %d of %d", ti, f, e.Features())
					}
					visit(n.child, steps-1)
					visit(n.child+2, steps-1)
				}
				visit(tr.root, int(tr.depth))
			}
		})
	}
}

// leafValuesBelow appends the leaf values below TreeSHAP node i (a node, or ^leaf) to out.
func (e *Ensemble) leafValuesBelow(i int32, out []float64) []float64 {
	if i < 0 {
		return append(out, e.leaves[^i])
	}
	return e.leafValuesBelow(e.nodes[i].right, e.leafValuesBelow(e.nodes[i].left, out))
}

// layoutLeaves lists the values of the leaves among layout nodes [start, end).
func (e *Ensemble) layoutLeaves(start, end int) []float64 {
	var out []float64
	for i := start; i < end; i++ {
		if int(e.eval[i].child) == 2*i {
			out = append(out, e.evalValues[i])
		}
	}
	return out
}

// sameValues reports whether a and b hold the same values, in any order.
func sameValues(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[uint64]int{}
	for i := range a {
		count[math.Float64bits(a[i])]++
		count[math.Float64bits(b[i])]--
	}
	for _, c := range count {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestCheckEvalRefusesBrokenLayouts proves that the layout check can fail: each corruption of a
// good layout is reported.
func TestCheckEvalRefusesBrokenLayouts(t *testing.T) {
	cases := map[string]func(e *Ensemble){
		"child before its parent":   func(e *Ensemble) { e.eval[1].child = 0 },
		"child beyond the tree":     func(e *Ensemble) { e.eval[0].child = uint32(2 * len(e.eval)) },
		"odd slot":                  func(e *Ensemble) { e.eval[0].child++ },
		"leaf that moves":           func(e *Ensemble) { e.eval[len(e.eval)-1].threshold = 1 },
		"feature beyond the row":    func(e *Ensemble) { e.eval[0].key = uint32(e.features) * evalLanes },
		"missing bits in fast tree": func(e *Ensemble) { e.eval[0].key |= missingZero << keyMissingShift },
		"wrong depth":               func(e *Ensemble) { e.evalTrees[0].depth++ },
		"lost tree":                 func(e *Ensemble) { e.evalTrees = e.evalTrees[1:] },
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			e := builtinEnsemble(t)
			if err := e.checkEval(); err != nil {
				t.Fatal(err)
			}
			corrupt(e)
			if err := e.checkEval(); err == nil {
				t.Error("corrupted layout accepted")
			}
		})
	}
}

func TestProbabilityBatchModel(t *testing.T) {
	m, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e := m.ensemble
	x := parityRows(t, features.Count)
	rng := rand.New(rand.NewPCG(5, 6))
	x = append(x[:2000*features.Count], edgeRows(rng, e, 1000)...)
	rows := make([]features.Vector, len(x)/features.Count)
	for r := range rows {
		copy(rows[r][:], x[r*features.Count:])
	}
	for _, size := range batchSizes {
		out := make([]float64, size+1) // longer than rows: the extra score stays untouched
		flat := make([]float64, size)
		for start := 0; start+size <= len(rows); start += max(size, 97) {
			out[size] = -1
			m.ProbabilityBatch(rows[start:start+size], out)
			m.ProbabilityRows(x[start*features.Count:(start+size)*features.Count], flat)
			for i := range size {
				want := e.probability(e.rawReference(rows[start+i][:]))
				if math.Float64bits(out[i]) != math.Float64bits(want) || math.Float64bits(flat[i]) != math.Float64bits(want) {
					t.Fatalf("row %d: ProbabilityBatch %v, ProbabilityRows %v, want %v", start+i, out[i], flat[i], want)
				}
				if p := m.Probability(&rows[start+i]); math.Float64bits(p) != math.Float64bits(want) {
					t.Fatalf("row %d: Probability %v, want %v", start+i, p, want)
				}
			}
			if out[size] != -1 {
				t.Fatalf("ProbabilityBatch wrote beyond its rows")
			}
		}
	}
}

func TestProbabilityBatchAllocatesNothing(t *testing.T) {
	m, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]features.Vector, 100)
	out := make([]float64, len(rows))
	if n := testing.AllocsPerRun(100, func() { m.ProbabilityBatch(rows, out) }); n != 0 {
		t.Errorf("ProbabilityBatch allocates %v times per call", n)
	}
}

func TestRawBatchShortInputPanics(t *testing.T) {
	e := builtinEnsemble(t)
	defer func() {
		if recover() == nil {
			t.Error("RawBatch accepted fewer values than rows")
		}
	}()
	e.RawBatch(make([]float64, 2*e.Features()-1), make([]float64, 2))
}

// FuzzRawBatch scores rows made of the fuzzer's bytes (8 per value, as float64 bits, so NaNs of
// every payload, infinities and subnormals occur) with the builtin and a synthetic model holding
// every missing type, and compares RawBatch and Raw with rawReference bit for bit.
func FuzzRawBatch(f *testing.F) {
	builtinE := builtinEnsemble(f)
	synth, err := ParseLightGBM([]byte(syntheticModel(rand.New(rand.NewPCG(1, 1)), 23, 15, 15, 0.5)))
	if err != nil {
		f.Fatal(err)
	}
	seed := func(vals ...float64) []byte {
		b := make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	f.Add(seed(0, math.NaN(), 1e-35, -1e-35, math.Inf(1), math.Copysign(0, -1)))
	f.Add(seed(parityRows(f, builtinE.Features())[:9*builtinE.Features()]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range []*Ensemble{builtinE, synth} {
			nf := e.Features()
			x := make([]float64, len(data)/8)
			for i := range x {
				x[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
			}
			rows := len(x) / nf
			out := make([]float64, rows)
			e.RawBatch(x, out)
			for r := range rows {
				row := x[r*nf : r*nf+nf]
				want := math.Float64bits(e.rawReference(row))
				if math.Float64bits(out[r]) != want || math.Float64bits(e.Raw(row)) != want {
					t.Fatalf("row %v: RawBatch %v, Raw %v, reference %v", row, out[r], e.Raw(row), math.Float64frombits(want))
				}
			}
		}
	})
}

func BenchmarkRawOne(b *testing.B) {
	e := builtinEnsemble(b)
	x := parityRows(b, e.Features())
	rows := len(x) / e.Features()
	for _, bc := range []struct {
		name string
		raw  func([]float64) float64
	}{{"old", e.rawReference}, {"new", e.Raw}} {
		b.Run(bc.name, func(b *testing.B) {
			nf := e.Features()
			sink := 0.0
			r := 0
			for b.Loop() {
				sink += bc.raw(x[r*nf : r*nf+nf])
				if r++; r == rows {
					r = 0
				}
			}
			if math.IsNaN(sink) {
				b.Fatal("NaN")
			}
		})
	}
}

func BenchmarkRawBatch(b *testing.B) {
	const batch = 100
	e := builtinEnsemble(b)
	nf := e.Features()
	x := parityRows(b, nf)
	x = x[:len(x)/(batch*nf)*(batch*nf)]
	out := make([]float64, batch)
	for _, bc := range []struct {
		name string
		run  func(x, out []float64)
	}{
		{"old", func(x, out []float64) {
			for r := range out {
				out[r] = e.rawReference(x[r*nf : r*nf+nf])
			}
		}},
		{"new", e.RawBatch},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			off := 0
			for b.Loop() {
				bc.run(x[off:off+batch*nf], out)
				if off += batch * nf; off == len(x) {
					off = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/row")
		})
	}
}

func BenchmarkProbabilityBatch(b *testing.B) {
	const batch = 100
	m, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	e := m.ensemble
	x := parityRows(b, features.Count)
	rows := make([]features.Vector, batch)
	for r := range rows {
		copy(rows[r][:], x[r*features.Count:])
	}
	out := make([]float64, batch)
	for _, bc := range []struct {
		name string
		run  func()
	}{
		{"old", func() {
			for i := range rows {
				out[i] = e.probability(e.rawReference(rows[i][:]))
			}
		}},
		{"new", func() { m.ProbabilityBatch(rows, out) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.run()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/row")
		})
	}
}
