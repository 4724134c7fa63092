package function

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	fn "knative.dev/func-go/cloudevents"

	"function/internal/events"
	"function/internal/scoring"
)

// TestFuncGoCompat serves the instance through knative.dev/func-go's CloudEvents middleware, as the
// main that `func build` generates does (ce.Start(function.New())), and scores a KafkaSource-shaped
// event: Start is called with the environment, readiness waits for the model, errors keep their
// status, and cancelling stops the instance.
func TestFuncGoCompat(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("LISTEN_ADDRESS", addr)
	t.Setenv("EVENT_CLOCK", "stream") // the test's transactions are dated 2018
	pub := &spyPublisher{}
	f := New(WithLogger(quietLogger()), WithPublisher(pub))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn.New(f).Start(ctx) }()
	url := "http://" + addr

	waitReady(t, url+"/health/readiness")

	resp, body := do(t, kafkaRequest(t, url, 7, txBody("fg1", 596, 57.16)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got, want := resp.Header.Get("Ce-Id"), events.PredictionID(kafkaSource, "partition:3/offset:7"); got != want {
		t.Errorf("ce-id %s, want %s", got, want)
	}
	if resp.Header.Get("Ce-Type") != events.TypePrediction {
		t.Errorf("ce-type %q", resp.Header.Get("Ce-Type"))
	}
	if p := decodeJSON[scoring.Prediction](t, body); p.TransactionID != "fg1" || p.CustomerID != 596 {
		t.Errorf("prediction %+v", p)
	}

	// A permanent error stays a 400 through the middleware (KafkaSource dead-letters it, no retry).
	resp, body = do(t, kafkaRequest(t, url, 8, `{"transaction_id":"bad","tx_amount":-1}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("invalid transaction: status %d, want 400: %s", resp.StatusCode, body)
	}
	resp, _ = do(t, mustRequest(t, "GET", url+"/health/liveness"))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("liveness %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("func-go service: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("func-go service did not stop")
	}
	if !pub.closed {
		t.Error("Stop did not close the publisher")
	}
	if len(pub.events()) != 1 {
		t.Errorf("published %d predictions, want 1", len(pub.events()))
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 10s (last: %v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
