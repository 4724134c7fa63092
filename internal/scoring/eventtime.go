package scoring

import (
	"sync/atomic"
	"time"

	"function/internal/txn"
)

// Clock is the service's notion of now for event time, and the bounds around it. Every
// transaction and label is checked against it before it may touch the feature state: the state
// prunes each history relative to the newest event it records, so one event dated far ahead would
// otherwise erase every window of its customer and terminal.
//
//   - A transaction may be at most MaxSkew ahead of now and MaxLateness behind it (shorter than
//     the 7-day label delay, so no late transaction lands straight in a terminal's risk window).
//   - A label may be at most MaxSkew ahead of now and LabelMaxDelay behind it.
//
// Now is the wall clock, or with Stream the watermark: the latest transaction time admitted, plus
// the wall time elapsed since it last moved (a stalled stream cannot lock itself out), and never
// past the wall clock plus MaxSkew (the year 9999 is refused in either mode). The first
// transaction of a stream sets the watermark.
type Clock struct {
	Stream        bool
	MaxSkew       time.Duration
	MaxLateness   time.Duration
	LabelMaxDelay time.Duration
	Wall          func() time.Time

	mark     atomic.Int64 // watermark, Unix nanoseconds; 0: none yet
	markWall atomic.Int64 // wall clock when mark last moved, Unix nanoseconds
}

// Now is the current event time: the wall clock, or the stream's watermark.
func (c *Clock) Now() time.Time {
	wall := c.Wall()
	if !c.Stream {
		return wall
	}
	m := c.mark.Load()
	if m == 0 {
		return time.Time{}
	}
	now := time.Unix(0, m).Add(wall.Sub(time.Unix(0, c.markWall.Load())))
	if lim := wall.Add(c.MaxSkew); now.After(lim) {
		return lim
	}
	return now.UTC()
}

// AdmitTransaction reports whether a transaction dated t may touch the state, and moves the
// stream's watermark when it does. The error is a *txn.FieldError on tx_datetime (a 400).
func (c *Clock) AdmitTransaction(t time.Time) error {
	wall := c.Wall()
	if lim := wall.Add(c.MaxSkew); t.After(lim) {
		return tooFar("tx_datetime", t, "ahead of", wall, c.MaxSkew, "wall clock", "tolerated skew")
	}
	if !c.Stream {
		if t.Before(wall.Add(-c.MaxLateness)) {
			return tooFar("tx_datetime", t, "behind", wall, c.MaxLateness, "wall clock", "tolerated lateness")
		}
		return nil
	}
	for {
		m := c.mark.Load()
		if m != 0 {
			now := c.Now()
			if t.After(now.Add(c.MaxSkew)) {
				return tooFar("tx_datetime", t, "ahead of", now, c.MaxSkew, "stream watermark", "tolerated skew")
			}
			if t.Before(now.Add(-c.MaxLateness)) {
				return tooFar("tx_datetime", t, "behind", now, c.MaxLateness, "stream watermark", "tolerated lateness")
			}
			if t.UnixNano() <= m {
				return nil
			}
		}
		if c.mark.CompareAndSwap(m, t.UnixNano()) {
			c.markWall.Store(wall.UnixNano())
			return nil
		}
	}
}

// AdmitLabel reports whether a label for a transaction dated t may touch the state. A stream
// with no watermark yet has seen no transaction a label could name: the label is refused.
func (c *Clock) AdmitLabel(t time.Time) error {
	now, what := c.Now(), "wall clock"
	if c.Stream {
		what = "stream watermark"
		if now.IsZero() {
			return &txn.FieldError{Field: "tx_datetime", Reason: "label before any transaction: the stream has no watermark yet"}
		}
	}
	if t.After(now.Add(c.MaxSkew)) {
		return tooFar("tx_datetime", t, "ahead of", now, c.MaxSkew, what, "tolerated skew")
	}
	if t.Before(now.Add(-c.LabelMaxDelay)) {
		return tooFar("tx_datetime", t, "behind", now, c.LabelMaxDelay, what, "maximum label delay")
	}
	return nil
}

func tooFar(field string, t time.Time, rel string, now time.Time, bound time.Duration, clock, boundName string) error {
	return &txn.FieldError{Field: field, Reason: t.UTC().Format(txn.DatetimeLayout) + " is more than " + bound.String() +
		" " + rel + " the " + clock + " (" + now.UTC().Format(txn.DatetimeLayout) + "; " + boundName + " " + bound.String() + ")"}
}
