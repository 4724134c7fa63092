package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request to send and the check its answer must pass.
type Request struct {
	Body  []byte
	Check func(status int, body []byte) error
}

// Target is one server route under test.
type Target struct {
	Name        string
	URL         string
	ContentType string
	PID         int // the server process: its CPU, and its children's, is what a request costs
	Rows        int // rows per request
	// Next is the i-th request (called concurrently).
	Next func(i int) Request
}

// Result is one measured round.
type Result struct {
	Requests int
	Elapsed  time.Duration
	CPU      time.Duration   // server CPU over the round
	Latency  []time.Duration // sorted; from each request's scheduled time at a fixed rate
	Late     int             // fixed rate: requests the sender started more than 1 ms late
}

// RPS is completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// CPUPerRequest is server CPU per completed request.
func (r Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// Quantile is the q-quantile of the latencies, 0 without any.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latency) == 0 {
		return 0
	}
	return r.Latency[int(q*float64(len(r.Latency)-1))]
}

// Client is a keep-alive client with room for conns idle connections.
func Client(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute, DisableCompression: true}}
}

// Send posts tg's i-th request and checks its answer.
func Send(ctx context.Context, c *http.Client, tg *Target, i int) error {
	r := tg.Next(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.URL, bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", tg.ContentType)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if r.Check != nil {
		if err := r.Check(resp.StatusCode, body); err != nil {
			return fmt.Errorf("%s: request %d: %w", tg.Name, i, err)
		}
	} else if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: request %d: status %d: %.200s", tg.Name, i, resp.StatusCode, body)
	}
	return nil
}

// Saturate runs workers closed-loop clients back to back for d (after warm requests each) and
// measures the server's CPU over exactly the measured span. next numbers the requests.
func Saturate(ctx context.Context, tg *Target, workers int, d time.Duration, warm int, next *atomic.Int64) (Result, error) {
	c := Client(workers)
	defer c.CloseIdleConnections()
	if err := parallel(workers, func() error {
		for range warm {
			if err := Send(ctx, c, tg, int(next.Add(1))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	cpu0, err := TreeCPU(tg.PID)
	if err != nil {
		return Result{}, err
	}
	var done atomic.Int64
	start := time.Now()
	stop := start.Add(d)
	err = parallel(workers, func() error {
		for time.Now().Before(stop) {
			if err := Send(ctx, c, tg, int(next.Add(1))); err != nil {
				return err
			}
			done.Add(1)
		}
		return nil
	})
	elapsed := time.Since(start)
	cpu1, cerr := TreeCPU(tg.PID)
	if err = errors.Join(err, cerr); err != nil {
		return Result{}, err
	}
	return Result{Requests: int(done.Load()), Elapsed: elapsed, CPU: cpu1 - cpu0}, nil
}

// FixedRate sends rate requests per second for d, each at its scheduled time whatever earlier
// ones do (open loop), and times each from that schedule, so a stall counts against every
// request it delays.
func FixedRate(ctx context.Context, tg *Target, rate int, d time.Duration, next *atomic.Int64) (Result, error) {
	c := Client(64)
	defer c.CloseIdleConnections()
	for range 20 {
		if err := Send(ctx, c, tg, int(next.Add(1))); err != nil {
			return Result{}, err
		}
	}
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	var late atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	cpu0, err := TreeCPU(tg.PID)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		id := int(next.Add(1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if time.Since(due) > time.Millisecond {
				late.Add(1)
			}
			if err := Send(ctx, c, tg, id); err != nil {
				failed.Store(err)
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := TreeCPU(tg.PID)
	if err != nil {
		return Result{}, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return Result{}, err
	}
	slices.Sort(lat)
	return Result{Requests: n, Elapsed: elapsed, CPU: cpu1 - cpu0, Latency: lat, Late: int(late.Load())}, nil
}

// parallel runs fn in n goroutines and returns the first error.
func parallel(n int, fn func() error) error {
	errs := make(chan error, n)
	for range n {
		go func() { errs <- fn() }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
