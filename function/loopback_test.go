package function

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"function/internal/events"
	"function/internal/simulate"
	"function/internal/txn"
)

// Loopback benchmarks (make bench-function). Client and servers share this process and its cores,
// over real TCP on 127.0.0.1 with keep-alive, as the issue asks; the ceiling is a bare net/http
// handler that reads the body and returns constant JSON, measured the same way in the same run.

const (
	benchWorkers   = 16   // closed-loop clients
	benchRate      = 1500 // open-loop requests per second
	benchRatioGoal = 0.5
	benchP99Goal   = 2 * time.Millisecond
)

func benchDuration(t *testing.T) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(os.Getenv("BENCH_DURATION"))
	if err != nil || d <= 0 {
		return 5 * time.Second
	}
	return d
}

func skipUnlessBench(t *testing.T) {
	t.Helper()
	if os.Getenv("FRAUD_BENCH") != "1" {
		t.Skip("set FRAUD_BENCH=1 to run (make bench-function does)")
	}
}

// target is one kind of request to send.
type target struct {
	name    string
	url     string
	headers func(h http.Header, i int)
}

// benchBodies is n distinct simulated transactions as JSON.
func benchBodies(t testing.TB, n int) [][]byte {
	t.Helper()
	cfg := simulate.DefaultConfig(11)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		tx, ok := sim.Next()
		if !ok {
			t.Fatal("simulator ended")
		}
		out[i] = txn.AppendJSON(nil, &tx)
	}
	return out
}

// benchServers serves the function (through Serve, as main does) and the bare ceiling handler.
func benchServers(t *testing.T) (fnURL, bareURL string) {
	t.Helper()
	cfg := testConfig()
	cfg.MaxBodyBytes = 1 << 20
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	fnURL = "http://" + ln.Addr().String()
	waitReady(t, fnURL+"/health/readiness")

	constant := []byte(`{"transaction_id":"1","customer_id":596,"terminal_id":3156,"tx_datetime":"2018-04-01 00:00:31","tx_amount":57.16,"fraud_probability":0.01,"is_fraud":false,"threshold":0.5,"model_name":"fraud-detector","model_version":"bootstrap","scored_at":"2026-11-26T12:00:00Z"}`)
	bare := &http.Server{
		ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(constant)
		}),
	}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = bare.Serve(bln) }()
	t.Cleanup(func() { _ = bare.Close() })
	return fnURL, "http://" + bln.Addr().String()
}

func benchTargets(fnURL, bareURL string) []target {
	jsonCT := func(h http.Header, _ int) { h.Set("Content-Type", "application/json") }
	return []target{
		{"bare net/http (ceiling)", bareURL + "/", jsonCT},
		{"CloudEvent (binary, KafkaSource-shaped)", fnURL + "/", func(h http.Header, i int) {
			h.Set("Ce-Specversion", "1.0")
			h.Set("Ce-Id", fmt.Sprintf("partition:0/offset:%d", i))
			h.Set("Ce-Source", kafkaSource)
			h.Set("Ce-Type", events.TypeKafka)
		}},
		{"POST /predict", fnURL + "/predict", jsonCT},
	}
}

func newBenchClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}}
}

func send(c *http.Client, tg target, body []byte, i int) error {
	req, err := http.NewRequest(http.MethodPost, tg.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	tg.headers(req.Header, i)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", tg.name, resp.StatusCode)
	}
	return nil
}

