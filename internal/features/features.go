// Package features computes the model inputs for a transaction (the handbook's 15 and five of
// ours), incrementally, from the history a Store keeps of each customer and terminal. It is the
// one implementation of the features: the training table is written by replaying a dataset
// through it, and the function scores with it online.
package features

import (
	"context"
	"hash/maphash"
	"time"

	"function/internal/txn"
)

// Count is the number of model inputs: the handbook's 15, then five of ours (issue 16).
const Count = 20

// Names are the model inputs in the order the model takes them: the handbook's column names,
// then ours in the same style.
//
//   - CUSTOMER_ID_AMOUNT_RATIO_{1,7,30}DAY_WINDOW: the amount over what the customer spent
//     before it in the window, as an average shrunk towards TypicalAmount with the weight of one
//     transaction: amount × n / (earlier amounts + TypicalAmount), n counting this one. A stolen
//     card's amounts stand out against its owner's, whatever the owner spends (a tree cannot form
//     the ratio from the amount and the average alone), and a card with no history yet is held
//     to a typical one, so its first 900 reads as 18 times the usual, not as its own average.
//   - TERMINAL_ID_KNOWN_FRAUD_RUN_DAYS and _LENGTH: at the terminal's newest transaction whose
//     label is known (LabelDelay old), the run of consecutive known frauds it ends: days since
//     the run's first transaction, and how many it holds (-1 and 0 when that transaction is
//     genuine, or there is none). A compromised terminal's payments are all frauds, so a run
//     says it is compromised and how long it has been; one stray fraud among genuine payments
//     is a run of one.
var Names = [Count]string{
	"TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
	"CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
	"CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
	"CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
	"TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
	"TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
	"TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW",
	"CUSTOMER_ID_AMOUNT_RATIO_1DAY_WINDOW", "CUSTOMER_ID_AMOUNT_RATIO_7DAY_WINDOW",
	"CUSTOMER_ID_AMOUNT_RATIO_30DAY_WINDOW",
	"TERMINAL_ID_KNOWN_FRAUD_RUN_DAYS", "TERMINAL_ID_KNOWN_FRAUD_RUN_LENGTH",
}

// ReasonCodes are the short human codes of the inputs, in Names' order, as a reason code on a
// decision names them (a card-fraud convention: FICO Falcon, Stripe Radar). They are part of the
// prediction event's contract: never rename one.
var ReasonCodes = [Count]string{
	"AMOUNT", "WEEKEND", "NIGHT",
	"CUSTOMER_TX_COUNT_1D", "CUSTOMER_AVG_AMOUNT_1D",
	"CUSTOMER_TX_COUNT_7D", "CUSTOMER_AVG_AMOUNT_7D",
	"CUSTOMER_TX_COUNT_30D", "CUSTOMER_AVG_AMOUNT_30D",
	"TERMINAL_TX_COUNT_1D", "TERMINAL_RISK_1D",
	"TERMINAL_TX_COUNT_7D", "TERMINAL_RISK_7D",
	"TERMINAL_TX_COUNT_30D", "TERMINAL_RISK_30D",
	"AMOUNT_VS_CUSTOMER_AVG_1D", "AMOUNT_VS_CUSTOMER_AVG_7D", "AMOUNT_VS_CUSTOMER_AVG_30D",
	"TERMINAL_FRAUD_RUN_AGE", "TERMINAL_FRAUD_RUN_LENGTH",
}

// Vector is one row of model inputs.
type Vector [Count]float64

const day = 86400 // seconds

// Windows are the handbook's window lengths in days.
var Windows = [3]int64{1, 7, 30}

// LabelDelay is how long after a transaction its fraud label becomes known (7 days). Terminal
// risk only counts transactions at least this old.
const LabelDelay = 7 * 24 * time.Hour

const delaySeconds = int64(LabelDelay / time.Second)

// Horizon is how far back any feature looks; older history can be dropped.
const Horizon = (30 + 7) * 24 * time.Hour

const horizonSeconds = int64(Horizon / time.Second)

// Event is one past transaction in a history: its time in Unix seconds, its amount (customers)
// and a hash of its id, which makes recording idempotent.
type Event struct {
	Time   int64
	Amount float64
	ID     uint64
}

// CustomerHistory is a customer's transactions, oldest first.
type CustomerHistory struct{ Events []Event }

// TerminalHistory is a terminal's transactions and the frauds among them known so far, each
// oldest first.
type TerminalHistory struct{ Events, Frauds []Event }

// Store keeps the histories. Record adds the transaction to its customer's and terminal's
// histories (unless an event with the same id is there already) and calls fn with both, under
// whatever isolation the store gives, so that fn sees the state as of this transaction. fn must
// not keep the histories.
type Store interface {
	Record(ctx context.Context, tx *txn.Transaction, fn func(*CustomerHistory, *TerminalHistory)) error
	// Label records a known fraud on the terminal's history (non-frauds change nothing).
	Label(ctx context.Context, l txn.Label) error
}

