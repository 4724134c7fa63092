package features

import (
	"context"
	"sync"

	"github.com/fraud-detector/fraud-detector/internal/txn"
)

// shards spreads lock contention; a customer's and a terminal's locks are taken in a fixed order.
const shards = 64

// Memory is the in-process Store: each process sees only the transactions it was given.
type Memory struct {
	customers [shards]customerShard
	terminals [shards]terminalShard
}

type customerShard struct {
	sync.Mutex
	m map[int64]*CustomerHistory
}

type terminalShard struct {
	sync.Mutex
	m map[int64]*TerminalHistory
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	s := &Memory{}
	for i := range s.customers {
		s.customers[i].m = make(map[int64]*CustomerHistory)
		s.terminals[i].m = make(map[int64]*TerminalHistory)
	}
	return s
}

func shardOf(id int64) int { return int(uint64(id) % shards) }

// Record implements Store.
func (s *Memory) Record(_ context.Context, tx *txn.Transaction, fn func(*CustomerHistory, *TerminalHistory)) error {
	cs := &s.customers[shardOf(tx.CustomerID)]
	ts := &s.terminals[shardOf(tx.TerminalID)]
	cs.Lock()
	ts.Lock()
	c := cs.m[tx.CustomerID]
	if c == nil {
		c = &CustomerHistory{}
		cs.m[tx.CustomerID] = c
	}
	t := ts.m[tx.TerminalID]
	if t == nil {
		t = &TerminalHistory{}
		ts.m[tx.TerminalID] = t
	}
	Add(c, t, tx, IDHash(tx.ID))
	fn(c, t)
	ts.Unlock()
	cs.Unlock()
	return nil
}

// Label implements Store.
func (s *Memory) Label(_ context.Context, l txn.Label) error {
	if !l.Fraud {
		return nil
	}
	ts := &s.terminals[shardOf(l.TerminalID)]
	ts.Lock()
	defer ts.Unlock()
	t := ts.m[l.TerminalID]
	if t == nil {
		t = &TerminalHistory{}
		ts.m[l.TerminalID] = t
	}
	AddFraud(t, &l, IDHash(l.TransactionID))
	return nil
}

// Size reports how many customers and terminals have a history.
func (s *Memory) Size() (customers, terminals int) {
	for i := range s.customers {
		s.customers[i].Lock()
		customers += len(s.customers[i].m)
		s.customers[i].Unlock()
		s.terminals[i].Lock()
		terminals += len(s.terminals[i].m)
		s.terminals[i].Unlock()
	}
	return customers, terminals
}
