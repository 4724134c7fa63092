package model

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// The evaluation layout. Scoring does not walk the TreeSHAP nodes (which carry training counts
// and LightGBM's child encoding): ParseLightGBM also lays every tree out as evalNodes, 16 bytes
// each, in breadth-first order with the two children of a split adjacent and with the leaves as
// nodes of their own. A leaf has threshold +Inf and is its own child, so a walk that takes one
// step per level stays on a leaf once it reaches one: a tree can be walked without a branch on
// the data, for several rows (or several trees) at once, and the CPU overlaps the independent
// chains. The walk stops once no lane moved in a step, at the latest after the tree's depth.
//
// That branch-free step compares f > threshold only, which is LightGBM's decision exactly when
// the split has missing type None and f is not NaN (NaN is read as 0 there). Trees whose splits
// all have missing type None are marked fast, and they only ever see a row with every NaN
// replaced by 0. Any other tree is walked by the general decision, numericalLeft, which is
// goLeft's.
//
// Nodes are addressed by slot, twice the node's index, so that a slot times 8 is the node's byte
// offset; the right child of a split is at its child's slot + 2.

// evalLanes is the number of rows (or trees) the branch-free walks advance together. RawBatch
// stores the rows of a block feature-major, evalLanes values per feature, so a node's key (the
// feature times evalLanes) times 8 is the byte offset of the feature's first lane.
const evalLanes = 8

// Bits of evalNode.key above the feature offset, set only in trees that are not fast.
const (
	keyFeatureMask  = 1<<24 - 1 // feature * evalLanes
	keyMissingShift = 24        // missingNone, missingZero or missingNaN
	keyDefaultLeft  = 1 << 26
)

// evalNode is one node of the evaluation layout.
type evalNode struct {
	threshold float64 // +Inf on a leaf
	child     uint32  // slot of the left child (the right one is child+2); on a leaf its own slot
	key       uint32  // feature*evalLanes | missing<<keyMissingShift | keyDefaultLeft; 0 on a leaf
}

// evalTree locates one tree in Ensemble.eval.
type evalTree struct {
	root uint32 // slot of the root
	// depth is the number of splits on the longest root-to-leaf path: that many steps from the
	// root end on a leaf, whatever the row.
	depth int32
	// fast is true when every split has missing type None: the branch-free walk applies.
	fast bool
}

// maxEvalNodes bounds the evaluation layout so that a slot fits in a uint32.
const maxEvalNodes = math.MaxUint32/2 - 1

// addEvalTree lays out one tree that checkTree has accepted at the end of e.eval and records it
// in e.evalTrees. Its arguments are addTree's, LightGBM's arrays: children >= 0 index splits,
// < 0 are ^leaf; a single-leaf tree has no splits.
func (e *Ensemble) addEvalTree(leaves []float64, feat []int, thr []float64, dt []int, left, right []int) error {
	size := 2*len(leaves) - 1
	if len(e.eval) > maxEvalNodes-size {
		return fmt.Errorf("evaluation layout: more than %d nodes", maxEvalNodes)
	}
	base := len(e.eval)
	tree := evalTree{root: uint32(2 * base), fast: true}
	// queue holds the tree's nodes in breadth-first order, in LightGBM's encoding: entry q is
	// node base+q of the layout, so a split's children, appended together, are adjacent.
	queue := make([]int, 1, size)
	if len(leaves) == 1 {
		queue[0] = ^0
	}
	for q := 0; q < len(queue); q++ {
		c := queue[q]
		if c < 0 {
			e.eval = append(e.eval, evalNode{threshold: math.Inf(1), child: uint32(2 * (base + q))})
			e.evalValues = append(e.evalValues, leaves[^c])
			continue
		}
		if len(queue)+2 > size {
			return errors.New("evaluation layout: more nodes than 2*num_leaves-1")
		}
		key := uint32(feat[c]) * evalLanes
		if missing := uint32(dt[c]>>2) & 3; missing != missingNone {
			// Missing type None never takes the default side, so only other splits keep it.
			key |= missing << keyMissingShift
			if dt[c]&defaultLeftMask != 0 {
				key |= keyDefaultLeft
			}
			tree.fast = false
		}
		e.eval = append(e.eval, evalNode{threshold: thr[c], child: uint32(2 * (base + len(queue))), key: key})
		e.evalValues = append(e.evalValues, 0)
		queue = append(queue, left[c], right[c])
	}
	if len(queue) != size {
		return fmt.Errorf("evaluation layout: %d nodes, want %d", len(queue), size)
	}
	depth, err := checkEvalTree(e.eval[base:], base, 0)
	if err != nil {
		return err
	}
	tree.depth = int32(depth)
	e.evalTrees = append(e.evalTrees, tree)
	return nil
}

