package features

import (
	"fmt"
	"time"

	"function/internal/txn"
)

// Retention is how long after its newest event an idle history is kept: the horizon plus the
// 7-day label delay, longer than any transaction may be late (config bounds EVENT_MAX_LATENESS
// below it), so that no transaction that may still arrive would have seen what was dropped.
const Retention = Horizon + LabelDelay

const retentionSeconds = int64(Retention / time.Second)

// The state metrics every store exports on the registry it is given (names shared by the
// PrometheusRule FraudDetectorStateNearCapacity).
const (
	MetricHistories     = "fraud_state_histories"
	HelpHistories       = "Customers and terminals with a history in the in-memory feature store."
	MetricCapacityRatio = "fraud_state_capacity_ratio"
	HelpCapacityRatio   = "Fraction of the feature store's capacity in use (histories over the cap in memory, used_memory over maxmemory in Redis); past 1 the oldest state is evicted."
	MetricEvictions     = "fraud_state_evictions_total"
	HelpEvictions       = "Histories dropped by the feature store, by reason (expired: no window sees them; capacity: the store was full)."
)

// ErrUnknownTransaction means a label names a transaction the state has not seen at that
// customer and terminal (never sent, or older than every window): it is refused, permanently.
var ErrUnknownTransaction = fmt.Errorf("%w: label names no transaction seen at its customer and terminal", txn.ErrInvalid)

func unknown(l *txn.Label) error {
	return fmt.Errorf("%w (transaction %q, customer %d, terminal %d, %s)", ErrUnknownTransaction,
		truncate(l.TransactionID, 64), l.CustomerID, l.TerminalID, l.Time.UTC().Format(txn.DatetimeLayout))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Seen reports whether ev holds the event of time t and id hash h.
func Seen(ev []Event, t int64, h uint64) bool {
	for i := len(ev) - 1; i >= 0 && ev[i].Time >= t; i-- {
		if ev[i].Time == t && ev[i].ID == h {
			return true
		}
	}
	return false
}
