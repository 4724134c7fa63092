// Package model loads a trained fraud model (LightGBM's text dump plus our metadata) and scores
// feature vectors with it. A model is immutable once loaded, so it can be swapped atomically.
package model

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"function/internal/drift"
	"function/internal/features"
)

// File names inside a model bundle (a directory, or an MLflow artifact folder).
const (
	ModelFile    = "model.txt"
	MetadataFile = "metadata.json"
)

// ErrInvalid marks a bundle that can never load: corrupt, truncated, for other features, or not
// matching its checksum.
var ErrInvalid = errors.New("invalid model")

// Metadata is written by training beside model.txt.
type Metadata struct {
	Name         string             `json:"name"`
	Version      string             `json:"version"`
	FeatureNames []string           `json:"feature_names"`
	Threshold    float64            `json:"threshold"`
	ModelSHA256  string             `json:"model_sha256"`
	TableSHA256  string             `json:"table_sha256,omitempty"`
	DataSeed     *uint64            `json:"data_seed,omitempty"`
	TrainedAt    time.Time          `json:"trained_at"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Params       map[string]any     `json:"params,omitempty"`
	// Drift is the training window's binned feature and score distributions, which the function
	// compares live traffic with (internal/drift); absent in bundles from before issue 16.
	Drift *drift.Reference `json:"drift,omitempty"`
}

// Model is a loaded, checked model.
type Model struct {
	Meta     Metadata
	ensemble *Ensemble
}

// Parse checks and loads a bundle from its two files' contents.
func Parse(modelTxt, metadataJSON []byte) (*Model, error) {
	var meta Metadata
	if err := json.Unmarshal(metadataJSON, &meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrInvalid, err)
	}
	sum := sha256.Sum256(modelTxt)
	if got := hex.EncodeToString(sum[:]); meta.ModelSHA256 != got {
		return nil, fmt.Errorf("%w: model.txt has sha256 %s, metadata records %q", ErrInvalid, got, meta.ModelSHA256)
	}
	if len(meta.FeatureNames) != features.Count {
		return nil, fmt.Errorf("%w: %d feature names, want %d", ErrInvalid, len(meta.FeatureNames), features.Count)
	}
	for i, n := range meta.FeatureNames {
		if n != features.Names[i] {
			return nil, fmt.Errorf("%w: feature %d is %q, want %q", ErrInvalid, i, n, features.Names[i])
		}
	}
	if !(meta.Threshold > 0 && meta.Threshold < 1) {
		return nil, fmt.Errorf("%w: threshold %v outside (0, 1)", ErrInvalid, meta.Threshold)
	}
	if meta.Name == "" || meta.Version == "" {
		return nil, fmt.Errorf("%w: metadata needs a name and a version", ErrInvalid)
	}
	if meta.Drift != nil {
		if err := meta.Drift.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	e, err := ParseLightGBM(modelTxt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if e.Features() != features.Count {
		return nil, fmt.Errorf("%w: model reads %d features, want %d", ErrInvalid, e.Features(), features.Count)
	}
	return &Model{Meta: meta, ensemble: e}, nil
}

// Load reads a bundle directory.
func Load(dir string) (*Model, error) {
	txt, err := os.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	meta, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := Parse(txt, meta)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

//go:embed builtin/model.txt builtin/metadata.json
var builtin embed.FS

// Builtin is the model trained by `make train` and committed in builtin/; the default model.
func Builtin() (*Model, error) {
	txt, err := builtin.ReadFile("builtin/" + ModelFile)
	if err != nil {
		return nil, err
	}
	meta, err := builtin.ReadFile("builtin/" + MetadataFile)
	if err != nil {
		return nil, err
	}
	m, err := Parse(txt, meta)
	if err != nil {
		return nil, fmt.Errorf("builtin model: %w", err)
	}
	return m, nil
}

// Probability scores one feature vector.
func (m *Model) Probability(v *features.Vector) float64 { return m.ensemble.Probability(v[:]) }

// ProbabilityBatch scores rows into out, which must be at least as long as rows; each score is
// bit-identical to Probability's. It reads the rows in place, without copying or allocating.
func (m *Model) ProbabilityBatch(rows []features.Vector, out []float64) {
	if len(rows) == 0 {
		return
	}
	// A features.Vector is an array of features.Count float64s, so the rows are contiguous.
	flat := unsafe.Slice(&rows[0][0], len(rows)*features.Count)
	m.ProbabilityRows(flat, out[:len(rows)])
}

// ProbabilityRows scores the len(out) rows held back to back in x, features.Count values each,
// into out; each score is bit-identical to Probability's for its row. It panics when x is
// shorter than len(out) rows.
func (m *Model) ProbabilityRows(x []float64, out []float64) {
	m.ensemble.ProbabilityBatch(x, out)
}

// Explanation decomposes a score in log-odds (LightGBM's raw score): Expected plus the sum of
// Contributions is the raw score, and the probability is its sigmoid.
type Explanation struct {
	Expected      float64
	Contributions features.Vector
}

// Raw is the sum of Explanation's parts.
func (x *Explanation) Raw() float64 {
	s := x.Expected
	for _, c := range x.Contributions {
		s += c
	}
	return s
}

// Explain computes v's exact TreeSHAP contributions from the same trees that score it.
func (m *Model) Explain(v *features.Vector) (Explanation, error) {
	var x Explanation
	exp, err := m.ensemble.Contributions(v[:], x.Contributions[:])
	x.Expected = exp
	return x, err
}

// Raw is v's raw score (log-odds), the quantity an Explanation sums to.
func (m *Model) Raw(v *features.Vector) float64 { return m.ensemble.Raw(v[:]) }

// Trees is the ensemble's size.
func (m *Model) Trees() int { return m.ensemble.Trees() }
