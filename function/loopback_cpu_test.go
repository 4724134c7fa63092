package function

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"function/function/peers"
	"function/internal/proctest"
)

// BenchmarkLoopbackCPU is the server CPU one request costs over real loopback TCP with keep-alive:
// the function's binary runs as its own process (as make run starts it), 16 clients drive it
// closed-loop from this one, and the binary's CPU is read from /proc, so the client's share is not
// counted. server-µs/op is the "single /predict ≤ 25 µs of server CPU per request";
// µs/row is a batch's per row.
func BenchmarkLoopbackCPU(b *testing.B) {
	single := benchBodies(b, 300_000)
	infer := featureBatch(benchBatchRows)
	// Each transaction is sent once: time moves forward (the event clock refuses the past) and
	// every id is new to the feature state.
	from := func(pool [][]byte) func(int) peers.Request {
		return func(i int) peers.Request {
			if i >= len(pool) {
				return peers.Request{Check: func(int, []byte) error {
					return fmt.Errorf("only %d distinct requests: lower -benchtime", len(pool))
				}}
			}
			return peers.Request{Body: pool[i]}
		}
	}
	for _, tg := range []peers.Target{
		{Name: "predict", Rows: 1, URL: RoutePredict, Next: from(single)},
		{Name: "predict_batch100", Rows: benchBatchRows, URL: RoutePredict, Next: nil}, // a new stream per run
		{Name: "oip_infer_batch100", Rows: benchBatchRows, URL: RouteOIPInfer, Next: func(int) peers.Request { return peers.Request{Body: infer} }},
	} {
		b.Run(tg.Name, func(b *testing.B) {
			base, pid := serveBinary(b)
			tg := tg // -count runs this again
			if tg.Next == nil {
				stream := newBatchStream(b, benchBatchRows) // each run's server starts a new state and clock
				tg.Next = func(int) peers.Request {
					body := stream.next()
					if body == nil {
						return peers.Request{Check: func(int, []byte) error { return fmt.Errorf("the simulator ended") }}
					}
					return peers.Request{Body: body}
				}
			}
			tg.URL, tg.PID, tg.ContentType = base+tg.URL, pid, "application/json"
			c := peers.Client(16)
			defer c.CloseIdleConnections()
			ctx := context.Background()
			var next atomic.Int64
			for range 100 {
				if err := peers.Send(ctx, c, &tg, int(next.Add(1))); err != nil {
					b.Fatal(err)
				}
			}
			cpu0, err := peers.TreeCPU(pid)
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // 16 clients on 2 cores, as bench-peers and bench-function
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := peers.Send(ctx, c, &tg, int(next.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			cpu1, err := peers.TreeCPU(pid)
			if err != nil {
				b.Fatal(err)
			}
			perOp := float64((cpu1 - cpu0).Nanoseconds()) / float64(b.N) / 1e3
			b.ReportMetric(perOp, "server-µs/op")
			b.ReportMetric(perOp/float64(tg.Rows), "server-µs/row")
		})
	}
}

// serveBinary runs the function's binary on a free loopback port (batches of up to 500) until
// the benchmark ends.
func serveBinary(b *testing.B) (base string, pid int) {
	b.Helper()
	p := startBinary(b, proctest.Build(b, proctest.Function), "LISTEN_ADDRESS=127.0.0.1:0", "MAX_BATCH=500")
	base = "http://" + p.addr
	waitReady(b, base+RouteReadiness)
	return base, p.cmd.Process.Pid
}
