package source

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"function/internal/txn"
)

func TestFileReplaysTheDatasetWithPrefixedIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := txn.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2018, 4, 1, 0, 0, 31, 0, time.UTC)
	for i, id := range []string{"0", "1", "2"} {
		tx := txn.Transaction{ID: id, Time: at.Add(time.Duration(i) * time.Minute), CustomerID: int64(i), TerminalID: 5, Amount: 12.5}
		if err := w.Write(&tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := File(path, "run1-")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ids []string
	for {
		tx, ok, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		ids = append(ids, tx.ID)
	}
	if len(ids) != 3 || ids[0] != "run1-0" || ids[2] != "run1-2" {
		t.Errorf("ids %v, want run1-0..run1-2", ids)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing.csv"), ""); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestSimulatorIsSeededAndEndless(t *testing.T) {
	a, err := Simulator(3, "a-")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Simulator(3, "b-")
	for i := 0; i < 1000; i++ {
		x, okx, _ := a.Next()
		y, oky, _ := b.Next()
		if !okx || !oky {
			t.Fatal("simulator ended")
		}
		if x.ID != "a-"+y.ID[2:] || x.Amount != y.Amount || !x.Time.Equal(y.Time) {
			t.Fatalf("record %d differs between equal seeds: %+v vs %+v", i, x, y)
		}
	}
}
