package simulate_test

import (
	"testing"

	"function/internal/simulate"
	"function/internal/txn"
)

func small(seed uint64) simulate.Config {
	c := simulate.DefaultConfig(seed)
	c.Customers, c.Terminals, c.Days = 200, 400, 30
	return c
}

func drain(t *testing.T, cfg simulate.Config) []txn.Transaction {
	t.Helper()
	s, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []txn.Transaction
	for {
		tx, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, tx)
	}
}

func TestDeterministicAndOrdered(t *testing.T) {
	a, b := drain(t, small(7)), drain(t, small(7))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d differs: %+v vs %+v", i, a[i], b[i])
		}
		if err := a[i].Validate(); err != nil {
			t.Fatalf("row %d invalid: %v", i, err)
		}
		if i > 0 && a[i].Time.Before(a[i-1].Time) {
			t.Fatalf("row %d out of time order", i)
		}
		if want := int64(a[i].Time.Sub(simulate.DefaultStart).Seconds()); a[i].TimeSeconds != want || a[i].TimeDays != want/86400 {
			t.Fatalf("row %d: time_seconds %d days %d, want %d", i, a[i].TimeSeconds, a[i].TimeDays, want)
		}
	}
	if c := drain(t, small(8)); len(c) == len(a) && c[0] == a[0] {
		t.Error("another seed gave the same data")
	}
}

func TestNextDayMatchesNext(t *testing.T) {
	cfg := small(3)
	want := drain(t, cfg)
	s, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []txn.Transaction
	for {
		day, ok := s.NextDay()
		if !ok {
			break
		}
		got = append(got, day...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows by day, %d one by one", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d differs", i)
		}
	}
}

func TestScenarios(t *testing.T) {
	for _, tx := range drain(t, small(1)) {
		switch {
		case tx.Fraud != (tx.Scenario != 0):
			t.Fatalf("fraud flag and scenario disagree: %+v", tx)
		case tx.Scenario == 0 && tx.Amount > 220:
			t.Fatalf("amount above 220 not marked fraud: %+v", tx)
		}
	}
}

func TestEndless(t *testing.T) {
	cfg := small(1)
	cfg.Days = 0
	s, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last txn.Transaction
	for range 20000 {
		tx, ok := s.Next()
		if !ok {
			t.Fatal("endless simulator ended")
		}
		last = tx
	}
	if last.TimeDays < 30 {
		t.Errorf("after 20000 rows still on day %d", last.TimeDays)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mut := range map[string]func(*simulate.Config){
		"customers": func(c *simulate.Config) { c.Customers = 0 },
		"terminals": func(c *simulate.Config) { c.Terminals = -1 },
		"days":      func(c *simulate.Config) { c.Days = -1 },
		"radius":    func(c *simulate.Config) { c.Radius = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			c := small(1)
			mut(&c)
			if _, err := simulate.New(c); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestEveryRowIsValid(t *testing.T) {
	cfg := small(5)
	cfg.Customers, cfg.Days = 2000, 20
	for _, tx := range drain(t, cfg) {
		if err := tx.Validate(); err != nil {
			t.Fatalf("%+v: %v", tx, err)
		}
	}
}

// AmountScale changes the amounts only: the same transactions, at the same times, customers and
// terminals, each amount about scale times the handbook's.
func TestAmountScale(t *testing.T) {
	draw := func(scale float64) []txn.Transaction {
		cfg := small(7)
		cfg.Days, cfg.AmountScale = 5, scale
		return drain(t, cfg)
	}
	base, unit, double := draw(0), draw(1), draw(2)
	if len(base) == 0 || len(double) != len(base) || len(unit) != len(base) {
		t.Fatalf("%d, %d and %d transactions", len(base), len(unit), len(double))
	}
	sum, sum2 := 0.0, 0.0
	for i := range base {
		b, u, d := base[i], unit[i], double[i]
		if u != b {
			t.Fatalf("scale 1 differs from the default at %d: %+v vs %+v", i, u, b)
		}
		if d.ID != b.ID || !d.Time.Equal(b.Time) || d.CustomerID != b.CustomerID || d.TerminalID != b.TerminalID {
			t.Fatalf("transaction %d changed beyond its amount: %+v vs %+v", i, d, b)
		}
		sum += b.Amount
		sum2 += d.Amount
	}
	if r := sum2 / sum; r < 1.9 || r > 2.1 {
		t.Errorf("mean amount ratio %.3f, want about 2", r)
	}
	if _, err := simulate.New(simulate.Config{Seed: 1, Customers: 1, Terminals: 1, Radius: 1, Start: simulate.DefaultStart, AmountScale: -1}); err == nil {
		t.Error("a negative amount scale was accepted")
	}
}
