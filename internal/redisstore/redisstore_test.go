package redisstore_test

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"function/internal/features"
	"function/internal/model"
	"function/internal/redisstore"
	"function/internal/scoring"
	"function/internal/simulate"
	"function/internal/txn"
)

// input is one delivery to a store: a transaction or a released label.
type input struct {
	tx    *txn.Transaction
	label *txn.Label
}

// messyStream is a small simulated world over more days than features.Horizon (so pruning
// happens), with what real deliveries bring: redeliveries, transactions arriving late, several
// transactions of a customer in the same second, labels released after the label delay.
func messyStream(t *testing.T, days int) []input {
	t.Helper()
	cfg := simulate.DefaultConfig(42)
	cfg.Customers, cfg.Terminals, cfg.Days = 150, 60, days
	sim, err := simulate.New(cfg)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var out []input
	var labels features.LabelQueue
	var late []*txn.Transaction
	for {
		tr, ok := sim.Next()
		if !ok {
			break
		}
		if err := labels.Due(tr.Time, func(l txn.Label) error {
			out = append(out, input{label: &l})
			return nil
		}); err != nil {
			t.Fatalf("labels: %v", err)
		}
		p := &tr
		labels.Push(p)
		switch r := rng.IntN(100); {
		case r < 3: // delivered again
			out = append(out, input{tx: p}, input{tx: p})
		case r < 6: // delivered after a few later ones
			late = append(late, p)
		case r < 8: // a second payment in the same second
			twin := tr
			twin.ID += "-twin"
			twin.Amount = float64(rng.IntN(10000)) / 100
			out = append(out, input{tx: p}, input{tx: &twin})
		default:
			out = append(out, input{tx: p})
		}
		if len(late) > 0 && rng.IntN(4) == 0 {
			out = append(out, input{tx: late[0]})
			late = late[1:]
		}
	}
	for _, p := range late {
		out = append(out, input{tx: p})
	}
	return out
}

// seen is what fn was given: the features and the histories without id hashes (the memory store
// hashes ids per process).
type seen struct {
	v                 features.Vector
	cust, term, fraud []features.Event
}

func record(t *testing.T, s features.Store, tr *txn.Transaction) seen {
	t.Helper()
	var r seen
	strip := func(ev []features.Event) []features.Event {
		out := make([]features.Event, len(ev))
		for i, e := range ev {
			out[i] = features.Event{Time: e.Time, Amount: e.Amount}
		}
		return out
	}
	err := s.Record(context.Background(), tr, func(c *features.CustomerHistory, th *features.TerminalHistory) {
		features.Compute(&r.v, tr, c, th)
		r.cust, r.term, r.fraud = strip(c.Events), strip(th.Events), strip(th.Frauds)
	})
	if err != nil {
		t.Fatalf("record %s: %v", tr.ID, err)
	}
	return r
}

func sameEvents(a, b []features.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMatchesMemory(t *testing.T) {
	srv := startRedis(t)
	stream := messyStream(t, 45)
	mem, rs := features.NewMemory(), redisstore.New(srv.Client())
	ctx := context.Background()
	var txs, labels, pruned int
	for i, in := range stream {
		if in.label != nil {
			labels++
			if err := mem.Label(ctx, *in.label); err != nil {
				t.Fatalf("memory label: %v", err)
			}
			if err := rs.Label(ctx, *in.label); err != nil {
				t.Fatalf("redis label: %v", err)
			}
			continue
		}
		txs++
		want, got := record(t, mem, in.tx), record(t, rs, in.tx)
		if got.v != want.v {
			t.Fatalf("input %d, transaction %s: features differ\nredis  %v\nmemory %v", i, in.tx.ID, got.v, want.v)
		}
		if !sameEvents(got.cust, want.cust) || !sameEvents(got.term, want.term) || !sameEvents(got.fraud, want.fraud) {
			t.Fatalf("input %d, transaction %s: histories differ\nredis  %v %v %v\nmemory %v %v %v",
				i, in.tx.ID, got.cust, got.term, got.fraud, want.cust, want.term, want.fraud)
		}
		if len(want.cust) > 0 && want.cust[0].Time < in.tx.Unix()-int64(30*24*3600) {
			pruned++ // history reaching past the 30-day window: the horizon keeps it for the delay
		}
	}
	// The stream must have exercised what it is meant to.
	if txs < 5000 || labels < 50 || pruned == 0 {
		t.Fatalf("stream too tame: %d transactions, %d labels, %d histories past 30 days", txs, labels, pruned)
	}
	t.Logf("%d transactions and %d labels: identical features and histories", txs, labels)
}

func TestOneRoundTripPerTransaction(t *testing.T) {
	srv := startRedis(t)
	c := srv.Client()
	s := redisstore.New(c)
	stream := messyStream(t, 3)
	record(t, s, stream[0].tx) // loads the script
	var sent countHook
	c.AddHook(&sent)
	before := commandStats(t, c)
	n := 0
	for _, in := range stream[1:] {
		if in.tx != nil {
			record(t, s, in.tx)
			n++
		}
	}
	after := commandStats(t, c)
	if got := after["evalsha"] - before["evalsha"]; got != n {
		t.Errorf("%d transactions ran EVALSHA %d times in Redis, want once each", n, got)
	}
	// The client sent nothing else but the two INFOs.
	if sent.commands != n+2 || sent.pipelines != 0 {
		t.Errorf("%d transactions sent %d commands and %d pipelines, want %d and none", n, sent.commands, sent.pipelines, n+2)
	}
}

// countHook counts what a go-redis client sends.
type countHook struct{ commands, pipelines int }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.commands++
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines++
		return next(ctx, cmds)
	}
}

