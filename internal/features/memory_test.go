package features_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/features"
	"function/internal/txn"
)

func record(t *testing.T, s features.Store, tx *txn.Transaction) (n int) {
	t.Helper()
	if err := s.Record(context.Background(), tx, func(c *features.CustomerHistory, _ *features.TerminalHistory) { n = len(c.Events) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// The in-memory store is bounded: a flood of new ids never takes it past its cap, the least
// recently active go first (a regular customer keeps its history), idle histories that no window
// can see are swept, and the metrics say so.
func TestMemoryIsBounded(t *testing.T) {
	const limit = 12800 // 100 a shard
	s := features.NewMemory(features.WithMaxHistories(limit))
	reg := prometheus.NewPedanticRegistry()
	if err := s.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	regular := 0
	for i := range 30_000 {
		at := t0.Add(time.Duration(i) * time.Second)
		record(t, s, &txn.Transaction{ID: "f" + string(rune(i)), Time: at, CustomerID: 1_000_000 + int64(i), TerminalID: 1_000_000 + int64(i), Amount: 1})
		if i%100 == 0 {
			regular++
			if got := record(t, s, &txn.Transaction{ID: "r" + string(rune(i)), Time: at, CustomerID: 7, TerminalID: 7, Amount: 1}); got != regular {
				t.Fatalf("regular customer: %d events after %d transactions", got, regular)
			}
		}
		if i%1000 != 0 {
			continue
		}
		if c, tr := s.Size(); c+tr > s.Cap() {
			t.Fatalf("%d histories, cap %d", c+tr, s.Cap())
		}
	}
	_, capacity := s.Evictions()
	if capacity == 0 {
		t.Fatal("nothing evicted for capacity")
	}
	if got := testutil.ToFloat64(prometheusGauge(t, reg, features.MetricCapacityRatio)); got <= 0.8 || got > 1 {
		t.Errorf("%s = %v, want near 1 when full", features.MetricCapacityRatio, got)
	}
	// Much later, the flood's histories are beyond every window: new traffic sweeps them.
	later := t0.Add(30_000*time.Second + features.Retention + time.Hour)
	for i := range 5000 {
		record(t, s, &txn.Transaction{ID: "l" + string(rune(i)), Time: later, CustomerID: int64(i), TerminalID: 1, Amount: 1})
	}
	expired, _ := s.Evictions()
	if expired == 0 {
		t.Error("idle histories beyond every window were never swept")
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(""), features.MetricEvictions); err == nil {
		t.Error("no eviction series")
	}
}

func prometheusGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return gathered{reg, name}
}

// gathered lets testutil.ToFloat64 read one series of a registry.
type gathered struct {
	reg  *prometheus.Registry
	name string
}

func (g gathered) Describe(chan<- *prometheus.Desc) {}
func (g gathered) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := g.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == g.name {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, "x", nil, nil), prometheus.GaugeValue, mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
}

// A label may only name a transaction seen at its customer and terminal.
func TestMemoryRefusesLabelsForUnseenTransactions(t *testing.T) {
	s := features.NewMemory()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tx := txn.Transaction{ID: "a", Time: at, CustomerID: 1, TerminalID: 2, Amount: 1}
	record(t, s, &tx)
	l := txn.LabelOf(&tx)
	l.Fraud = true
	for name, bad := range map[string]func(*txn.Label){
		"other id":       func(l *txn.Label) { l.TransactionID = "b" },
		"other customer": func(l *txn.Label) { l.CustomerID = 3 },
		"other terminal": func(l *txn.Label) { l.TerminalID = 3 },
		"other time":     func(l *txn.Label) { l.Time = l.Time.Add(time.Second) },
	} {
		b := l
		bad(&b)
		if err := s.Label(context.Background(), b); err == nil || !strings.Contains(err.Error(), "no transaction seen") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if err := s.Label(context.Background(), l); err != nil {
		t.Errorf("genuine label: %v", err)
	}
}
