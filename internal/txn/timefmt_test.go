package txn

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimeFormatsMatchTheLibrary: AppendDatetime writes what time.Time.AppendFormat writes, for
// UTC and other zones, over the years they are asked about and beyond.
func TestTimeFormatsMatchTheLibrary(t *testing.T) {
	zone := time.FixedZone("plus2", 2*3600)
	times := []time.Time{
		time.Date(2018, 4, 1, 0, 0, 31, 0, time.UTC),
		time.Date(2026, 12, 4, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 12, 4, 1, 2, 3, 120_000_000, time.UTC),
		time.Date(2026, 12, 4, 1, 2, 3, 1, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 2, 3, 4, 5, 6, 7000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 4, 1, 2, 3, 500, zone),
		time.Date(2026, 12, 4, 1, 2, 3, 0, time.Local),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(253402300800), r.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		if got, want := string(AppendDatetime(nil, tm)), tm.UTC().Format(DatetimeLayout); got != want {
			t.Errorf("AppendDatetime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func BenchmarkTimeFormats(b *testing.B) {
	tm := time.Date(2026, 12, 4, 1, 2, 3, 123_456_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("datetime/ours", func(b *testing.B) {
		for b.Loop() {
			buf = AppendDatetime(buf[:0], tm)
		}
	})
	b.Run("datetime/library", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], DatetimeLayout)
		}
	})
}
