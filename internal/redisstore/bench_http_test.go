package redisstore_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"function/internal/txn"
)

// httpEnv is a running function binary, warmed, and the transactions it has not scored yet.
type httpEnv struct {
	proc  *fnProcess
	redis *redisServer // nil for memory
	txs   []txn.Transaction
}

var httpEnvs = map[string]*httpEnv{}

var benchClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchWorkers},
}

func benchPost(url string, body []byte) error {
	resp, err := benchClient.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// benchFunction returns the named store's function process, warmed over HTTP with the warm-up days
// in arrays of 100, and the next b.N transactions for it.
func benchFunction(b *testing.B, name string) (*httpEnv, []txn.Transaction) {
	b.Helper()
	e := httpEnvs[name]
	if e == nil {
		dir, err := os.MkdirTemp("", "redisstore-bench-")
		if err != nil {
			b.Fatalf("temp dir: %v", err)
		}
		benchKills = append(benchKills, func() { os.RemoveAll(dir) })
		store := "memory"
		var srv *redisServer
		if name == "redis" {
			srv = newRedis(b)
			benchKills = append(benchKills, srv.Kill)
			store = srv.URL(0)
		}
		p := newFunction(b, dir, "bench-"+name, store, "")
		benchKills = append(benchKills, p.stop)
		warm := benchStreams()[0]
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					lo := int(next.Add(100)) - 100
					if lo >= len(warm) {
						return
					}
					body := []byte{'['}
					for i := lo; i < min(lo+100, len(warm)); i++ {
						if i > lo {
							body = append(body, ',')
						}
						body = txn.AppendJSON(body, &warm[i])
					}
					if err := benchPost(p.url+"/predict", append(body, ']')); err != nil {
						failed.Store(&err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			b.Fatalf("warm-up of %s: %v", name, *err)
		}
		e = &httpEnv{proc: p, redis: srv, txs: benchStreams()[1]}
		httpEnvs[name] = e
	}
	if b.N > len(e.txs) {
		b.Fatalf("b.N %d is more than the %d transactions left", b.N, len(e.txs))
	}
	txs := e.txs[:b.N]
	e.txs = e.txs[b.N:]
	return e, txs
}

// cpuTime is the CPU time (user + system) a process has used so far, from /proc (Linux), with
// the kernel's usual 100 ticks a second.
func cpuTime(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// cpuPerTx reports the CPU a process spent per transaction while fn ran.
func cpuPerTx(b *testing.B, unit string, pid, n int, fn func()) {
	before, ok1 := cpuTime(pid)
	fn()
	after, ok2 := cpuTime(pid)
	if ok1 && ok2 {
		b.ReportMetric(float64(after-before)/float64(time.Microsecond)/float64(n), unit)
	}
}

// BenchmarkHTTPPaced1500 is BenchmarkPaced1500 through the real binary: POST /predict over
// loopback, one transaction per request, at 1,500 a second; the generator shares the 2 cores.
func BenchmarkHTTPPaced1500(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			e, txs := benchFunction(b, name)
			p := e.proc
			bodies := make([][]byte, len(txs))
			for i := range txs {
				bodies[i] = txn.AppendJSON(nil, &txs[i])
			}
			lat := make([]time.Duration, len(txs))
			var failed atomic.Int64
			interval := time.Second / benchRate
			jobs := make(chan int, len(txs))
			for i := range txs {
				jobs <- i
			}
			close(jobs)
			b.ResetTimer()
			start := time.Now()
			run := func() {
				var wg sync.WaitGroup
				for range benchWorkers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range jobs {
							from := start.Add(time.Duration(i) * interval)
							if d := time.Until(from); d > 0 {
								time.Sleep(d)
								from = time.Now()
							}
							if err := benchPost(p.url+"/predict", bodies[i]); err != nil {
								failed.Add(1)
							}
							lat[i] = time.Since(from)
						}
					}()
				}
				wg.Wait()
			}
			// CPU per transaction of the function and of redis-server: what the pods' CPU requests
			// and the HPA's 80 % target are sized from.
			if e.redis != nil {
				inner := run
				run = func() { cpuPerTx(b, "redis-cpu-µs/tx", e.redis.cmd.Process.Pid, len(txs), inner) }
			}
			cpuPerTx(b, "fn-cpu-µs/tx", p.cmd.Process.Pid, len(txs), run)
			elapsed := time.Since(start)
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d of %d requests failed", f, len(txs))
			}
			report(b, lat, elapsed)
		})
	}
}
