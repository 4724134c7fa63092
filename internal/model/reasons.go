package model

import (
	"sort"

	"function/internal/features"
)

// Reason is one feature's part in a decision: its name, its human code, the transaction's value
// and its TreeSHAP contribution in log-odds (positive: towards fraud).
type Reason struct {
	Feature      string  `json:"feature"`
	Code         string  `json:"code"`
	Value        float64 `json:"value"`
	Contribution float64 `json:"contribution"`
}

// Top returns at most n reasons that push v towards fraud (contribution > 0), strongest first;
// ties keep the model's feature order, so the answer is deterministic.
func (x *Explanation) Top(v *features.Vector, n int) []Reason {
	var idx [features.Count]int
	k := 0
	for i, c := range x.Contributions {
		if c > 0 {
			idx[k] = i
			k++
		}
	}
	order := idx[:k]
	sort.SliceStable(order, func(a, b int) bool { return x.Contributions[order[a]] > x.Contributions[order[b]] })
	if len(order) > n {
		order = order[:n]
	}
	out := make([]Reason, len(order))
	for j, i := range order {
		out[j] = x.reason(v, i)
	}
	return out
}

// All returns every feature's reason in the model's feature order.
func (x *Explanation) All(v *features.Vector) []Reason {
	out := make([]Reason, features.Count)
	for i := range out {
		out[i] = x.reason(v, i)
	}
	return out
}

func (x *Explanation) reason(v *features.Vector, i int) Reason {
	return Reason{Feature: features.Names[i], Code: features.ReasonCodes[i], Value: v[i], Contribution: x.Contributions[i]}
}
