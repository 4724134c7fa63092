package features

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"function/internal/txn"
)

// shards spreads lock contention; a customer's and a terminal's locks are taken in a fixed order.
const shards = 64

// DefaultMaxHistories caps the customers plus terminals a Memory holds: each costs about 1 KB
// with a month of history, so 1 M is about 1 GB at worst (the handbook's world is 15,000).
const DefaultMaxHistories = 1_000_000

// sweepEvery is how many new histories a shard takes between two sweeps of its idle histories.
const sweepEvery = 1024

// Eviction reasons, the values of fraud_state_evictions_total{reason}.
const (
	EvictExpired  = "expired"  // no window can see the history any more
	EvictCapacity = "capacity" // the store was full: the least recently active went first
)

// Memory is the in-process Store: each process sees only the transactions it was given. It keeps
// at most its cap of histories: idle ones (newest event older than Retention before the newest
// transaction recorded) are swept, and when a shard is still full the least recently active
// eighth of it is evicted, oldest first.
type Memory struct {
	customers [shards]shard[CustomerHistory]
	terminals [shards]shard[TerminalHistory]
	perShard  int          // cap of each of the 2×shards maps
	now       atomic.Int64 // newest transaction time recorded, Unix seconds
	evicted   [2]atomic.Uint64
}

type shard[H any] struct {
	sync.Mutex
	m     map[int64]*H
	added int // new histories since the last sweep
}

// MemoryOption configures a Memory.
type MemoryOption func(*Memory)

// WithMaxHistories caps the customers plus terminals held (default DefaultMaxHistories).
func WithMaxHistories(n int) MemoryOption {
	return func(s *Memory) { s.perShard = max(1, n/(2*shards)) }
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	s := &Memory{}
	WithMaxHistories(DefaultMaxHistories)(s)
	for _, o := range opts {
		o(s)
	}
	for i := range s.customers {
		s.customers[i].m = make(map[int64]*CustomerHistory)
		s.terminals[i].m = make(map[int64]*TerminalHistory)
	}
	return s
}

func shardOf(id int64) int { return int(uint64(id) % shards) }

func (c *CustomerHistory) newest() int64 { return newest(c.Events) }

func (t *TerminalHistory) newest() int64 { return max(newest(t.Events), newest(t.Frauds)) }

func newest(ev []Event) int64 {
	if len(ev) == 0 {
		return minTime
	}
	return ev[len(ev)-1].Time
}

const minTime = -1 << 63

// get returns id's history, making room for it first if it is new.
func get[H any, P interface {
	*H
	newest() int64
}](s *Memory, sh *shard[H], id int64) *H {
	if h := sh.m[id]; h != nil {
		return h
	}
	sh.added++
	if len(sh.m) >= s.perShard || sh.added >= sweepEvery {
		sh.added = 0
		s.evict(sweep[H, P](sh, s.now.Load(), s.perShard))
	}
	h := new(H)
	sh.m[id] = h
	return h
}

// sweep drops the idle histories of sh and, if it is still full, the least recently active
// eighth of limit. It returns how many went for each reason.
func sweep[H any, P interface {
	*H
	newest() int64
}](sh *shard[H], now int64, limit int) (expired, capacity int) {
	cut := now - retentionSeconds
	for id, h := range sh.m {
		if P(h).newest() <= cut {
			delete(sh.m, id)
			expired++
		}
	}
	if len(sh.m) < limit {
		return expired, 0
	}
	times := make([]int64, 0, len(sh.m))
	for _, h := range sh.m {
		times = append(times, P(h).newest())
	}
	slices.Sort(times)
	keep := limit - max(1, limit/8)
	cut = times[len(times)-keep-1]
	for id, h := range sh.m {
		if len(sh.m) <= keep {
			break
		}
		if P(h).newest() <= cut {
			delete(sh.m, id)
			capacity++
		}
	}
	return expired, capacity
}

func (s *Memory) evict(expired, capacity int) {
	s.evicted[0].Add(uint64(expired))
	s.evicted[1].Add(uint64(capacity))
}

// Record implements Store.
func (s *Memory) Record(_ context.Context, tx *txn.Transaction, fn func(*CustomerHistory, *TerminalHistory)) error {
	for t := tx.Unix(); ; {
		n := s.now.Load()
		if t <= n || s.now.CompareAndSwap(n, t) {
			break
		}
	}
	cs := &s.customers[shardOf(tx.CustomerID)]
	ts := &s.terminals[shardOf(tx.TerminalID)]
	cs.Lock()
	ts.Lock()
	c := get[CustomerHistory](s, cs, tx.CustomerID)
	t := get[TerminalHistory](s, ts, tx.TerminalID)
	Add(c, t, tx, IDHash(tx.ID))
	fn(c, t)
	ts.Unlock()
	cs.Unlock()
	return nil
}

// Label implements Store: a fraud label is recorded only if its transaction is in both the
// customer's and the terminal's history (ErrUnknownTransaction otherwise).
func (s *Memory) Label(_ context.Context, l txn.Label) error {
	if !l.Fraud {
		return nil
	}
	cs := &s.customers[shardOf(l.CustomerID)]
	ts := &s.terminals[shardOf(l.TerminalID)]
	cs.Lock()
	defer cs.Unlock()
	ts.Lock()
	defer ts.Unlock()
	c, t := cs.m[l.CustomerID], ts.m[l.TerminalID]
	h := IDHash(l.TransactionID)
	if c == nil || t == nil || !Seen(c.Events, l.Time.Unix(), h) || !Seen(t.Events, l.Time.Unix(), h) {
		return unknown(&l)
	}
	AddFraud(t, &l, h)
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

// Evictions reports how many histories were dropped, for each reason.
func (s *Memory) Evictions() (expired, capacity uint64) {
	return s.evicted[0].Load(), s.evicted[1].Load()
}

// Cap is the most histories the store holds.
func (s *Memory) Cap() int { return s.perShard * 2 * shards }

// RegisterMetrics registers the store's size and evictions on reg:
// fraud_state_histories{kind}, fraud_state_capacity_ratio and fraud_state_evictions_total{reason}.
func (s *Memory) RegisterMetrics(reg prometheus.Registerer) error {
	size := func(kind int) func() float64 {
		return func() float64 {
			c, t := s.Size()
			return float64([2]int{c, t}[kind])
		}
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricHistories, Help: HelpHistories, ConstLabels: prometheus.Labels{"kind": "customer"}}, size(0)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricHistories, Help: HelpHistories, ConstLabels: prometheus.Labels{"kind": "terminal"}}, size(1)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricCapacityRatio, Help: HelpCapacityRatio}, func() float64 {
			c, t := s.Size()
			return float64(c+t) / float64(s.Cap())
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricEvictions, Help: HelpEvictions, ConstLabels: prometheus.Labels{"reason": EvictExpired}},
			func() float64 { return float64(s.evicted[0].Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricEvictions, Help: HelpEvictions, ConstLabels: prometheus.Labels{"reason": EvictCapacity}},
			func() float64 { return float64(s.evicted[1].Load()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("features: register state metrics: %w", err)
		}
	}
	return nil
}
