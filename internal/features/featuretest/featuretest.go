// Package featuretest holds the hand-checked golden sequence of feature values, so that every
// features.Store implementation is held to the same numbers.
package featuretest

import (
	"context"
	_ "embed"
	"encoding/json"
	"testing"

	"function/internal/features"
	"function/internal/txn"
)

//go:embed golden.json
var golden []byte

type sequence struct {
	Steps []struct {
		Tx    json.RawMessage `json:"tx"`
		Fraud bool            `json:"fraud"`
		Want  []float64       `json:"want"`
	} `json:"steps"`
}

// RunGolden replays the golden sequence through store, which must be empty, and checks every
// feature exactly.
func RunGolden(t testing.TB, store features.Store) {
	t.Helper()
	var g sequence
	if err := json.Unmarshal(golden, &g); err != nil {
		t.Fatal(err)
	}
	r := features.NewReplayer(store)
	for i, s := range g.Steps {
		tx, err := txn.DecodeJSON(s.Tx)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		tx.Fraud = s.Fraud
		var v features.Vector
		if err := r.Next(context.Background(), &tx, &v); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if len(s.Want) != features.Count {
			t.Fatalf("step %d: %d expected values, want %d", i+1, len(s.Want), features.Count)
		}
		for j, w := range s.Want {
			if v[j] != w {
				t.Errorf("step %d (%s) %s = %v, want %v", i+1, tx.ID, features.Names[j], v[j], w)
			}
		}
	}
}
