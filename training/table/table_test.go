package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"function/internal/features"
)

func TestTableFromSimulation(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.csv")
	if err := run(context.Background(), []string{"-seed", "3", "-customers", "100", "-terminals", "200", "-days", "20", "-out", out}, nil); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, out)
	if len(rows) < 1000 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := len(rows[0]); got != 5+features.Count+2 {
		t.Fatalf("%d columns", got)
	}
	for i, n := range features.Names {
		if rows[0][5+i] != n {
			t.Fatalf("column %d = %q, want %q", 5+i, rows[0][5+i], n)
		}
	}
	for _, r := range rows[1:] {
		for _, cell := range r[5:] {
			if _, err := strconv.ParseFloat(cell, 64); err != nil {
				t.Fatalf("row %v: %v", r, err)
			}
		}
	}
}

// A dataset file with defects is read in time order, its bad rows skipped.
func TestTableFromDirtyDataset(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.csv")
	if err := run(context.Background(), []string{"-dataset", "../../internal/txn/testdata/dirty.csv", "-out", out}, nil); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, out)
	var ids []string
	for _, r := range rows[1:] {
		ids = append(ids, r[0])
	}
	// Good rows 0, 1, 4, 10, sorted by time: 1 (05:10), 0 (06:51), 4 (09:06), 10 (11:32).
	if got := fmtIDs(ids); got != "1,0,4,10" {
		t.Errorf("ids %s", got)
	}
	if rows[1][4] != "0" {
		t.Errorf("tx_time_days %q", rows[1][4])
	}
}

func fmtIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
	}
	return b.String()
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
