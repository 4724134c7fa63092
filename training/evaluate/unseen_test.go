package main

import (
	"testing"
	"time"

	"function/internal/txn"
)

// TestUnseen walks one terminal's history: a scenario-1 fraud long before, a genuine payment, then
// a compromise. Only the compromise's own frauds in its first 7 days are unseen; the terminal's
// older fraud does not make them visible, and a fraud whose amount or scenario shows is never
// unseen.
func TestUnseen(t *testing.T) {
	t0 := time.Date(2018, 7, 1, 10, 0, 0, 0, time.UTC)
	at := func(days float64) time.Time { return t0.Add(time.Duration(days * 24 * float64(time.Hour))) }
	steps := []struct {
		name   string
		tx     txn.Transaction
		unseen bool
	}{
		{"scenario 1 fraud", txn.Transaction{Time: at(0), Amount: 250, Fraud: true, Scenario: 1}, false},
		{"genuine", txn.Transaction{Time: at(1), Amount: 40}, false},
		{"compromise, first payment", txn.Transaction{Time: at(30), Amount: 40, Fraud: true, Scenario: 2}, true},
		{"compromise, day 3", txn.Transaction{Time: at(33), Amount: 12, Fraud: true, Scenario: 2}, true},
		{"compromise, an amount over 220", txn.Transaction{Time: at(34), Amount: 230, Fraud: true, Scenario: 2}, false},
		{"compromise, a scenario-3 card", txn.Transaction{Time: at(35), Amount: 150, Fraud: true, Scenario: 3}, false},
		{"compromise, just under 7 days", txn.Transaction{Time: at(36.99), Amount: 60, Fraud: true, Scenario: 2}, true},
		{"compromise, 7 days: its first label is known", txn.Transaction{Time: at(37), Amount: 60, Fraud: true, Scenario: 2}, false},
		{"compromise, day 20", txn.Transaction{Time: at(50), Amount: 60, Fraud: true, Scenario: 2}, false},
		{"after the compromise", txn.Transaction{Time: at(58), Amount: 60}, false},
		{"a second compromise", txn.Transaction{Time: at(80), Amount: 60, Fraud: true, Scenario: 2}, true},
		{"a second compromise, day 8", txn.Transaction{Time: at(88), Amount: 60, Fraud: true, Scenario: 2}, false},
	}
	runs := fraudRuns{}
	other := txn.Transaction{TerminalID: 2, Time: at(30), Amount: 10, Fraud: true, Scenario: 2}
	runs.add(&other) // another terminal's run changes nothing here
	for _, s := range steps {
		s.tx.TerminalID = 1
		start := runs.add(&s.tx)
		if got := unseen(&s.tx, start); got != s.unseen {
			t.Errorf("%s: unseen = %v, want %v (run start %v)", s.name, got, s.unseen, start)
		}
	}
}
