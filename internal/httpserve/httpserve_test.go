package httpserve

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestRunStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Addr: "127.0.0.1:0", ReadHeaderTimeout: time.Second}
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, srv) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("graceful stop returned %v", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunReportsAListenerFailure(t *testing.T) {
	srv := &http.Server{Addr: "256.0.0.1:1", ReadHeaderTimeout: time.Second}
	if err := Run(context.Background(), srv); err == nil {
		t.Fatal("an address that cannot be listened on returned nil")
	}
}
