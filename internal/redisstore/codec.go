package redisstore

import (
	"encoding/binary"
	"fmt"
	"math"

	"function/internal/features"
)

// Record layout shared with history.lua: time (int64) and id hash, big-endian, then for customers
// the amount's float64 bits, so that it round-trips exactly.
const (
	eventSize    = 16
	customerSize = 24
)

func putEvent(b []byte, t int64, id uint64) {
	binary.BigEndian.PutUint64(b[0:8], uint64(t))
	binary.BigEndian.PutUint64(b[8:16], id)
}

func putAmount(b []byte, amount float64) {
	binary.BigEndian.PutUint64(b[16:24], math.Float64bits(amount))
}

func decodeEvents(dst []features.Event, s string) ([]features.Event, error) {
	if len(s)%eventSize != 0 {
		return dst, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrCorrupt, len(s), eventSize)
	}
	for i := 0; i < len(s); i += eventSize {
		dst = append(dst, features.Event{Time: int64(be64(s[i:])), ID: be64(s[i+8:])})
	}
	return dst, nil
}

func decodeCustomer(dst []features.Event, s string) ([]features.Event, error) {
	if len(s)%customerSize != 0 {
		return dst, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrCorrupt, len(s), customerSize)
	}
	for i := 0; i < len(s); i += customerSize {
		dst = append(dst, features.Event{Time: int64(be64(s[i:])), ID: be64(s[i+8:]), Amount: math.Float64frombits(be64(s[i+16:]))})
	}
	return dst, nil
}

// be64 reads a big-endian uint64 from a string without copying it to a []byte.
func be64(s string) uint64 {
	_ = s[7]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}
