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

// Intake is a source of events beside the HTTP listener, such as the in-process Kafka consumer.
// Serve runs it once Start has succeeded; it must return when ctx ends, having stopped
// delivering (a consumer leaves its group, committing what was acknowledged). An Intake that
// returns before that ends Serve with an error.
type Intake func(ctx context.Context) error

// Serve serves Handler on ln and starts the function beside it (readiness answers 503 until the
// model is loaded), then runs the intakes. A failed Start, a failed listener or a failed intake
// ends Serve with its error (main exits non-zero). When ctx ends (SIGTERM) it stops intake first
// and closes last:
//
//  1. the intakes are cancelled and awaited: nothing is consumed any more;
//  2. readiness turns 503 and, for DRAIN_DELAY, the listener stays open: requests are still
//     served, each reply with Connection: close, so keep-alive clients leave instead of being
//     reset, and whoever routes here sees the 503 first;
//  3. the listener closes and in-flight requests finish (SHUTDOWN_TIMEOUT);
//  4. Stop closes the publisher and the store, which nothing can use any more. If an intake
//     did not return in time, Stop is not called: the process exits with the store open rather
//     than closing it under a consumer that may still deliver.
func (f *Function) Serve(ctx context.Context, ln net.Listener, env map[string]string, intakes ...Intake) error {
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

	intakeCtx, stopIntakes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntakes()
	intakeErr := make(chan error, len(intakes))
	running := 0
	started := false

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("function: serve: %w", err)
	case err = <-startErr:
		if err != nil {
			break
		}
		started = true
		for _, in := range intakes {
			running++
			go func() { intakeErr <- in(intakeCtx) }()
		}
		select {
		case <-ctx.Done():
		case err = <-serveErr:
			err = fmt.Errorf("function: serve: %w", err)
		case err = <-intakeErr:
			running--
			if err == nil {
				err = errors.New("stopped by itself")
			}
			err = fmt.Errorf("function: intake: %w", err)
		}
	}
	cfg := f.Config()
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	f.log.Info("shutting down", "cause", cause(ctx, err))

	// 1. Intake stops first.
	stopIntakes()
	intakesDone := true
	deadline := time.After(timeout)
wait:
	for running > 0 {
		select {
		case e := <-intakeErr:
			running--
			if e != nil {
				err = errors.Join(err, fmt.Errorf("function: intake: %w", e))
			}
		case <-deadline:
			err = errors.Join(err, fmt.Errorf("function: %d intake(s) still running after %v", running, timeout))
			intakesDone = false
			break wait
		}
	}

	// 2. Readiness 503, listener open.
	f.Drain()
	if started && err == nil && cfg.DrainDelay > 0 {
		f.log.Info("draining", "delay", cfg.DrainDelay)
		select {
		case <-time.After(cfg.DrainDelay):
		case e := <-serveErr:
			err = fmt.Errorf("function: serve: %w", e)
		}
	}

	// 3. Listener closed, in-flight requests finish.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if e := srv.Shutdown(sctx); e != nil && !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("function: shutdown: %w", e))
	}

	// 4. Publisher and store closed, once nothing can use them.
	if !intakesDone {
		f.log.Error("not closing the store and publisher: an intake may still deliver")
		return err
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