// checkEvalTree proves what the walks rely on for one tree's nodes, which start at index base of
// the layout: a split's children both lie after it and inside the tree, a leaf is its own child
// with threshold +Inf and key 0, and a split's feature is below features (when features > 0;
// ParseLightGBM checks again once max_feature_idx is known). It returns the tree's depth, so a
// walk of that many steps from the root ends on a leaf.
func checkEvalTree(nodes []evalNode, base, features int) (int, error) {
	depth := make([]int, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		c := int(n.child)/2 - base
		if c == i {
			if n.child%2 != 0 || !math.IsInf(n.threshold, 1) || n.key != 0 {
				return 0, fmt.Errorf("evaluation layout: leaf %d is not a fixed point", base+i)
			}
			continue
		}
		if n.child%2 != 0 || c <= i || c+1 >= len(nodes) {
			return 0, fmt.Errorf("evaluation layout: node %d has children at slot %d, outside its tree", base+i, n.child)
		}
		if n.key>>keyMissingShift > (keyDefaultLeft>>keyMissingShift)|3 || n.key&keyFeatureMask%evalLanes != 0 {
			return 0, fmt.Errorf("evaluation layout: node %d has a bad key %#x", base+i, n.key)
		}
		if features > 0 && int(n.key&keyFeatureMask/evalLanes) >= features {
			return 0, fmt.Errorf("evaluation layout: node %d splits on feature %d of %d", base+i, n.key&keyFeatureMask/evalLanes, features)
		}
		depth[i] = 1 + max(depth[c], depth[c+1])
	}
	return depth[0], nil
}

// checkEval checks the whole evaluation layout against the ensemble's feature count; ParseLightGBM
// runs it last, so a parsed ensemble never reads outside its nodes or a row.
func (e *Ensemble) checkEval() error {
	if len(e.evalTrees) != len(e.roots) || len(e.evalValues) != len(e.eval) {
		return errors.New("evaluation layout: does not match the trees")
	}
	for t, tree := range e.evalTrees {
		start, end := int(tree.root/2), len(e.eval)
		if t+1 < len(e.evalTrees) {
			end = int(e.evalTrees[t+1].root / 2)
		}
		if tree.root%2 != 0 || start >= end {
			return fmt.Errorf("evaluation layout: tree %d has no nodes", t)
		}
		depth, err := checkEvalTree(e.eval[start:end], start, e.features)
		if err != nil {
			return fmt.Errorf("tree %d: %w", t, err)
		}
		if depth != int(tree.depth) {
			return fmt.Errorf("evaluation layout: tree %d has depth %d, recorded %d", t, depth, tree.depth)
		}
		if tree.fast {
			for i := start; i < end; i++ {
				if e.eval[i].key>>keyMissingShift != 0 {
					return fmt.Errorf("evaluation layout: tree %d is marked fast but node %d has missing values", t, i)
				}
			}
		}
	}
	return nil
}

