package function

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"function/internal/features"
	"function/internal/scoring"
	"function/internal/simulate"
	"function/internal/txn"
)

// benchBatchRows is the batch size the targets are stated for (≤ 3 µs and ≤ 1 allocation
// per row, decode → score → encode, in process).
const benchBatchRows = 100

// discardWriter is a ResponseWriter that keeps nothing: the benchmarks below measure the handler,
// not httptest.ResponseRecorder's buffering.
type discardWriter struct {
	h      http.Header
	status int
	n      int
	last   []byte // the start of the last body written, for a failure's message
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	if len(w.last) < 512 {
		w.last = append(w.last, b[:min(len(b), 512)]...)
	}
	return len(b), nil
}

// simulatedBatches is n JSON arrays of rows simulated transactions each, every id distinct, in
// time order (the event clock follows the stream).
func simulatedBatches(tb testing.TB, n, rows int) [][]byte {
	tb.Helper()
	stream := newBatchStream(tb, rows)
	out := make([][]byte, n)
	for i := range out {
		if out[i] = stream.next(); out[i] == nil {
			tb.Fatal("simulator ended")
		}
	}
	return out
}

// batchStream makes /predict array bodies of rows simulated transactions on demand, in the
// simulator's order, for a benchmark that may send more of them than a pool would hold (the
// client's CPU is not the server's).
type batchStream struct {
	mu   sync.Mutex
	sim  *simulate.Simulator
	rows int
}

func newBatchStream(tb testing.TB, rows int) *batchStream {
	tb.Helper()
	cfg := simulate.DefaultConfig(7)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &batchStream{sim: sim, rows: rows}
}

// next is the next body; nil once the simulator has ended.
func (s *batchStream) next() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]byte, 1, 200*s.rows)
	b[0] = '['
	for r := range s.rows {
		tx, ok := s.sim.Next()
		if !ok {
			return nil
		}
		if r > 0 {
			b = append(b, ',')
		}
		b = txn.AppendJSON(b, &tx)
	}
	return append(b, ']')
}

// featureBatch is an OIP infer request of rows feature vectors (FP32, flat data), the shape the
// peers of make bench-peers are sent.
func featureBatch(rows int) []byte {
	b := []byte(`{"id":"bench","inputs":[{"name":"features","datatype":"FP32","shape":[` + strconv.Itoa(rows) + `,` + strconv.Itoa(features.Count) + `],"data":[`)
	for r := range rows {
		var v features.Vector
		v[0] = float64(10 + r%200)
		v[1] = float64(r % 2)
		for j := 3; j < features.Count; j++ {
			v[j] = float64((r*j)%17) / 4
		}
		for j, x := range v {
			if r > 0 || j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, x, 'g', -1, 32)
		}
	}
	return append(b, `]}]}`...)
}

// benchFunction starts a function with room for benchBatchRows-row bodies.
func benchFunction(b *testing.B) http.Handler {
	b.Helper()
	cfg := testConfig()
	cfg.MaxBatch = 500
	cfg.MaxBodyBytes = 1 << 20
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	if err := f.Start(b.Context(), nil); err != nil {
		b.Fatal(err)
	}
	return f.Handler()
}

// serveBench sends body to h at path, checking a 200.
func serveBench(b *testing.B, h http.Handler, path string, body []byte, w *discardWriter, rd *bytes.Reader) {
	rd.Reset(body)
	req := httptest.NewRequest(http.MethodPost, path, rd)
	req.Header.Set("Content-Type", "application/json")
	clear(w.h)
	w.status, w.n, w.last = 0, 0, w.last[:0]
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("%s: status %d: %s", path, w.status, w.last)
	}
}

// BenchmarkBatch is the HTTP batch path in process: a 100-row request through Handler (decode,
// validate, features, model, encode, metrics), reported per row. predict is /predict with an
// array of transactions (the feature state read and written per row); oip_infer is the model
// alone on a [100, 15] FP32 tensor.
func BenchmarkBatch(b *testing.B) {
	batches := simulatedBatches(b, 2000, benchBatchRows)
	infer := featureBatch(benchBatchRows)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	b.Run("predict", func(b *testing.B) {
		h := benchFunction(b) // a fresh state and event clock for every run of the batches
		i := 0
		perRow(b, benchBatchRows, func() {
			if i == len(batches) {
				// The event clock refuses a replay of the past: start again on a new function.
				b.StopTimer()
				h, i = benchFunction(b), 0
				b.StartTimer()
			}
			serveBench(b, h, RoutePredict, batches[i], w, rd)
			i++
		})
	})
	b.Run("oip_infer", func(b *testing.B) {
		h := benchFunction(b)
		perRow(b, benchBatchRows, func() { serveBench(b, h, RouteOIPInfer, infer, w, rd) })
	})
}

// perRow runs op in b's loop and adds ns/row and allocs/row beside the per-request figures.
func perRow(b *testing.B, rows int, op func()) {
	b.Helper()
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*rows), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n*rows), "allocs/row")
}

// TestPredictReplyBytes: the hand-written reply encoder writes what encoding/json writes for the
// same predictions, byte for byte, for an object, an array with flagged rows (reasons) and
// ?explain=all (every contribution), ids that need escaping included.
func TestPredictReplyBytes(t *testing.T) {
	_, srv := startFunction(t)
	for name, c := range map[string]struct{ query, body string }{
		"object":  {"", txBody("o1", 596, 57.16)},
		"array":   {"", "[" + txBody("a<&>\u2028", 1, 5) + "," + txBody("b", 2, 900) + "," + txBody(`c"\`, 3, 7.125) + "]"},
		"explain": {"?explain=all", "[" + txBody("e1", 4, 950) + "," + txBody("e2", 5, 0.01) + "]"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := post(t, srv.URL+RoutePredict+c.query, "application/json", c.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			if c.query != "" && !bytes.Contains(body, []byte(`"contributions":[{`)) {
				t.Fatalf("no explanation in %s", body)
			}
			var want []byte
			var err error
			if c.body[0] == '[' {
				want, err = json.Marshal(decodeJSON[[]scoring.Prediction](t, body))
			} else {
				want, err = json.Marshal(decodeJSON[scoring.Prediction](t, body))
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.TrimSuffix(body, []byte("\n")); !bytes.Equal(got, want) || body[len(body)-1] != '\n' {
				t.Errorf("reply\n%s\nencoding/json writes\n%s", body, want)
			}
		})
	}
}
