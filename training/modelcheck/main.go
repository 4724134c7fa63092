// Command modelcheck loads a model bundle with the function's own loader and scores the rows of
// a parity CSV (the model inputs, features.Names, and LightGBM's probability), printing one JSON
// line with the largest difference. The training smoke test uses it to prove that what Python exports, Go
// loads and scores the same.
package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"function/internal/features"
	"function/internal/model"
)

// Result is the line modelcheck prints.
type Result struct {
	Version    string  `json:"version"`
	Trees      int     `json:"trees"`
	Threshold  float64 `json:"threshold"`
	Rows       int     `json:"rows"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	// RowsPerSecond is batch inference over the rows on one goroutine, with -bench.
	RowsPerSecond float64 `json:"rows_per_second,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modelcheck:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("modelcheck", flag.ContinueOnError)
	dir := fs.String("model", "", "model bundle directory (model.txt + metadata.json)")
	rowsPath := fs.String("rows", "", "parity CSV: the model input columns (features.Names), then probability")
	bench := fs.Duration("bench", 0, "also time batch inference over the rows for this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *rowsPath == "" {
		return errors.New("-model and -rows are required")
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	res, rows, err := compare(m, *rowsPath)
	if err != nil {
		return err
	}
	if *bench > 0 {
		res.RowsPerSecond = throughput(m, rows, *bench)
	}
	return json.NewEncoder(stdout).Encode(res)
}

// throughput scores rows in batches until d has passed; rows per second.
func throughput(m *model.Model, rows []features.Vector, d time.Duration) float64 {
	out := make([]float64, len(rows))
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		m.ProbabilityBatch(rows, out)
		n += len(rows)
	}
	return float64(n) / time.Since(start).Seconds()
}

func compare(m *model.Model, path string) (Result, []features.Vector, error) {
	res := Result{Version: m.Meta.Version, Trees: m.Trees(), Threshold: m.Meta.Threshold}
	f, err := os.Open(path)
	if err != nil {
		return res, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return res, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if len(header) != features.Count+1 {
		return res, nil, fmt.Errorf("%s: %d columns, want %d", path, len(header), features.Count+1)
	}
	for i, n := range features.Names {
		if header[i] != n {
			return res, nil, fmt.Errorf("%s: column %d is %q, want %q", path, i, header[i], n)
		}
	}
	var v features.Vector
	var rows []features.Vector
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, nil, fmt.Errorf("%s: %w", path, err)
		}
		for i := range v {
			if v[i], err = strconv.ParseFloat(rec[i], 64); err != nil {
				return res, nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		want, err := strconv.ParseFloat(rec[features.Count], 64)
		if err != nil {
			return res, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		res.MaxAbsDiff = max(res.MaxAbsDiff, math.Abs(m.Probability(&v)-want))
		res.Rows++
		rows = append(rows, v)
	}
	return res, rows, nil
}