// numericalLeft is LightGBM's NumericalDecision for one split: whether f goes to the left child.
func numericalLeft(f, threshold float64, missing uint8, defaultLeft bool) bool {
	isNaN := f != f
	if isNaN && missing != missingNaN {
		f = 0
		isNaN = false
	}
	if missing == missingZero && f > -zeroThreshold && f <= zeroThreshold || missing == missingNaN && isNaN {
		return defaultLeft
	}
	return f <= threshold
}

// walk follows row x down the tree from slot with the general decision and returns the leaf's
// slot. Every step moves to a later node of the same tree (checkEvalTree), so it ends.
func (e *Ensemble) walk(slot uint32, x []float64) uint32 {
	nodes := e.eval
	for {
		n := &nodes[slot/2]
		if n.child == slot {
			return slot
		}
		f := x[n.key&keyFeatureMask/evalLanes]
		var left bool
		if n.key>>keyMissingShift == 0 && f == f {
			left = f <= n.threshold
		} else {
			left = numericalLeft(f, n.threshold, uint8(n.key>>keyMissingShift&3), n.key&keyDefaultLeft != 0)
		}
		slot = n.child
		if !left {
			slot += 2
		}
	}
}

// rightStep is 1 when f goes right at a missing-type-None split with threshold thr (f not NaN),
// else 0, computed without a branch.
func rightStep(f, thr float64) uint32 {
	if f > thr {
		return 1
	}
	return 0
}

// nodeAt is the node at slot of the layout starting at base.
func nodeAt(base unsafe.Pointer, slot uintptr) *evalNode {
	return (*evalNode)(unsafe.Add(base, slot*8))
}

// leafValue is the value of the leaf at slot, values being the start of Ensemble.evalValues.
func leafValue(values unsafe.Pointer, slot uintptr) float64 {
	return *(*float64)(unsafe.Add(values, slot*4))
}

// rowStep is one branch-free step from slot for the NaN-free row at x (Features() values).
func rowStep(base, x unsafe.Pointer, slot uintptr) uintptr {
	n := nodeAt(base, slot)
	f := *(*float64)(unsafe.Add(x, uintptr(n.key)*(8/evalLanes)))
	return uintptr(n.child) + 2*uintptr(rightStep(f, n.threshold))
}

// laneStep is one branch-free step from slot for lane k of the feature-major block at xt.
func laneStep(base, xt unsafe.Pointer, slot, k uintptr) uintptr {
	n := nodeAt(base, slot)
	f := *(*float64)(unsafe.Add(xt, uintptr(n.key)*8+k*8))
	return uintptr(n.child) + 2*uintptr(rightStep(f, n.threshold))
}

// walkBlock walks fast tree t for the evalLanes rows of the feature-major block at xt and adds
// their leaves' values to acc. Slots only grow along a walk, so an unchanged sum of the lanes'
// slots means that every lane sits on its leaf.
func walkBlock(base, values, xt unsafe.Pointer, t evalTree, acc *[evalLanes]float64) {
	r := uintptr(t.root)
	s0, s1, s2, s3, s4, s5, s6, s7 := r, r, r, r, r, r, r, r
	sum := 8 * r
	for range t.depth {
		s0 = laneStep(base, xt, s0, 0)
		s1 = laneStep(base, xt, s1, 1)
		s2 = laneStep(base, xt, s2, 2)
		s3 = laneStep(base, xt, s3, 3)
		s4 = laneStep(base, xt, s4, 4)
		s5 = laneStep(base, xt, s5, 5)
		s6 = laneStep(base, xt, s6, 6)
		s7 = laneStep(base, xt, s7, 7)
		next := s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
		if next == sum {
			break
		}
		sum = next
	}
	acc[0] += leafValue(values, s0)
	acc[1] += leafValue(values, s1)
	acc[2] += leafValue(values, s2)
	acc[3] += leafValue(values, s3)
	acc[4] += leafValue(values, s4)
	acc[5] += leafValue(values, s5)
	acc[6] += leafValue(values, s6)
	acc[7] += leafValue(values, s7)
}

