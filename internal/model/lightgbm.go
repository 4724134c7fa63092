package model

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Decision-type bits of LightGBM's text format (include/LightGBM/tree.h).
const (
	categoricalMask = 1
	defaultLeftMask = 2
	missingNone     = 0
	missingZero     = 1
	missingNaN      = 2
	zeroThreshold   = 1e-35 // kZeroThreshold
)

// maxExplainDepth bounds the trees Contributions explains: its scratch holds (depth+2)(depth+3)/2
// path elements, about 4 MiB at this depth; LightGBM's defaults (31 leaves) stay far below.
const maxExplainDepth = 512

// node is one split. Children >= 0 index nodes; < 0 are ^leaf into Ensemble.leaves.
type node struct {
	threshold   float64
	count       float64 // training rows that reached the node (internal_count), for TreeSHAP
	left, right int32
	feature     uint16
	defaultLeft bool
	missing     uint8
}

// Ensemble evaluates a LightGBM binary classifier read from LightGBM's own text dump
// (Booster.save_model). It supports numerical splits with every missing-value mode; categorical
// splits and linear trees are refused at parse time.
type Ensemble struct {
	nodes  []node
	leaves []float64
	// eval, evalValues and evalTrees are the evaluation layout (eval.go) Raw and RawBatch walk;
	// evalValues[i] is the value of layout node i if it is a leaf (0 for a split).
	eval       []evalNode
	evalValues []float64
	evalTrees  []evalTree
	leafCounts []float64 // leaf_count, for TreeSHAP
	roots      []int32
	features   int
	sigmoid    float64
	// expected is the mean raw score over the training rows (Σ trees' count-weighted mean leaf),
	// the base value of every explanation.
	expected float64
	// maxDepth is the deepest split chain of any tree; it sizes an explanation's scratch.
	maxDepth int
	// explainable is false when some node has no training count (an old dump, or a zero count
	// that would divide by zero): Contributions then refuses to answer rather than guess.
	explainable bool
}

// ParseLightGBM reads a model.txt. It checks the structure fully, so a truncated or corrupted
// file is an error, never a wrong score.
func ParseLightGBM(data []byte) (*Ensemble, error) {
	e := &Ensemble{explainable: true}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	header := map[string]string{}
	var tree map[string]string
	trees := 0
	ended := false
	flush := func() error {
		if tree == nil {
			return nil
		}
		if err := e.addTree(tree); err != nil {
			return fmt.Errorf("tree %d: %w", trees, err)
		}
		trees++
		tree = nil
		return nil
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "Tree="):
			if err := flush(); err != nil {
				return nil, err
			}
			tree = map[string]string{}
			continue
		case line == "end of trees":
			if err := flush(); err != nil {
				return nil, err
			}
			ended = true
		}
		if ended {
			break
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if tree != nil {
			tree[k] = v
		} else {
			header[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lightgbm: read: %w", err)
	}
	if !ended {
		return nil, errors.New("lightgbm: no \"end of trees\": file truncated")
	}
	if header["num_class"] != "1" || header["num_tree_per_iteration"] != "1" {
		return nil, fmt.Errorf("lightgbm: want one class and one tree per iteration, got num_class=%q", header["num_class"])
	}
	obj := strings.Fields(header["objective"])
	if len(obj) == 0 || obj[0] != "binary" {
		return nil, fmt.Errorf("lightgbm: objective %q is not binary", header["objective"])
	}
	e.sigmoid = 1
	for _, o := range obj[1:] {
		if s, ok := strings.CutPrefix(o, "sigmoid:"); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || !(f > 0) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("lightgbm: bad sigmoid %q", s)
			}
			e.sigmoid = f
		}
	}
	if _, ok := header["average_output"]; ok {
		return nil, errors.New("lightgbm: random-forest mode (average_output) is not supported")
	}
	mfi, err := strconv.Atoi(header["max_feature_idx"])
	if err != nil || mfi < 0 || mfi > math.MaxUint16 {
		return nil, fmt.Errorf("lightgbm: bad max_feature_idx %q", header["max_feature_idx"])
	}
	e.features = mfi + 1
	if trees == 0 {
		return nil, errors.New("lightgbm: no trees")
	}
	if e.maxDepth > maxExplainDepth {
		e.explainable = false // the scratch grows with depth squared
	}
	for _, n := range e.nodes {
		if int(n.feature) >= e.features {
			return nil, fmt.Errorf("lightgbm: split on feature %d beyond max_feature_idx %d", n.feature, mfi)
		}
	}
	if err := e.checkEval(); err != nil {
		return nil, fmt.Errorf("lightgbm: %w", err)
	}
	return e, nil
}