var seed = maphash.MakeSeed()

// IDHash is the hash stored for an id; stable within a process only.
func IDHash(id string) uint64 { return maphash.String(seed, id) }

// StableIDHash is IDHash for stores shared between processes: FNV-1a, the same everywhere.
func StableIDHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// Compute fills v with the features of tx from histories that already contain tx.
func Compute(v *Vector, tx *txn.Transaction, c *CustomerHistory, t *TerminalHistory) {
	now := tx.Unix()
	v[0] = tx.Amount
	wd := tx.Time.Weekday()
	v[1] = b2f(wd == time.Saturday || wd == time.Sunday)
	v[2] = b2f(tx.Time.Hour() <= 6)
	for i, w := range Windows {
		n, sum := countSum(c.Events, now-w*day, now)
		v[3+2*i] = float64(n)
		if n > 0 {
			v[4+2*i] = sum / float64(n)
		} else {
			v[4+2*i] = 0
		}
		v[15+i] = v[0] * float64(n) / (sum - v[0] + TypicalAmount)
	}
	for i, w := range Windows {
		hi := now - delaySeconds
		lo := hi - w*day
		n, _ := countSum(t.Events, lo, hi)
		frauds, _ := countSum(t.Frauds, lo, hi)
		v[9+2*i] = float64(n)
		if n > 0 {
			v[10+2*i] = float64(frauds) / float64(n)
		} else {
			v[10+2*i] = 0
		}
	}
	v[18], v[19] = -1, 0
	if start, n := knownFraudRun(t, now-delaySeconds); n > 0 {
		v[18] = float64(now-start) / day
		v[19] = float64(n)
	}
}

// TypicalAmount is the amount a card with no history is assumed to spend, in the amount ratios:
// about the mean transaction of the simulated customers, whose mean amounts are drawn from 5 to
// 100.
const TypicalAmount = 50.0

// knownFraudRun finds the terminal's newest transaction at or before hi (one whose label is known)
// and returns the first transaction time and length of the run of known frauds it ends (n = 0
// when it is genuine or there is none). A known fraud is an event of t.Frauds with the same time
// and id; both lists are in time order, so the walk is as long as the run.
func knownFraudRun(t *TerminalHistory, hi int64) (start int64, n int) {
	i, j := len(t.Events)-1, len(t.Frauds)-1
	for i >= 0 && t.Events[i].Time > hi {
		i--
	}
	for ; i >= 0; i-- {
		e := &t.Events[i]
		for j >= 0 && t.Frauds[j].Time > e.Time {
			j--
		}
		if !Seen(t.Frauds[:j+1], e.Time, e.ID) {
			break
		}
		start, n = e.Time, n+1
	}
	return start, n
}

// countSum counts the events with lo < Time <= hi and sums their amounts, as pandas' time-based
// rolling windows do (closed on the right).
func countSum(ev []Event, lo, hi int64) (int, float64) {
	n, sum := 0, 0.0
	for i := len(ev) - 1; i >= 0; i-- {
		e := &ev[i]
		if e.Time > hi {
			continue
		}
		if e.Time <= lo {
			break
		}
		n++
		sum += e.Amount
	}
	return n, sum
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// insert adds e keeping time order (histories arrive almost sorted, so this is an append), and
// reports false if an event with the same time and id is present.
func insert(ev []Event, e Event) ([]Event, bool) {
	i := len(ev)
	for i > 0 && ev[i-1].Time > e.Time {
		i--
	}
	for j := i - 1; j >= 0 && ev[j].Time == e.Time; j-- {
		if ev[j].ID == e.ID {
			return ev, false
		}
	}
	if i == len(ev) {
		return append(ev, e), true
	}
	ev = append(ev, Event{})
	copy(ev[i+1:], ev[i:])
	ev[i] = e
	return ev, true
}

// prune drops events that no window can see any more, relative to now.
func prune(ev []Event, now int64) []Event {
	cut := now - horizonSeconds
	k := 0
	for k < len(ev) && ev[k].Time <= cut {
		k++
	}
	if k == 0 {
		return ev
	}
	// Shift in place so the backing array is reused.
	n := copy(ev, ev[k:])
	return ev[:n]
}

// Add records tx in both histories (idempotent by id hash h) and drops what fell out of every window.
func Add(c *CustomerHistory, t *TerminalHistory, tx *txn.Transaction, h uint64) {
	now := tx.Unix()
	c.Events, _ = insert(prune(c.Events, now), Event{Time: now, Amount: tx.Amount, ID: h})
	t.Events, _ = insert(prune(t.Events, now), Event{Time: now, ID: h})
	t.Frauds = prune(t.Frauds, now)
}

// AddFraud records a known fraud in a terminal's history (idempotent by id hash h).
func AddFraud(t *TerminalHistory, l *txn.Label, h uint64) {
	t.Frauds, _ = insert(t.Frauds, Event{Time: l.Time.Unix(), ID: h})
}
