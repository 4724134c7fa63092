package model

import (
	"errors"
	"sync"
)

// ErrNotExplainable marks an ensemble whose dump lacks the per-node training counts TreeSHAP
// weighs the paths with (LightGBM writes them; a hand-edited or stripped dump may not).
var ErrNotExplainable = errors.New("model: no training counts in the dump, cannot explain")

// pathElement is one feature on the path from the root to the node being visited, as in
// Lundberg, Erion & Lee, "Consistent Individualized Feature Attribution for Tree Ensembles"
// (Algorithm 2): the share of training rows that flow down the path when the feature is unknown
// (zero) and whether x itself takes it (one), and the permutation weight of the subsets.
type pathElement struct {
	feature int
	zero    float64
	one     float64
	weight  float64
}

// shapScratch holds one explanation's path storage: each recursion level copies its parent's
// path into a fresh slice of the same buffer, so depth d needs 1+2+…+(d+1) elements. Pooled so
// that an explanation allocates nothing on the scoring path.
type shapScratch struct{ path []pathElement }

var shapPool sync.Pool

// ExpectedValue is the mean raw score over the training rows: what Contributions measures from.
func (e *Ensemble) ExpectedValue() float64 { return e.expected }

// Contributions writes the exact TreeSHAP value of each feature for x into phi (length
// Features()) and returns the expected value; Σ phi + expected equals Raw(x) up to rounding.
// These are the values LightGBM's predict(pred_contrib=True) returns, in raw (log-odds) units.
func (e *Ensemble) Contributions(x, phi []float64) (float64, error) {
	if !e.explainable {
		return 0, ErrNotExplainable
	}
	for i := range phi {
		phi[i] = 0
	}
	need := (e.maxDepth + 2) * (e.maxDepth + 3) / 2
	s, _ := shapPool.Get().(*shapScratch)
	if s == nil || len(s.path) < need {
		s = &shapScratch{path: make([]pathElement, need)}
	}
	for _, root := range e.roots {
		if root < 0 {
			continue // a single leaf moves the expected value only
		}
		e.treeSHAP(x, phi, root, s.path, 0, 1, 1, -1)
	}
	shapPool.Put(s)
	return e.expected, nil
}

// count is the number of training rows that reached child c (a node, or ^leaf).
func (e *Ensemble) count(c int32) float64 {
	if c >= 0 {
		return e.nodes[c].count
	}
	return e.leafCounts[^c]
}

// treeSHAP visits node i with the path so far in parent[:depth], extending it by the split that
// led here (feature, with zero and one fractions). At a leaf every feature on the path receives
// its share of the leaf value.
func (e *Ensemble) treeSHAP(x, phi []float64, i int32, parent []pathElement, depth int, zero, one float64, feature int) {
	path := parent[depth:]
	copy(path, parent[:depth])
	extendPath(path, depth, zero, one, feature)
	if i < 0 {
		v := e.leaves[^i]
		for k := 1; k <= depth; k++ {
			w := unwoundPathSum(path, depth, k)
			el := &path[k]
			phi[el.feature] += w * (el.one - el.zero) * v
		}
		return
	}
	n := &e.nodes[i]
	hot, cold := n.right, n.left
	if decideLeft(n, x[n.feature]) {
		hot, cold = n.left, n.right
	}
	hotZero := e.count(hot) / n.count
	coldZero := e.count(cold) / n.count
	inZero, inOne := 1.0, 1.0
	// A feature already on the path is unwound first, so each feature appears once and its
	// fractions multiply along the path.
	k := 0
	for ; k <= depth; k++ {
		if path[k].feature == int(n.feature) {
			break
		}
	}
	if k <= depth {
		inZero, inOne = path[k].zero, path[k].one
		unwindPath(path, depth, k)
		depth--
	}
	e.treeSHAP(x, phi, hot, path, depth+1, hotZero*inZero, inOne, int(n.feature))
	e.treeSHAP(x, phi, cold, path, depth+1, coldZero*inZero, 0, int(n.feature))
}

// decideLeft is the split decision Raw takes, shared so that an explanation follows the same
// branch the score did.
func decideLeft(n *node, f float64) bool {
	if n.missing == missingNone && f == f {
		return f <= n.threshold
	}
	return goLeft(n, f)
}

// extendPath adds a feature with its fractions at path[depth] and updates the subset weights.
func extendPath(path []pathElement, depth int, zero, one float64, feature int) {
	w := 0.0
	if depth == 0 {
		w = 1
	}
	path[depth] = pathElement{feature: feature, zero: zero, one: one, weight: w}
	d1 := float64(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		path[i+1].weight += one * path[i].weight * float64(i+1) / d1
		path[i].weight = zero * path[i].weight * float64(depth-i) / d1
	}
}

// unwindPath removes path[k] from path[:depth+1], undoing its extendPath.
func unwindPath(path []pathElement, depth, k int) {
	one, zero := path[k].one, path[k].zero
	next := path[depth].weight
	d1 := float64(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := path[i].weight
			path[i].weight = next * d1 / (float64(i+1) * one)
			next = tmp - path[i].weight*zero*float64(depth-i)/d1
		} else {
			path[i].weight = path[i].weight * d1 / (zero * float64(depth-i))
		}
	}
	for i := k; i < depth; i++ {
		path[i].feature, path[i].zero, path[i].one = path[i+1].feature, path[i+1].zero, path[i+1].one
	}
}

// unwoundPathSum is the total weight path[:depth+1] would have with path[k] removed, without
// changing the path.
func unwoundPathSum(path []pathElement, depth, k int) float64 {
	one, zero := path[k].one, path[k].zero
	next := path[depth].weight
	d1 := float64(depth + 1)
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * d1 / (float64(i+1) * one)
			total += tmp
			next = path[i].weight - tmp*zero*float64(depth-i)/d1
		} else {
			total += path[i].weight / zero / (float64(depth-i) / d1)
		}
	}
	return total
}
