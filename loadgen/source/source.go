// Package source yields the transactions the load generator sends: the handbook simulator
// (seeded, endless) or a dataset file in the handbook's CSV format, replayed in file order, with
// every id prefixed so that one run's transactions can be told from another's.
package source

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"function/internal/simulate"
	"function/internal/txn"
)

// Source yields transactions in time order.
type Source interface {
	// Next returns the next transaction; false when the source is exhausted.
	Next() (txn.Transaction, bool, error)
	Close() error
}

// Simulator streams the handbook simulator without end (Days = 0).
func Simulator(seed uint64, prefix string) (Source, error) {
	cfg := simulate.DefaultConfig(seed)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return &simSource{sim: sim, prefix: prefix}, nil
}

type simSource struct {
	sim    *simulate.Simulator
	prefix string
}

func (s *simSource) Next() (txn.Transaction, bool, error) {
	t, ok := s.sim.Next()
	t.ID = s.prefix + t.ID
	return t, ok, nil
}

func (s *simSource) Close() error { return nil }

// File replays a dataset file. Rows the dataset reader rejects are skipped (and counted by it).
func File(path, prefix string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return &fileSource{f: f, r: txn.NewReader(bufio.NewReaderSize(f, 1<<16)), prefix: prefix}, nil
}

type fileSource struct {
	f      *os.File
	r      *txn.Reader
	prefix string
}

func (s *fileSource) Next() (txn.Transaction, bool, error) {
	t, err := s.r.Next()
	if errors.Is(err, io.EOF) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("source %s: %w", s.f.Name(), err)
	}
	t.ID = s.prefix + t.ID
	return t, true, nil
}

func (s *fileSource) Close() error { return s.f.Close() }