// walkTrees walks the evalLanes fast trees g for the one NaN-free row at x and adds their
// leaves' values to sum in the trees' order, stopping as walkBlock does.
func walkTrees(base, values, x unsafe.Pointer, g *[evalLanes]evalTree, sum float64) float64 {
	s0, s1, s2, s3 := uintptr(g[0].root), uintptr(g[1].root), uintptr(g[2].root), uintptr(g[3].root)
	s4, s5, s6, s7 := uintptr(g[4].root), uintptr(g[5].root), uintptr(g[6].root), uintptr(g[7].root)
	depth := max(g[0].depth, g[1].depth, g[2].depth, g[3].depth, g[4].depth, g[5].depth, g[6].depth, g[7].depth)
	total := s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
	for range depth {
		s0 = rowStep(base, x, s0)
		s1 = rowStep(base, x, s1)
		s2 = rowStep(base, x, s2)
		s3 = rowStep(base, x, s3)
		s4 = rowStep(base, x, s4)
		s5 = rowStep(base, x, s5)
		s6 = rowStep(base, x, s6)
		s7 = rowStep(base, x, s7)
		next := s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
		if next == total {
			break
		}
		total = next
	}
	sum += leafValue(values, s0)
	sum += leafValue(values, s1)
	sum += leafValue(values, s2)
	sum += leafValue(values, s3)
	sum += leafValue(values, s4)
	sum += leafValue(values, s5)
	sum += leafValue(values, s6)
	sum += leafValue(values, s7)
	return sum
}

// walkRow walks fast tree t for the one NaN-free row at x and returns its leaf's slot.
func walkRow(base, x unsafe.Pointer, t evalTree) uintptr {
	s := uintptr(t.root)
	for range t.depth {
		s = rowStep(base, x, s)
	}
	return s
}

// hasNaN reports whether x holds a NaN.
func hasNaN(x []float64) bool {
	for _, f := range x {
		if f != f {
			return true
		}
	}
	return false
}

// allFast reports whether every tree of g is fast.
func allFast(g *[evalLanes]evalTree) bool {
	for _, t := range g {
		if !t.fast {
			return false
		}
	}
	return true
}

// raw is Raw on the evaluation layout: the trees' leaf values summed in order from 0.0, as
// rawReference sums them.
func (e *Ensemble) raw(x []float64) float64 {
	x = x[:e.features] // a short row panics here, as it would in rawReference
	if hasNaN(x) {
		return e.rawGeneral(x)
	}
	base := unsafe.Pointer(unsafe.SliceData(e.eval))
	values := unsafe.Pointer(unsafe.SliceData(e.evalValues))
	row := unsafe.Pointer(unsafe.SliceData(x))
	sum := 0.0
	trees := e.evalTrees
	for len(trees) > 0 {
		if len(trees) >= evalLanes {
			if g := (*[evalLanes]evalTree)(trees); allFast(g) {
				sum = walkTrees(base, values, row, g, sum)
				trees = trees[evalLanes:]
				continue
			}
		}
		if t := trees[0]; t.fast {
			sum += leafValue(values, walkRow(base, row, t))
		} else {
			sum += e.evalValues[e.walk(t.root, x)/2]
		}
		trees = trees[1:]
	}
	return sum
}

// rawGeneral is Raw with the general walk in every tree, for a row holding a NaN.
func (e *Ensemble) rawGeneral(x []float64) float64 {
	sum := 0.0
	for _, t := range e.evalTrees {
		sum += e.evalValues[e.walk(t.root, x)/2]
	}
	return sum
}

// batchRows is the number of rows RawBatch scores together, tree after tree, so that a tree's
// nodes stay in L1 over all of them: a multiple of evalLanes.
const batchRows = 64

// blockFloats is the size of RawBatch's feature-major copy of batchRows rows, on the stack: rows
// of up to 16 features; fewer rows of more, and rows of more than blockFloats/evalLanes features
// are scored one by one.
const blockFloats = 1024

