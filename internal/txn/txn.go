// Package txn defines a card transaction as the fraud dataset spells it, and the one decoder of
// transactions from outside input: JSON objects (the API and CloudEvent payloads) and rows of the
// dataset's CSV files.
package txn

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// DatetimeLayout is the dataset's tx_datetime format (UTC, no zone).
const DatetimeLayout = "2006-01-02 15:04:05"

// MaxAmount bounds tx_amount: the simulator's largest amounts are a few thousand; anything above
// this is an input error, not a purchase.
const MaxAmount = 1_000_000

// Transaction is one card payment. Fraud and Scenario are labels carried by datasets; scoring
// ignores them.
type Transaction struct {
	ID          string
	Time        time.Time
	CustomerID  int64
	TerminalID  int64
	Amount      float64
	TimeSeconds int64 // seconds since the dataset's start; 0 when unknown
	TimeDays    int64 // days since the dataset's start; 0 when unknown
	Fraud       bool
	Scenario    int8
}

// ErrInvalid marks input that can never be scored, whatever is retried.
var ErrInvalid = errors.New("invalid transaction")

// FieldError says which field of a transaction is wrong and why. It wraps ErrInvalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "invalid transaction: " + e.Reason
	}
	return fmt.Sprintf("invalid transaction: %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseDatetime accepts the dataset's layout and RFC 3339, and returns UTC.
func ParseDatetime(s string) (time.Time, error) {
	if t, ok := parseDatasetTime(s); ok {
		return t, nil
	}
	if t, err := time.Parse(DatetimeLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither %q nor RFC 3339", s, DatetimeLayout)
	}
	return t.UTC(), nil
}

// parseDatasetTime reads s if it is exactly DatetimeLayout's 19 bytes with every field in
// range, as time.Parse would (without its allocation: a layout of this one shape needs no
// general parser). Anything else, valid or not, is left to time.Parse.
func parseDatasetTime(s string) (time.Time, bool) {
	if len(s) != len(DatetimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = 10*v + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	if d > 28 && time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() != d { // past the month's end
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), true
}

// Validate checks the fields every scorable transaction must have.
func (t *Transaction) Validate() error {
	switch {
	case t.ID == "":
		return invalid("transaction_id", "missing")
	case len(t.ID) > 128:
		return invalid("transaction_id", "longer than 128 bytes")
	case t.Time.IsZero():
		return invalid("tx_datetime", "missing")
	case t.Time.Year() < 1970 || t.Time.Year() > 9999:
		return invalid("tx_datetime", "year %d out of range", t.Time.Year())
	case t.CustomerID < 0:
		return invalid("customer_id", "negative (%d)", t.CustomerID)
	case t.TerminalID < 0:
		return invalid("terminal_id", "negative (%d)", t.TerminalID)
	case math.IsNaN(t.Amount) || math.IsInf(t.Amount, 0):
		return invalid("tx_amount", "not a finite number")
	case t.Amount <= 0:
		return invalid("tx_amount", "must be positive, got %s", strconv.FormatFloat(t.Amount, 'g', -1, 64))
	case t.Amount > MaxAmount:
		return invalid("tx_amount", "above the limit of %d", MaxAmount)
	}
	return nil
}

// Unix is the transaction time in Unix seconds, the resolution of the dataset.
func (t *Transaction) Unix() int64 { return t.Time.Unix() }
