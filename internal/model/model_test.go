package model_test

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"function/internal/drift"
	"function/internal/features"
	"function/internal/model"
)

func builtinFiles(t *testing.T) (txt, meta []byte) {
	t.Helper()
	txt, err := os.ReadFile("builtin/model.txt")
	if err != nil {
		t.Fatal(err)
	}
	meta, err = os.ReadFile("builtin/metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	return txt, meta
}

func TestBuiltinLoads(t *testing.T) {
	m, err := model.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := m.Meta.Params["training_rows"].(float64); m.Meta.Drift == nil || float64(m.Meta.Drift.Rows) != rows {
		t.Errorf("builtin drift reference missing or not of the %v training rows", rows)
	}
	if m.Meta.Name != "fraud-detector" || m.Meta.Version == "" || m.Trees() == 0 {
		t.Errorf("builtin: %+v, %d trees", m.Meta, m.Trees())
	}
}

func TestParseRejectsBadBundles(t *testing.T) {
	txt, meta := builtinFiles(t)
	edit := func(f func(map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(meta, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	corrupt := append([]byte{}, txt...)
	corrupt[len(corrupt)/2] ^= 0x20
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	truncated := txt[:len(txt)/2]
	cases := map[string]struct {
		txt, meta []byte
		want      string
	}{
		"corrupted artifact":              {corrupt, meta, "sha256"},
		"truncated but matching checksum": {truncated, edit(func(m map[string]any) { m["model_sha256"] = sum(truncated) }), "truncated"},
		"metadata not JSON":               {txt, []byte("{"), "metadata"},
		"feature order":                   {txt, edit(func(m map[string]any) { n := m["feature_names"].([]any); n[0], n[1] = n[1], n[0] }), "feature 0"},
		"threshold":                       {txt, edit(func(m map[string]any) { m["threshold"] = 1.5 }), "threshold"},
		"no version":                      {txt, edit(func(m map[string]any) { m["version"] = "" }), "version"},
		"drift reference":                 {txt, edit(func(m map[string]any) { m["drift"].(map[string]any)["features"] = []any{} }), "drift reference"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := model.Parse(tc.txt, tc.meta)
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	txt, meta := builtinFiles(t)
	dir := t.TempDir()
	if _, err := model.Load(dir); err == nil {
		t.Fatal("empty dir loaded")
	}
	os.WriteFile(filepath.Join(dir, model.ModelFile), txt, 0o644)
	os.WriteFile(filepath.Join(dir, model.MetadataFile), meta, 0o644)
	if _, err := model.Load(dir); err != nil {
		t.Fatal(err)
	}
}

// TestParityWithLightGBM compares Go's probabilities with LightGBM's own predict() on the rows
// training wrote (testdata/parity.csv, regenerated with the built-in model by `make train`).
func TestParityWithLightGBM(t *testing.T) {
	f, err := os.Open("testdata/parity.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 10001 {
		t.Fatalf("%d parity rows, want at least 10,000", len(rows)-1)
	}
	for i, n := range features.Names {
		if rows[0][i] != n {
			t.Fatalf("column %d is %q, want %q", i, rows[0][i], n)
		}
	}
	m, err := model.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for r, row := range rows[1:] {
		var v features.Vector
		for i := range v {
			if v[i], err = strconv.ParseFloat(row[i], 64); err != nil {
				t.Fatalf("row %d: %v", r+1, err)
			}
		}
		want, err := strconv.ParseFloat(row[features.Count], 64)
		if err != nil {
			t.Fatalf("row %d: %v", r+1, err)
		}
		worst = max(worst, math.Abs(m.Probability(&v)-want))
	}
	t.Logf("%d rows, max |Go − LightGBM| = %.3g", len(rows)-1, worst)
	if worst > 1e-6 {
		t.Errorf("max absolute difference %g > 1e-6", worst)
	}
}

// A bundle's metadata comes from outside (an MLflow artifact): whatever it holds, Parse either
// refuses it as ErrInvalid or returns a model that scores in [0, 1] with a usable threshold.
func FuzzParseMetadata(f *testing.F) {
	txt, err := os.ReadFile(filepath.Join("builtin", model.ModelFile))
	if err != nil {
		f.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join("builtin", model.MetadataFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(meta)
	f.Add([]byte(`{}`))
	f.Add([]byte(strings.Replace(string(meta), `"threshold": 0.`, `"threshold": 1`, 1)))
	f.Add([]byte(strings.Replace(string(meta), `"TX_AMOUNT",`, ``, 1)))
	f.Add([]byte(strings.Replace(string(meta), `"fractions": [`, `"fractions": [-1, `, 1)))
	f.Fuzz(func(t *testing.T, metadata []byte) {
		m, err := model.Parse(txt, metadata)
		if err != nil {
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !(m.Meta.Threshold > 0 && m.Meta.Threshold < 1) || m.Meta.Name == "" || m.Meta.Version == "" {
			t.Fatalf("accepted metadata %+v", m.Meta)
		}
		var v features.Vector
		if p := m.Probability(&v); !(p >= 0 && p <= 1) {
			t.Fatalf("probability %v", p)
		}
		// An accepted drift reference can be watched without panicking.
		if m.Meta.Drift != nil {
			mon := drift.NewMonitor(prometheus.NewRegistry(), drift.WithWindow(2, 2))
			mon.SetModel(m.Meta.Version, m.Meta.Drift)
			for range 3 {
				mon.Observe(&v, 0.5)
			}
			if _, psi, ok := mon.Snapshot(); !ok || psi < 0 {
				t.Fatalf("score PSI %v, %v", psi, ok)
			}
		}
	})
}