// rowByRowTail is the most rows in a last, partial block that RawBatch scores one by one with
// Raw: a row costs Raw about a sixth of a full block's walk (measured on the builtin model).
const rowByRowTail = 5

// RawBatch writes the raw score of each of len(out) rows into out; x holds the rows back to back,
// Features() values each. Each score is bit-identical to Raw's for its row. It panics when x is
// shorter than len(out) rows, as Raw does on a short row.
func (e *Ensemble) RawBatch(x, out []float64) {
	nf := e.features
	if len(x)/nf < len(out) {
		panic(fmt.Sprintf("model: RawBatch: %d values hold fewer than %d rows of %d features", len(x), len(out), nf))
	}
	chunk := min(batchRows, blockFloats/(evalLanes*nf)*evalLanes)
	// A block costs the same whatever number of its lanes hold rows: a last block of a few rows
	// is cheaper scored row by row, and so is every row when the rows are too wide for the copy.
	blocked := len(out)
	if tail := len(out) % evalLanes; tail <= rowByRowTail {
		blocked -= tail
	}
	if chunk == 0 {
		blocked = 0
	}
	for r := blocked; r < len(out); r++ {
		out[r] = e.raw(x[r*nf : r*nf+nf])
	}
	if blocked == 0 {
		return
	}
	x, out = x[:blocked*nf], out[:blocked]
	var s batchScratch
	for len(out) > 0 {
		n := min(len(out), chunk)
		e.rawChunk(x[:n*nf], out[:n], &s)
		x, out = x[n*nf:], out[n:]
	}
}

// batchScratch is RawBatch's working memory for one chunk of rows.
type batchScratch struct {
	xt  [blockFloats]float64                      // the rows feature-major, by blocks of evalLanes
	acc [batchRows / evalLanes][evalLanes]float64 // the blocks' sums
}

// transpose copies the rows of x (nf values each) into xt feature-major by blocks of evalLanes
// rows, xt[(b*nf+f)*evalLanes+k] = x[(b*evalLanes+k)*nf+f], with NaN read as 0 and the missing
// rows of the last block 0. xt must hold every block.
func transpose(xt, x []float64, nf int) {
	rows := len(x) / nf
	blocks := (rows + evalLanes - 1) / evalLanes
	xt = xt[:blocks*evalLanes*nf]
	for r := range blocks * evalLanes {
		b, k := r/evalLanes, r%evalLanes
		dst := xt[b*evalLanes*nf+k:]
		if r >= rows {
			for f := range nf {
				dst[f*evalLanes] = 0
			}
			continue
		}
		for f, v := range x[r*nf : r*nf+nf] {
			if v != v {
				v = 0
			}
			dst[f*evalLanes] = v
		}
	}
}

// rawChunk scores the len(out) <= batchRows rows x tree after tree, each tree over all the rows
// while its nodes are in cache. Each row's sum starts from 0 and adds the trees in order, the sum
// Raw computes. Fast trees read the rows from the feature-major copy; the others read x.
func (e *Ensemble) rawChunk(x, out []float64, s *batchScratch) {
	nf := e.features
	blocks := (len(out) + evalLanes - 1) / evalLanes
	xt := s.xt[:blocks*evalLanes*nf]
	transpose(xt, x, nf)
	acc := s.acc[:blocks]
	clear(acc)
	base := unsafe.Pointer(unsafe.SliceData(e.eval))
	values := unsafe.Pointer(unsafe.SliceData(e.evalValues))
	for _, t := range e.evalTrees {
		if !t.fast {
			for r := range out {
				acc[r/evalLanes][r%evalLanes] += e.evalValues[e.walk(t.root, x[r*nf:r*nf+nf])/2]
			}
			continue
		}
		for b := range acc {
			walkBlock(base, values, unsafe.Pointer(&xt[b*evalLanes*nf]), t, &acc[b])
		}
	}
	for r := range out {
		out[r] = acc[r/evalLanes][r%evalLanes]
	}
}