// commandStats is the calls per command from INFO commandstats.
func commandStats(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			t.Fatalf("commandstats line %q: %v", line, err)
		}
		calls[name] = n
	}
	return calls
}

func TestKeysExpire(t *testing.T) {
	srv := startRedis(t)
	c := srv.Client()
	ctx := context.Background()
	tests := map[string]struct {
		opts []redisstore.Option
		ttl  time.Duration
	}{
		"default": {ttl: redisstore.DefaultTTL},
		"set":     {opts: []redisstore.Option{redisstore.WithTTL(90 * time.Second)}, ttl: 90 * time.Second},
		"short":   {opts: []redisstore.Option{redisstore.WithTTL(300 * time.Millisecond)}, ttl: 300 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			prefix := name + ":"
			s := redisstore.New(c, append(tc.opts, redisstore.WithPrefix(prefix))...)
			record(t, s, tx("a", "2018-04-02 10:00:00", 1, 10, 10))
			record(t, s, tx("b", "2018-04-02 09:00:00", 1, 11, 10))
			if err := s.Label(ctx, *fraud(tx("b", "2018-04-02 09:00:00", 1, 11, 10))); err != nil {
				t.Fatalf("label: %v", err)
			}
			keys, err := c.Keys(ctx, prefix+"*").Result()
			if err != nil {
				t.Fatalf("keys: %v", err)
			}
			if len(keys) != 4 {
				t.Fatalf("keys %v, want a customer, two terminals and a terminal's frauds", keys)
			}
			for _, k := range keys {
				got, err := c.PTTL(ctx, k).Result()
				if err != nil {
					t.Fatalf("pttl %s: %v", k, err)
				}
				if got <= tc.ttl-tc.ttl/10-time.Second || got > tc.ttl {
					t.Errorf("%s expires in %v, want about %v", k, got, tc.ttl)
				}
			}
			if tc.ttl > time.Second {
				return
			}
			time.Sleep(tc.ttl + 200*time.Millisecond)
			if n, err := c.Exists(ctx, keys...).Result(); err != nil || n != 0 {
				t.Errorf("%d of %v still there after their TTL (%v)", n, keys, err)
			}
		})
	}
}

