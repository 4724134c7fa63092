package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts, as func-go's middleware sets them, plus a longer idle time for the keep-alive
// connections Knative's queue-proxy holds.
const (
	ReadHeaderTimeout = 2 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 90 * time.Second
	MaxHeaderBytes    = 1 << 20
)

// Serve serves Handler on ln and starts the function beside it (readiness answers 503 until the
// model is loaded). When ctx ends (SIGTERM) it drains: readiness turns 503, the listener closes,
// in-flight requests finish within SHUTDOWN_TIMEOUT, then Stop flushes. A failed Start ends Serve
// with its error.
func (f *Function) Serve(ctx context.Context, ln net.Listener, env map[string]string) error {
	srv := &http.Server{
		Handler:           f.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	startErr := make(chan error, 1)
	go func() { startErr <- f.Start(ctx, env) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("function: serve: %w", err)
	case err = <-startErr:
		if err == nil {
			select {
			case <-ctx.Done():
			case err = <-serveErr:
				err = fmt.Errorf("function: serve: %w", err)
			}
		}
	}
	f.Drain()
	f.log.Info("shutting down", "cause", cause(ctx, err))
	timeout := f.Config().ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if e := srv.Shutdown(sctx); e != nil && !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("function: shutdown: %w", e))
	}
	if e := f.Stop(sctx); e != nil {
		err = errors.Join(err, e)
	}
	return err
}

func cause(ctx context.Context, err error) string {
	if err != nil {
		return err.Error()
	}
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return "stopped"
}