// closedLoop runs benchWorkers clients back to back for d and returns completed requests/s.
func closedLoop(t *testing.T, tg target, bodies [][]byte, next *atomic.Int64, d time.Duration) float64 {
	t.Helper()
	c := newBenchClient(benchWorkers)
	defer c.CloseIdleConnections()
	// Warm up connections and code paths.
	for range 50 {
		i := int(next.Add(1))
		if err := send(c, tg, bodies[i%len(bodies)], i); err != nil {
			t.Fatal(err)
		}
	}
	var done atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				i := int(next.Add(1))
				if err := send(c, tg, bodies[i%len(bodies)], i); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// TestLoopbackThroughput prints scored transactions/s for single CloudEvents and /predict beside
// the bare ceiling, and their ratio. Goal: at least half the ceiling. The targets take turns in
// short rounds and each keeps its median round, so that load from other processes on this shared
// machine falls on all of them alike.
func TestLoopbackThroughput(t *testing.T) {
	skipUnlessBench(t)
	const rounds = 5
	d := benchDuration(t)
	fnURL, bareURL := benchServers(t)
	bodies := benchBodies(t, 300_000)
	var next atomic.Int64
	tgs := benchTargets(fnURL, bareURL)
	samples := map[string][]float64{}
	for range rounds {
		for _, tg := range tgs {
			samples[tg.name] = append(samples[tg.name], closedLoop(t, tg, bodies, &next, d/rounds))
		}
	}
	rates := map[string]float64{}
	for name, s := range samples {
		slices.Sort(s)
		rates[name] = s[len(s)/2]
	}
	ceiling := rates[tgs[0].name]
	t.Logf("loopback, keep-alive, %d closed-loop clients, %d alternating rounds of %v, client and servers share GOMAXPROCS=%d:",
		benchWorkers, rounds, d/rounds, runtime.GOMAXPROCS(0))
	for _, tg := range tgs {
		t.Logf("  %-42s %8.0f req/s (median; rounds %.0f)  %5.1f%% of ceiling", tg.name, rates[tg.name], samples[tg.name], 100*rates[tg.name]/ceiling)
	}
	for _, tg := range tgs[1:] {
		if r := rates[tg.name] / ceiling; r < benchRatioGoal {
			t.Errorf("%s: %.0f%% of the ceiling, goal %.0f%%", tg.name, 100*r, 100*benchRatioGoal)
		}
	}
}

// TestLoopbackLatency sends single KafkaSource-shaped CloudEvents at a steady 1,500 req/s (open
// loop: each request leaves at its scheduled time whatever earlier ones do) and measures latency
// from the scheduled time, so a stall counts against every request it delays. Goal: p99 ≤ 2 ms.
// The sender's own lateness is printed too: Go rounds sub-millisecond timer waits up to the
// netpoller's 1 ms, so about 0.5 ms (p50) to 1.1 ms (p99) of every figure is the harness; the
// bare ceiling shows that share, measured the same way.
func TestLoopbackLatency(t *testing.T) {
	skipUnlessBench(t)
	d := 2 * benchDuration(t)
	fnURL, bareURL := benchServers(t)
	bodies := benchBodies(t, int(d.Seconds()*benchRate)+1000)
	for _, tg := range benchTargets(fnURL, bareURL) {
		lat, lag, errs := openLoop(t, tg, bodies, benchRate, d)
		slices.Sort(lat)
		slices.Sort(lag)
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		t.Logf("%-42s %d req at %d/s for %v: p50 %v p90 %v p99 %v p99.9 %v max %v, %d errors; sender lateness p50 %v p99 %v",
			tg.name, len(lat), benchRate, d, q(.5), q(.9), q(.99), q(.999), lat[len(lat)-1], errs,
			lag[len(lag)/2], lag[int(.99*float64(len(lag)-1))])
		if errs > 0 {
			t.Errorf("%s: %d failed requests", tg.name, errs)
		}
		if tg.name != "bare net/http (ceiling)" && q(.99) > benchP99Goal {
			t.Errorf("%s: p99 %v, goal %v", tg.name, q(.99), benchP99Goal)
		}
	}
}

// openLoop returns each request's latency from its scheduled time, and how late the sender
// started it (the harness's own share: a starved client delays requests the server never saw).
func openLoop(t *testing.T, tg target, bodies [][]byte, rate int, d time.Duration) (lat, lag []time.Duration, errs int) {
	t.Helper()
	c := newBenchClient(256)
	defer c.CloseIdleConnections()
	for i := range 200 { // warm-up
		if err := send(c, tg, bodies[i], 1_000_000_000+i); err != nil {
			t.Fatal(err)
		}
	}
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	lat = make([]time.Duration, n)
	lag = make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lag[i] = time.Since(due)
			if err := send(c, tg, bodies[i], i); err != nil {
				failed.Add(1)
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	return lat, lag, int(failed.Load())
}
