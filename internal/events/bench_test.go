package events

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/scoring"
)

func BenchmarkReadHTTPBinary(b *testing.B) {
	h := kafkaHeaders()
	body := []byte(txJSON)
	b.ReportAllocs()
	for b.Loop() {
		evs, _, err := ReadHTTP(h, body, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(&evs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReply(b *testing.B) {
	p := scoring.Prediction{TransactionID: "t-1", CustomerID: 596, TerminalID: 3156, TxDatetime: "2018-04-01 00:00:31",
		TxAmount: 57.16, FraudProbability: 0.25, Threshold: 0.5, ModelName: "m", ModelVersion: "v1", ScoredAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewPrediction("/src", "partition:3/offset:42", &p)
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteHTTP(httptest.NewRecorder(), []event.Event{e}, ModeBinary); err != nil {
			b.Fatal(err)
		}
	}
}
