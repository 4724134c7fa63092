package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"function/internal/features"
	"function/internal/redisstore"
	"function/internal/scoring"
	"function/internal/simulate"
	"function/internal/txn"
)

// Benchmarks score through scoring.Scorer (store + built-in model, no HTTP) on a world with the
// handbook's proportions (2 terminals per customer, about 2 payments per customer a day), warmed
// with 40 days so that every history is as long as it gets in steady state.
//
//	make bench-redis
const (
	benchCustomers = 1000
	benchTerminals = 2000
	benchWarmDays  = 40
	benchRate      = 1500 // transactions per second, the attack's last phase
	benchWorkers   = 32   // in flight at once, as concurrent requests to one pod
)

var benchStreams = sync.OnceValue(func() [][]txn.Transaction {
	cfg := simulate.DefaultConfig(1)
	cfg.Customers, cfg.Terminals, cfg.Days = benchCustomers, benchTerminals, 0
	sim, err := simulate.New(cfg)
	if err != nil {
		panic(err)
	}
	var warm, rest []txn.Transaction
	for range benchWarmDays {
		day, _ := sim.NextDay()
		warm = append(warm, day...)
	}
	for len(rest) < 100_000 {
		day, _ := sim.NextDay()
		rest = append(rest, day...)
	}
	return [][]txn.Transaction{warm, rest}
})

// benchEnv is a warmed scorer and the transactions it has not scored yet. It lives for the whole
// test binary, because the benchmark framework calls a benchmark several times with growing b.N.
type benchEnv struct {
	scorer *scoring.Scorer
	txs    []txn.Transaction
	redis  *redis.Client // nil for memory
}

// scriptTime is the server-side time Redis has spent in EVALSHA so far and its call count.
func (e *benchEnv) scriptTime(b *testing.B) (time.Duration, int) {
	b.Helper()
	if e.redis == nil {
		return 0, 0
	}
	info, err := e.redis.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatalf("info: %v", err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			var calls int
			var usec int64
			if _, err := fmt.Sscanf(rest, "calls=%d,usec=%d,", &calls, &usec); err != nil {
				b.Fatalf("commandstats %q: %v", line, err)
			}
			return time.Duration(usec) * time.Microsecond, calls
		}
	}
	return 0, 0
}

// measure runs fn on the next b.N transactions and reports throughput, latency quantiles and,
// for Redis, the script's own time per call.
func measure(b *testing.B, name string, fn func(s *scoring.Scorer, txs []txn.Transaction, lat []time.Duration) int64) {
	s, txs, e := benchTxs(b, name)
	lat := make([]time.Duration, len(txs))
	usec0, calls0 := e.scriptTime(b)
	cpu0 := selfCPU()
	b.ResetTimer()
	start := time.Now()
	failed := fn(s, txs, lat)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(selfCPU()-cpu0)/float64(time.Microsecond)/float64(len(txs)), "cpu-µs/tx")
	if failed > 0 {
		b.Fatalf("%d of %d scores failed", failed, len(txs))
	}
	report(b, lat, elapsed)
	if usec, calls := e.scriptTime(b); calls > calls0 {
		b.ReportMetric(float64(usec-usec0)/float64(time.Microsecond)/float64(calls-calls0), "redis-µs/call")
	}
}

var (
	benchEnvs  = map[string]*benchEnv{}
	benchKills []func() // run by TestMain
)

// benchTxs returns a warmed scorer on the named store and the next b.N transactions for it.
func benchTxs(b *testing.B, name string) (*scoring.Scorer, []txn.Transaction, *benchEnv) {
	b.Helper()
	e := benchEnvs[name]
	if e == nil {
		var store features.Store
		var client *redis.Client
		switch name {
		case "memory":
			store = features.NewMemory()
		case "redis":
			srv := newRedis(b)
			benchKills = append(benchKills, srv.Kill)
			st, err := redisstore.Open(srv.URL(0))
			if err != nil {
				b.Fatalf("open: %v", err)
			}
			client = redis.NewClient(&redis.Options{Addr: srv.Addr()})
			benchKills = append(benchKills, func() { st.Close(); client.Close() })
			store = st
		default:
			b.Fatalf("no store %q", name)
		}
		e = &benchEnv{scorer: warm(b, store), txs: benchStreams()[1], redis: client}
		benchEnvs[name] = e
	}
	if b.N > len(e.txs) {
		b.Fatalf("b.N %d is more than the %d transactions left", b.N, len(e.txs))
	}
	txs := e.txs[:b.N]
	e.txs = e.txs[b.N:]
	return e.scorer, txs, e
}

// warm records the warm-up days (and their labels, when they become known) into store.
func warm(b *testing.B, store features.Store) *scoring.Scorer {
	b.Helper()
	warm := benchStreams()[0]
	ctx := context.Background()
	var labels features.LabelQueue
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(warm) {
					return
				}
				tx := &warm[i]
				mu.Lock()
				labels.Push(tx)
				err := labels.Due(tx.Time, func(l txn.Label) error { return store.Label(ctx, l) })
				mu.Unlock()
				if err == nil {
					err = store.Record(ctx, tx, func(*features.CustomerHistory, *features.TerminalHistory) {})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	s := scoring.New(store)
	s.SetModel(builtinModel(b))
	return s
}

// BenchmarkScore is the closed-loop ceiling: benchWorkers goroutines scoring as fast as they can.
func BenchmarkScore(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			measure(b, name, func(s *scoring.Scorer, txs []txn.Transaction, lat []time.Duration) int64 {
				var next, failed atomic.Int64
				ctx := context.Background()
				var wg sync.WaitGroup
				for range benchWorkers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1)) - 1
							if i >= len(txs) {
								return
							}
							t0 := time.Now()
							if _, err := s.Score(ctx, &txs[i]); err != nil {
								failed.Add(1)
							}
							lat[i] = time.Since(t0)
						}
					}()
				}
				wg.Wait()
				return failed.Load()
			})
		})
	}
}

// BenchmarkPaced1500 offers benchRate transactions a second (open loop: each is due at its slot
// whatever happened to the previous ones) and measures latency from the slot when it starts late,
// so that queueing behind a slow call counts. Use -benchtime Nx: N transactions take N/1500 s.
func BenchmarkPaced1500(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			measure(b, name, func(s *scoring.Scorer, txs []txn.Transaction, lat []time.Duration) int64 {
				var failed atomic.Int64
				ctx := context.Background()
				interval := time.Second / benchRate
				jobs := make(chan int, len(txs))
				for i := range txs {
					jobs <- i
				}
				close(jobs)
				start := time.Now()
				var wg sync.WaitGroup
				for range benchWorkers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range jobs {
							// Late on its slot because the workers were busy: the wait counts.
							// Early: it sleeps, and the timer's overshoot is the generator's.
							from := start.Add(time.Duration(i) * interval)
							if d := time.Until(from); d > 0 {
								time.Sleep(d)
								from = time.Now()
							}
							if _, err := s.Score(ctx, &txs[i]); err != nil {
								failed.Add(1)
							}
							lat[i] = time.Since(from)
						}
					}()
				}
				wg.Wait()
				return failed.Load()
			})
		})
	}
}

func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.Helper()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tx/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// selfCPU is the CPU time (user + system) this process has used: the scoring side's cost, load
// generation included.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
