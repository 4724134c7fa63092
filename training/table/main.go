// Command table writes the training table: a dataset (simulated from a seed, or read from a file
// in the handbook's CSV format) replayed through the feature pipeline the function serves with,
// one row per transaction with its 15 features and its label.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"function/internal/features"
	"function/internal/simulate"
	"function/internal/txn"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	cfg := simulate.DefaultConfig(0)
	fs.Uint64Var(&cfg.Seed, "seed", 0, "simulation seed")
	fs.IntVar(&cfg.Customers, "customers", cfg.Customers, "simulated customers")
	fs.IntVar(&cfg.Terminals, "terminals", cfg.Terminals, "simulated terminals")
	fs.IntVar(&cfg.Days, "days", cfg.Days, "simulated days")
	dataset := fs.String("dataset", "", "read this dataset file (handbook CSV) instead of simulating")
	out := fs.String("out", "-", "output CSV file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	next, start, finish, err := open(cfg, *dataset)
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(Header + "\n"); err != nil {
		return err
	}
	r := features.NewReplayer(features.NewMemory())
	var v features.Vector
	var buf []byte
	rows := 0
	for {
		tx, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := r.Next(ctx, &tx, &v); err != nil {
			return err
		}
		buf = AppendRow(buf[:0], &tx, start, &v)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		rows++
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	slog.Info("table written", "rows", rows, "out", *out)
	return finish()
}

// Header is the table's first line.
var Header = func() string {
	h := "transaction_id,tx_datetime,customer_id,terminal_id,tx_time_days"
	for _, n := range features.Names {
		h += "," + n
	}
	return h + ",tx_fraud,tx_fraud_scenario"
}()

// AppendRow appends one table row with its newline. Days count from start.
func AppendRow(b []byte, tx *txn.Transaction, start time.Time, v *features.Vector) []byte {
	b = append(b, tx.ID...)
	b = append(b, ',')
	b = tx.Time.UTC().AppendFormat(b, txn.DatetimeLayout)
	b = append(b, ',')
	b = strconv.AppendInt(b, tx.CustomerID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, tx.TerminalID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(tx.Time.Sub(start)/(24*time.Hour)), 10)
	for _, x := range v {
		b = append(b, ',')
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	if tx.Fraud {
		b = append(b, ",1,"...)
	} else {
		b = append(b, ",0,"...)
	}
	b = strconv.AppendInt(b, int64(tx.Scenario), 10)
	return append(b, '\n')
}

// open returns an iterator over the dataset in time order, its start day, and a function to call
// at the end that reports rejected rows.
func open(cfg simulate.Config, dataset string) (next func() (txn.Transaction, bool, error), start time.Time, finish func() error, err error) {
	if dataset == "" {
		sim, err := simulate.New(cfg)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		return func() (txn.Transaction, bool, error) {
			tx, ok := sim.Next()
			return tx, ok, nil
		}, cfg.Start, func() error { return nil }, nil
	}
	f, err := os.Open(dataset)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	rd := txn.NewReader(f)
	// A dataset file need not be in time order (the course's files are ordered by id); the
	// replay needs it, so read it all and sort.
	var all []txn.Transaction
	for {
		tx, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, time.Time{}, nil, err
		}
		all = append(all, tx)
	}
	f.Close()
	sortByTime(all)
	if len(all) > 0 {
		start = all[0].Time.Truncate(24 * time.Hour)
	}
	i := 0
	return func() (txn.Transaction, bool, error) {
			if i == len(all) {
				return txn.Transaction{}, false, nil
			}
			i++
			return all[i-1], true, nil
		}, start, func() error {
			for _, re := range rd.Rejected {
				slog.Warn("rejected row", "line", re.Line, "field", re.Field, "reason", re.Reason)
			}
			slog.Info("dataset read", "rows", rd.Read, "rejected", rd.Bad())
			return nil
		}, nil
}
