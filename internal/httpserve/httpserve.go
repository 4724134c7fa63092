// Package httpserve runs a small HTTP server (a probe, metrics or webhook endpoint of one of the
// project's helper programs) until its context ends, then shuts it down gracefully.
package httpserve

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ShutdownTimeout bounds the wait for in-flight requests once ctx is done.
const ShutdownTimeout = 5 * time.Second

// Run serves srv until ctx ends (then waits up to ShutdownTimeout for in-flight requests) or the
// listener fails; a graceful stop returns nil.
func Run(ctx context.Context, srv *http.Server) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	err := srv.ListenAndServe()
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}
