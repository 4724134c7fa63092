package function

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"function/internal/events"
)

// BenchmarkHandler measures the server-side cost of one request without the network: decoding,
// features, model, encoding and metrics.
func BenchmarkHandler(b *testing.B) {
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()))
	if err := f.Start(b.Context(), nil); err != nil {
		b.Fatal(err)
	}
	h := f.Handler()
	cases := map[string]func(req *http.Request, i int){
		"cloudevent": func(req *http.Request, i int) {
			req.Header.Set("Ce-Specversion", "1.0")
			req.Header.Set("Ce-Id", fmt.Sprintf("partition:0/offset:%d", i))
			req.Header.Set("Ce-Source", kafkaSource)
			req.Header.Set("Ce-Type", events.TypeKafka)
		},
		"predict": func(req *http.Request, _ int) { req.Header.Set("Content-Type", "application/json") },
	}
	for name, setup := range cases {
		path := "/"
		if name == "predict" {
			path = "/predict"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				// Spread over customers and terminals as the simulator does, not one hot history.
				body := fmt.Appendf(nil, `{"transaction_id":"b%d","tx_datetime":"2018-04-01 10:00:00","customer_id":%d,"terminal_id":%d,"tx_amount":%d.5}`,
					i, i%5000, (i*7)%10000, 10+i%100)
				req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
				setup(req, i)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
