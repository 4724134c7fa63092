// Command evaluate simulates a fresh dataset from a seed, replays it through the feature pipeline
// and a model (the built-in one unless -model names a bundle directory), and prints the handbook's
// test-week metrics as one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"function/internal/evaluation"
	"function/internal/features"
	"function/internal/model"
	"function/internal/simulate"
	"function/internal/txn"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evaluate:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	cfg := simulate.DefaultConfig(0)
	fs.Uint64Var(&cfg.Seed, "seed", 1000, "simulation seed (use one the model was not trained on)")
	fs.IntVar(&cfg.Customers, "customers", cfg.Customers, "simulated customers")
	fs.IntVar(&cfg.Terminals, "terminals", cfg.Terminals, "simulated terminals")
	w := evaluation.HandbookWindow
	fs.Int64Var(&w.TrainStart, "train-start", w.TrainStart, "first day of the training week (days since 2018-04-01); the test week starts 14 days later")
	modelDir := fs.String("model", "", "model bundle directory (default: the built-in model)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	m, err := loadModel(*modelDir)
	if err != nil {
		return err
	}
	cfg.Days = int(w.End())
	rep, err := Evaluate(ctx, cfg, w, m)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(rep)
}

func loadModel(dir string) (*model.Model, error) {
	if dir == "" {
		return model.Builtin()
	}
	return model.Load(dir)
}

// Evaluate simulates cfg, scores the test week of w with m and applies the handbook's protocol.
func Evaluate(ctx context.Context, cfg simulate.Config, w evaluation.Window, m *model.Model) (evaluation.Report, error) {
	sim, err := simulate.New(cfg)
	if err != nil {
		return evaluation.Report{}, err
	}
	r := features.NewReplayer(features.NewMemory())
	var v features.Vector
	var test []evaluation.Row
	frauds := map[int64][]int64{} // customer → days with a fraud
	runs := fraudRuns{}
	for {
		tx, ok := sim.Next()
		if !ok {
			break
		}
		if err := r.Next(ctx, &tx, &v); err != nil {
			return evaluation.Report{}, err
		}
		d := int64(tx.Time.Sub(cfg.Start) / (24 * time.Hour))
		if tx.Fraud {
			frauds[tx.CustomerID] = append(frauds[tx.CustomerID], d)
		}
		start := runs.add(&tx)
		if d >= w.TestStart() && d < w.End() {
			test = append(test, evaluation.Row{Score: m.Probability(&v), Fraud: tx.Fraud, Customer: tx.CustomerID, Day: d,
				Unseen: unseen(&tx, start)})
		}
	}
	return evaluation.Evaluate(w.KnownCompromised(test, frauds)), nil
}

// fraudRuns follows, for each terminal, the run of frauds its newest transactions form. While the
// simulator keeps a terminal compromised (scenario 2, 28 days), every transaction there is a
// fraud, so a compromise is one run: it starts with its first transaction and ends with the first
// genuine one after it.
type fraudRuns map[int64]time.Time // terminal → first transaction of its current run of frauds

// add records tx (in time order) and returns the start of the run tx belongs to (zero for a
// genuine transaction).
func (r fraudRuns) add(tx *txn.Transaction) time.Time {
	if !tx.Fraud {
		delete(r, tx.TerminalID)
		return time.Time{}
	}
	start, ok := r[tx.TerminalID]
	if !ok {
		start = tx.Time
		r[tx.TerminalID] = start
	}
	return start
}

// unseen reports whether tx is a fraud that no input can see when it is scored: scenario 2 alone
// (an amount scenario 1 would not flag, not one of scenario 3's) in a compromise none of whose
// labels is known yet, that is, one that began (runStart) less than features.LabelDelay before
// tx. Such a transaction is a genuine customer's ordinary payment at a terminal drawn at random;
// its customer's, terminal's and amount's history look like any other's until the first label of
// the compromise arrives. A terminal's earlier frauds (another compromise that ended, or a
// scenario 1 or 3 fraud there) say nothing of this one: the simulator draws the terminals it
// compromises uniformly each day, whatever their past.
func unseen(tx *txn.Transaction, runStart time.Time) bool {
	if !tx.Fraud || tx.Scenario != 2 || tx.Amount > simulate.Scenario1Amount {
		return false
	}
	return tx.Time.Sub(runStart) < features.LabelDelay
}