func (e *Ensemble) addTree(kv map[string]string) error {
	numLeaves, err := strconv.Atoi(kv["num_leaves"])
	if err != nil || numLeaves < 1 {
		return fmt.Errorf("bad num_leaves %q", kv["num_leaves"])
	}
	if kv["num_cat"] != "" && kv["num_cat"] != "0" {
		return errors.New("categorical splits are not supported")
	}
	if kv["is_linear"] != "" && kv["is_linear"] != "0" {
		return errors.New("linear trees are not supported")
	}
	leaves, err := floats(kv["leaf_value"], numLeaves)
	if err != nil {
		return fmt.Errorf("leaf_value: %w", err)
	}
	for i, v := range leaves {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("leaf_value %d is %v", i, v)
		}
	}
	leafCounts, countErr := floats(kv["leaf_count"], numLeaves)
	leafBase := int32(len(e.leaves))
	e.leaves = append(e.leaves, leaves...)
	if numLeaves == 1 {
		if err := e.addEvalTree(leaves, nil, nil, nil, nil, nil); err != nil {
			return err
		}
		e.roots = append(e.roots, ^leafBase)
		e.leafCounts = append(e.leafCounts, 1)
		e.expected += leaves[0]
		return nil
	}
	inner := numLeaves - 1
	feat, err := ints(kv["split_feature"], inner)
	if err != nil {
		return fmt.Errorf("split_feature: %w", err)
	}
	thr, err := floats(kv["threshold"], inner)
	if err != nil {
		return fmt.Errorf("threshold: %w", err)
	}
	dt, err := ints(kv["decision_type"], inner)
	if err != nil {
		return fmt.Errorf("decision_type: %w", err)
	}
	left, err := ints(kv["left_child"], inner)
	if err != nil {
		return fmt.Errorf("left_child: %w", err)
	}
	right, err := ints(kv["right_child"], inner)
	if err != nil {
		return fmt.Errorf("right_child: %w", err)
	}
	for i, v := range thr {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("threshold %d is %v", i, v)
		}
	}
	if err := checkTree(left, right, numLeaves); err != nil {
		return err
	}
	internalCounts, err := floats(kv["internal_count"], inner)
	if countErr != nil || err != nil || !positive(leafCounts) || !positive(internalCounts) {
		e.explainable = false
		leafCounts, internalCounts = make([]float64, numLeaves), make([]float64, inner)
	} else {
		mean := 0.0
		for i, v := range leaves {
			mean += leafCounts[i] / internalCounts[0] * v
		}
		e.expected += mean
	}
	e.leafCounts = append(e.leafCounts, leafCounts...)
	e.maxDepth = max(e.maxDepth, treeDepth(left, right))
	nodeBase := int32(len(e.nodes))
	child := func(c int) (int32, error) {
		if c >= 0 {
			if c >= inner {
				return 0, fmt.Errorf("child %d out of range", c)
			}
			return nodeBase + int32(c), nil
		}
		leaf := ^c
		if leaf >= numLeaves {
			return 0, fmt.Errorf("leaf %d out of range", leaf)
		}
		return ^(leafBase + int32(leaf)), nil
	}
	for i := range inner {
		if dt[i]&categoricalMask != 0 {
			return errors.New("categorical splits are not supported")
		}
		if feat[i] < 0 || feat[i] > math.MaxUint16 {
			return fmt.Errorf("bad split feature %d", feat[i])
		}
		l, err := child(left[i])
		if err != nil {
			return err
		}
		r, err := child(right[i])
		if err != nil {
			return err
		}
		e.nodes = append(e.nodes, node{threshold: thr[i], count: internalCounts[i], left: l, right: r, feature: uint16(feat[i]),
			defaultLeft: dt[i]&defaultLeftMask != 0, missing: uint8(dt[i]>>2) & 3})
	}
	if err := e.addEvalTree(leaves, feat, thr, dt, left, right); err != nil {
		return err
	}
	e.roots = append(e.roots, nodeBase)
	return nil
}

