package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/redisstore"
	"function/internal/scoring/attacktest"
	"function/internal/txn"
)

// The attacks on the state give the same result over Redis as in memory.
func TestAttacksRedis(t *testing.T) {
	c := startRedis(t).Client()
	n := 0
	attacktest.Run(t, func(*testing.T) features.Store {
		n++
		return redisstore.New(c, redisstore.WithPrefix(fmt.Sprintf("attack%d:", n)))
	})
}

// deployedPolicy is the --maxmemory-policy of config/redis/redis.yaml, the Redis that ships.
func deployedPolicy(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/redis/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "- --maxmemory-policy" && i+1 < len(lines) {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "-")), `"`)
		}
	}
	t.Fatal("config/redis/redis.yaml sets no --maxmemory-policy")
	return ""
}

// TestFullRedisEvictsOldest is the Redis fill: a flood of new customer ids past maxmemory, with
// the deployed eviction policy. Every transaction keeps scoring (no OOM refusal, which made every
// transaction 503 until a manual flush), the customers active since the flood began keep their
// whole history, the oldest state goes first, and the metrics see it coming.
func TestFullRedisEvictsOldest(t *testing.T) {
	policy := deployedPolicy(t)
	srv := startRedis(t, "--maxmemory-policy", policy, "--maxmemory-samples", "10")
	c := srv.Client()
	ctx := context.Background()
	rs := redisstore.New(c)
	st, err := rs.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	limit := st.UsedMemory + 2<<20 // room for a few thousand histories
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	score := func(id string, customer, terminal int64, at time.Time) int {
		t.Helper()
		tx := txn.Transaction{ID: id, Time: at, CustomerID: customer, TerminalID: terminal, Amount: 10}
		n := 0
		if err := rs.Record(ctx, &tx, func(ch *features.CustomerHistory, _ *features.TerminalHistory) { n = len(ch.Events) }); err != nil {
			t.Fatalf("transaction %s while Redis is full (%s): %v", id, policy, err)
		}
		return n
	}
	// Phase 1: a flood of new ids until Redis is full and evicting (~360 B each).
	i := 0
	next := func() {
		t.Helper()
		score(fmt.Sprintf("flood-%d", i), 1_000_000+int64(i), 1_000_000+int64(i), t0.Add(time.Duration(i)*time.Second))
		i++
	}
	var ratioMax float64
	for {
		next()
		if i%250 != 0 {
			continue
		}
		st, err := rs.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ratioMax = max(ratioMax, float64(st.UsedMemory)/float64(st.MaxMemory))
		if st.EvictedKeys > 0 {
			break
		}
		if i > 200_000 {
			t.Fatalf("no eviction after %d ids (used %d of %d)", i, st.UsedMemory, st.MaxMemory)
		}
	}
	phase1 := i
	// Redis's LRU clock ticks once a second: let phase 1 age, then flood on while a regular
	// customer keeps transacting. The idlest state goes first: the regular customer and phase 2
	// are kept whole, and every transaction scores.
	time.Sleep(2200 * time.Millisecond)
	regular := 0
	for range phase1 / 3 {
		next()
		if i%100 == 0 {
			regular++
			if got := score(fmt.Sprintf("regular-%d", i), 7, 7, t0.Add(time.Duration(i)*time.Second)); got != regular {
				t.Fatalf("the regular customer has %d events after %d transactions: its active history was evicted", got, regular)
			}
		}
	}
	st, err = rs.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := func(from, to int) int {
		n := 0
		for k := from; k < to; k++ {
			if c.Exists(ctx, "fd:c:"+strconv.Itoa(1_000_000+k)).Val() == 1 {
				n++
			}
		}
		return n
	}
	k1, k2 := kept(0, phase1), kept(phase1, i)
	if k2 != i-phase1 || k1 == phase1 {
		t.Errorf("kept %d of %d old customers and %d of %d new: want the old evicted first, the new all kept", k1, phase1, k2, i-phase1)
	}
	if ratioMax < 0.8 {
		t.Errorf("fraud_state_capacity_ratio peaked at %.2f before eviction: the alert at 0.8 would not fire first", ratioMax)
	}
	t.Logf("policy %s: %d keys evicted, every transaction scored, capacity ratio up to %.2f", policy, st.EvictedKeys, ratioMax)
}