func TestCorruptHistoryIsAnError(t *testing.T) {
	srv := startRedis(t)
	c := srv.Client()
	s := redisstore.New(c)
	ctx := context.Background()
	a := tx("a", "2018-04-02 10:00:00", 1, 10, 10)
	record(t, s, a)
	term, err := c.Get(ctx, redisstore.DefaultPrefix+"t:10").Result()
	if err != nil {
		t.Fatalf("terminal history: %v", err)
	}
	if err := c.Set(ctx, redisstore.DefaultPrefix+"c:1", "not a history", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	b := tx("b", "2018-04-02 11:00:00", 1, 10, 20)
	err = s.Record(ctx, b, func(*features.CustomerHistory, *features.TerminalHistory) {
		t.Error("fn called on a corrupt history")
	})
	if !errors.Is(err, redisstore.ErrCorrupt) {
		t.Fatalf("record on a corrupt history: %v, want a corrupt history error", err)
	}
	// Nothing was written: the terminal history is as before.
	if after, err := c.Get(ctx, redisstore.DefaultPrefix+"t:10").Result(); err != nil || after != term {
		t.Errorf("terminal history changed by a failed record (%v)", err)
	}
}

// TestUnavailable: when Redis is away the scorer gets an error (a 503 for the function), quickly,
// and nothing is scored; when it is back, scoring goes on.
func TestUnavailable(t *testing.T) {
	srv := startRedis(t)
	st, err := redisstore.Open(srv.URL(0))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	sc := scoring.New(st, scoring.WithEventClock(&scoring.Clock{Stream: true, MaxSkew: time.Hour, MaxLateness: 1e6 * time.Hour}))
	sc.SetModel(builtinModel(t))
	ctx := context.Background()
	stream := messyStream(t, 2)
	var txs []*txn.Transaction
	for _, in := range stream {
		if in.tx != nil {
			txs = append(txs, in.tx)
		}
	}
	score := func(i int) error {
		_, err := sc.Score(ctx, txs[i])
		return err
	}
	if err := score(0); err != nil {
		t.Fatalf("score with redis up: %v", err)
	}
	outages := map[string]struct{ down, up func() }{
		"paused": {srv.Pause, srv.Resume},
		"killed": {srv.Kill, srv.Start},
	}
	i := 1
	for name, o := range outages {
		t.Run(name, func(t *testing.T) {
			o.down()
			start := time.Now()
			err := score(i)
			if !errors.Is(err, scoring.ErrStore) {
				t.Fatalf("score with redis %s: %v, want scoring.ErrStore", name, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the error took %v", d)
			}
			t.Logf("redis %s: error after %v: %v", name, time.Since(start).Round(time.Millisecond), err)
			o.up()
			if err := score(i); err != nil {
				t.Fatalf("score after redis came back: %v", err)
			}
			i++
		})
	}
}

func TestOpen(t *testing.T) {
	tests := map[string]struct {
		url               string
		wantErr           bool
		addr, prefix      string
		db                int
		readTimeout       time.Duration
		retries, poolSize int
		protocol          int
	}{
		"defaults":        {url: "redis://10.0.0.1:6380/2", addr: "10.0.0.1:6380", prefix: redisstore.DefaultPrefix, db: 2, readTimeout: redisstore.DefaultReadTimeout, retries: redisstore.DefaultMaxRetries},
		"url options win": {url: "redis://:secret@redis:6379/0?read_timeout=2s&max_retries=3&pool_size=7&protocol=3", protocol: 3, addr: "redis:6379", prefix: redisstore.DefaultPrefix, readTimeout: 2 * time.Second, retries: 3, poolSize: 7},
		"key prefix":      {url: "redis://redis/0?key_prefix=blue:", addr: "redis:6379", prefix: "blue:", readTimeout: redisstore.DefaultReadTimeout, retries: redisstore.DefaultMaxRetries},
		"other scheme":    {url: "http://redis:6379", wantErr: true},
		"unknown option":  {url: "redis://redis:6379?colour=red", wantErr: true},
		"bad database":    {url: "redis://redis:6379/x", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := redisstore.Open(tc.url)
			if tc.wantErr {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q) succeeded", tc.url)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			defer s.Close()
			o := redisstore.ClientOptions(s)
			if o.Addr != tc.addr || o.DB != tc.db || o.ReadTimeout != tc.readTimeout || o.MaxRetries != tc.retries {
				t.Errorf("options: addr %s db %d read timeout %v retries %d; want %s %d %v %d",
					o.Addr, o.DB, o.ReadTimeout, o.MaxRetries, tc.addr, tc.db, tc.readTimeout, tc.retries)
			}
			if want := cmp.Or(tc.protocol, redisstore.DefaultProtocol); o.Protocol != want {
				t.Errorf("protocol %d, want %d", o.Protocol, want)
			}
			if tc.poolSize != 0 && o.PoolSize != tc.poolSize {
				t.Errorf("pool size %d, want %d", o.PoolSize, tc.poolSize)
			}
			if p := redisstore.KeyPrefix(s); p != tc.prefix {
				t.Errorf("key prefix %q, want %q", p, tc.prefix)
			}
			if !o.ContextTimeoutEnabled {
				t.Error("context deadlines are not honoured")
			}
		})
	}
}

func builtinModel(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Builtin()
	if err != nil {
		t.Fatalf("built-in model: %v", err)
	}
	return m
}

// TestEdgesMatchMemory compares histories, not only features, on the cases where a store could
// keep one event too many or too few without any feature showing it yet.
func TestEdgesMatchMemory(t *testing.T) {
	const start = "2018-04-02 10:00:00"
	horizon := at(start).Add(features.Horizon).Format(txn.DatetimeLayout)
	justInside := at(start).Add(features.Horizon - time.Second).Format(txn.DatetimeLayout)
	tests := map[string][]*txn.Transaction{
		"exactly the horizon later": {tx("a", start, 1, 1, 1), tx("b", horizon, 1, 1, 2)},
		"a second inside":           {tx("a", start, 1, 1, 1), tx("b", justInside, 1, 1, 2)},
		"late beyond the horizon":   {tx("a", start, 1, 1, 1), tx("b", horizon, 1, 1, 2), tx("c", start, 1, 1, 3)},
		"same id, other amount":     {tx("a", start, 1, 1, 1), tx("a", start, 1, 1, 2)},
		"same id, other time":       {tx("a", start, 1, 1, 1), tx("a", justInside, 1, 1, 2)},
		"same second, three ids":    {tx("a", start, 1, 1, 0.1), tx("b", start, 1, 1, 0.2), tx("c", start, 1, 1, 0.3), tx("b", start, 1, 1, 0.2)},
		"late into the middle":      {tx("a", start, 1, 1, 1), tx("c", justInside, 1, 1, 3), tx("b", horizon, 2, 1, 2), tx("d", start, 1, 1, 4)},
	}
	client := startRedis(t).Client()
	for name, seq := range tests {
		t.Run(name, func(t *testing.T) {
			mem, rs := features.NewMemory(), redisstore.New(client, redisstore.WithPrefix(name+":"))
			// A fraud known on the terminal from the start, so that fraud pruning is compared too.
			early := fraud(tx("f", start, 9, 1, 1))
			for _, s := range []features.Store{mem, rs} {
				record(t, s, tx("f", start, 9, 1, 1))
				if err := s.Label(context.Background(), *early); err != nil {
					t.Fatalf("label: %v", err)
				}
			}
			for i, tr := range seq {
				want, got := record(t, mem, tr), record(t, rs, tr)
				if got.v != want.v || !sameEvents(got.cust, want.cust) || !sameEvents(got.term, want.term) || !sameEvents(got.fraud, want.fraud) {
					t.Fatalf("step %d (%s): redis %+v\nmemory %+v", i, tr.ID, got, want)
				}
			}
		})
	}
}

// TestFullRedisRefuses: a Redis at its maxmemory with noeviction (no longer deployed:
// TestFullRedisEvictsOldest) refuses the update;
// the store returns the error, fn is not called, nothing is half-written, and once there is room
// the retried transaction and all that follow match the in-memory store.
func TestFullRedisRefuses(t *testing.T) {
	srv := startRedis(t, "--maxmemory-policy", "noeviction")
	c := srv.Client()
	ctx := context.Background()
	rs, mem := redisstore.New(c), features.NewMemory()
	stream := messyStream(t, 10)
	used := func() int64 {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatalf("info: %v", err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("used_memory %q: %v", v, err)
				}
				return n
			}
		}
		t.Fatal("no used_memory in INFO")
		return 0
	}
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used()+64<<10, 10)).Err(); err != nil {
		t.Fatalf("config set: %v", err)
	}
	refused := 0
	for i := 0; i < len(stream); i++ {
		in := stream[i]
		if in.label != nil {
			if err := mem.Label(ctx, *in.label); err != nil {
				t.Fatalf("memory label: %v", err)
			}
			for rs.Label(ctx, *in.label) != nil {
				refused++
				if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
					t.Fatalf("config set: %v", err)
				}
			}
			continue
		}
		want := record(t, mem, in.tx)
		called := false
		var got seen
		err := rs.Record(ctx, in.tx, func(ch *features.CustomerHistory, th *features.TerminalHistory) {
			called = true
			features.Compute(&got.v, in.tx, ch, th)
		})
		if err != nil {
			if called {
				t.Fatalf("transaction %s: fn called although Record failed: %v", in.tx.ID, err)
			}
			if !strings.Contains(err.Error(), "OOM") {
				t.Fatalf("transaction %s: %v, want Redis's OOM refusal", in.tx.ID, err)
			}
			refused++
			// Make room and redeliver, as KafkaSource would after the 503.
			if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
				t.Fatalf("config set: %v", err)
			}
			got = record(t, rs, in.tx)
		}
		if got.v != want.v {
			t.Fatalf("transaction %s: redis %v, memory %v", in.tx.ID, got.v, want.v)
		}
	}
	if refused == 0 {
		t.Fatal("Redis never ran out of memory: the test proves nothing")
	}
	t.Logf("Redis refused %d updates when full; after each, the redelivery matched memory", refused)
}
