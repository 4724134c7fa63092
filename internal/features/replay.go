package features

import (
	"context"
	"fmt"
	"time"

	"function/internal/txn"
)

// LabelQueue holds fraud labels until LabelDelay after their transaction, the moment they become
// known. Transactions must be pushed in time order. The load generator releases label events with
// it; Replayer feeds them to a Store.
type LabelQueue struct {
	q    []txn.Label
	head int
}

// Push queues the label of tx if it is a fraud (non-frauds change no feature).
func (q *LabelQueue) Push(tx *txn.Transaction) {
	if tx.Fraud {
		q.q = append(q.q, txn.LabelOf(tx))
	}
}

// Due calls fn for every queued label whose delay has passed at now, oldest first.
func (q *LabelQueue) Due(now time.Time, fn func(txn.Label) error) error {
	for q.head < len(q.q) && !q.q[q.head].Time.Add(LabelDelay).After(now) {
		if err := fn(q.q[q.head]); err != nil {
			return err
		}
		q.head++
	}
	if q.head > 1024 && q.head*2 > len(q.q) {
		q.q = append(q.q[:0], q.q[q.head:]...)
		q.head = 0
	}
	return nil
}

// Len is the number of labels still held.
func (q *LabelQueue) Len() int { return len(q.q) - q.head }

// Replayer computes features for a time-ordered stream of labelled transactions, releasing each
// fraud label to the store when it would become known online. It is how the training table and
// the evaluation are built from the same code the function runs.
type Replayer struct {
	store  Store
	labels LabelQueue
	last   time.Time
}

// NewReplayer replays into store.
func NewReplayer(store Store) *Replayer { return &Replayer{store: store} }

// Next computes the features of tx into v and queues its label.
func (r *Replayer) Next(ctx context.Context, tx *txn.Transaction, v *Vector) error {
	if tx.Time.Before(r.last) {
		return fmt.Errorf("replay: transaction %s at %s is before %s: input must be in time order", tx.ID, tx.Time, r.last)
	}
	r.last = tx.Time
	if err := r.labels.Due(tx.Time, func(l txn.Label) error { return r.store.Label(ctx, l) }); err != nil {
		return fmt.Errorf("replay: label: %w", err)
	}
	if err := r.store.Record(ctx, tx, func(c *CustomerHistory, t *TerminalHistory) { Compute(v, tx, c, t) }); err != nil {
		return fmt.Errorf("replay: record %s: %w", tx.ID, err)
	}
	r.labels.Push(tx)
	return nil
}
