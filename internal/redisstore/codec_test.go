package redisstore

import (
	"errors"
	"math"
	"testing"

	"function/internal/features"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := map[string]features.Event{
		"typical":         {Time: 1522663200, Amount: 57.16, ID: features.StableIDHash("42")},
		"before 1970":     {Time: -86400, Amount: 1, ID: 1},
		"smallest amount": {Time: 0, Amount: math.SmallestNonzeroFloat64, ID: math.MaxUint64},
		"inexact decimal": {Time: 253402300799, Amount: 0.1 + 0.2, ID: 0},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			var c [customerSize]byte
			putEvent(c[:], e.Time, e.ID)
			putAmount(c[:], e.Amount)
			got, err := decodeCustomer(nil, string(c[:])+string(c[:]))
			if err != nil || len(got) != 2 || got[0] != e || got[1] != e {
				t.Errorf("customer record: %+v, %v; want twice %+v", got, err, e)
			}
			var r [eventSize]byte
			putEvent(r[:], e.Time, e.ID)
			ev, err := decodeEvents(nil, string(r[:]))
			if want := (features.Event{Time: e.Time, ID: e.ID}); err != nil || len(ev) != 1 || ev[0] != want {
				t.Errorf("event record: %+v, %v; want %+v", ev, err, want)
			}
		})
	}
}

// FuzzDecode: whatever Redis hands back, decoding returns events or ErrCorrupt, never panics.
func FuzzDecode(f *testing.F) {
	f.Add("")
	f.Add("0123456789abcdef")
	f.Add("0123456789abcdef01234567")
	f.Add("short")
	f.Fuzz(func(t *testing.T, s string) {
		if ev, err := decodeEvents(nil, s); err != nil && !errors.Is(err, ErrCorrupt) || err == nil && len(ev)*eventSize != len(s) {
			t.Errorf("events of %d bytes: %d events, %v", len(s), len(ev), err)
		}
		if ev, err := decodeCustomer(nil, s); err != nil && !errors.Is(err, ErrCorrupt) || err == nil && len(ev)*customerSize != len(s) {
			t.Errorf("customers of %d bytes: %d events, %v", len(s), len(ev), err)
		}
	})
}
