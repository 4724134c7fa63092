// Command fraud-detector is the one entrypoint of the fraud detector: `make run`, the container
// image and the Knative Service all run it. It reads the configuration from the environment,
// serves the function on LISTEN_ADDRESS and shuts down gracefully on SIGTERM.
//
// Exit status: 0 after a clean shutdown; 2 for a bad configuration, a MODEL_URI naming no model or
// an invalid one; 1 for any other failure to start or to keep running (in every transport).
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"function/function"
	"function/internal/config"
	"function/internal/model"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

func main() { os.Exit(run()) }

func run() int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(log)
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		log.Error("bad configuration", "error", err)
		return exitConfig
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		log.Error("cannot listen", "address", cfg.ListenAddress, "error", err)
		return exitFailed
	}
	log.Info("listening", "address", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	f := function.New(function.WithConfig(cfg), function.WithLogger(log))
	var intakes []function.Intake
	if cfg.Transport == config.TransportKafka {
		in, err := kafkaIntake(f, cfg, log)
		if err != nil {
			_ = ln.Close()
			log.Error("cannot start the Kafka transport", "error", err)
			return exitFailed
		}
		intakes = append(intakes, in)
	}
	if err := f.Serve(ctx, ln, nil, intakes...); err != nil {
		code := exitCode(err)
		if code == exitConfig {
			log.Error("function failed: bad configuration", "setting", config.EnvModelURI, "error", err, "exit_status", code)
		} else {
			log.Error("function failed", "error", err, "exit_status", code)
		}
		return code
	}
	return exitOK
}

// exitCode is 2 when the function could not start because of what MODEL_URI names (no such
// bundle, or not a valid model), as for any other bad setting; 1 otherwise.
func exitCode(err error) int {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, model.ErrInvalid) {
		return exitConfig
	}
	return exitFailed
}