// checkTree proves that the split arrays form one binary tree rooted at node 0: every split and
// every one of the numLeaves leaves is reached from the root exactly once, so no cycle, shared
// child or orphan exists and Raw always ends at a leaf after at most len(left) steps.
// Children >= 0 index splits, < 0 are ^leaf.
func checkTree(left, right []int, numLeaves int) error {
	inner := len(left)
	seenNode := make([]bool, inner)
	seenLeaf := make([]bool, numLeaves)
	stack := []int{0}
	seenNode[0] = true
	reached := 1
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range [2]int{left[n], right[n]} {
			switch {
			case c >= inner:
				return fmt.Errorf("not a tree: node %d has child %d out of range (%d splits)", n, c, inner)
			case c >= 0:
				if seenNode[c] {
					return fmt.Errorf("not a tree: node %d is reached twice (a cycle or a shared child, via node %d)", c, n)
				}
				seenNode[c] = true
				reached++
				stack = append(stack, c)
			case ^c >= numLeaves:
				return fmt.Errorf("not a tree: node %d has leaf %d out of range (%d leaves)", n, ^c, numLeaves)
			default:
				if seenLeaf[^c] {
					return fmt.Errorf("not a tree: leaf %d is reached twice (via node %d)", ^c, n)
				}
				seenLeaf[^c] = true
			}
		}
	}
	if reached != inner {
		for i, ok := range seenNode {
			if !ok {
				return fmt.Errorf("not a tree: node %d is not reachable from the root", i)
			}
		}
	}
	for i, ok := range seenLeaf {
		if !ok {
			return fmt.Errorf("not a tree: leaf %d is not reachable from the root (num_leaves=%d does not match the splits)", i, numLeaves)
		}
	}
	return nil
}

// positive reports whether every count is a finite number above zero.
func positive(counts []float64) bool {
	for _, c := range counts {
		if !(c > 0) || math.IsInf(c, 0) {
			return false
		}
	}
	return true
}

// treeDepth is the number of splits on the longest root-to-leaf path of a checked tree.
func treeDepth(left, right []int) int {
	type item struct{ node, depth int }
	deepest := 0
	stack := []item{{0, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		deepest = max(deepest, it.depth)
		for _, c := range [2]int{left[it.node], right[it.node]} {
			if c >= 0 {
				stack = append(stack, item{c, it.depth + 1})
			}
		}
	}
	return deepest
}

// Features is the number of inputs the ensemble reads.
func (e *Ensemble) Features() int { return e.features }

// Trees is the number of trees.
func (e *Ensemble) Trees() int { return len(e.roots) }

// Raw is the sum of the trees' outputs (the log-odds) for x, which must hold Features() values.
func (e *Ensemble) Raw(x []float64) float64 { return e.raw(x) }

// rawReference is Raw as it was before the evaluation layout, walking the TreeSHAP nodes: the
// reference the tests and benchmarks compare Raw and RawBatch with, bit for bit.
func (e *Ensemble) rawReference(x []float64) float64 {
	sum := 0.0
	nodes := e.nodes
	for _, i := range e.roots {
		for i >= 0 {
			n := &nodes[i]
			f := x[n.feature]
			var left bool
			if n.missing == missingNone && f == f {
				left = f <= n.threshold // the common case, kept inline
			} else {
				left = goLeft(n, f)
			}
			if left {
				i = n.left
			} else {
				i = n.right
			}
		}
		sum += e.leaves[^i]
	}
	return sum
}

// goLeft follows LightGBM's NumericalDecision, missing values included (numericalLeft is the
// same decision on the evaluation layout's fields).
func goLeft(n *node, f float64) bool {
	isNaN := f != f
	if isNaN && n.missing != missingNaN {
		f = 0
		isNaN = false
	}
	if n.missing == missingZero && f > -zeroThreshold && f <= zeroThreshold || n.missing == missingNaN && isNaN {
		return n.defaultLeft
	}
	return f <= n.threshold
}

// Probability is the model's fraud probability for x.
func (e *Ensemble) Probability(x []float64) float64 {
	return e.probability(e.Raw(x))
}

// probability maps a raw score to the probability, LightGBM's sigmoid.
func (e *Ensemble) probability(raw float64) float64 {
	return 1 / (1 + math.Exp(-e.sigmoid*raw))
}

// ProbabilityBatch writes the probability of each of the len(out) rows held back to back in x
// (Features() values each) into out, as RawBatch does the raw scores.
func (e *Ensemble) ProbabilityBatch(x, out []float64) {
	e.RawBatch(x, out)
	for i, raw := range out {
		out[i] = e.probability(raw)
	}
}

func floats(s string, n int) ([]float64, error) {
	f := strings.Fields(s)
	if len(f) != n {
		return nil, fmt.Errorf("%d values, want %d", len(f), n)
	}
	out := make([]float64, n)
	for i, x := range f {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func ints(s string, n int) ([]int, error) {
	f := strings.Fields(s)
	if len(f) != n {
		return nil, fmt.Errorf("%d values, want %d", len(f), n)
	}
	out := make([]int, n)
	for i, x := range f {
		v, err := strconv.Atoi(x)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
