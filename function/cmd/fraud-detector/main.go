// Command fraud-detector is the one entrypoint of the fraud detector: `make run`, the container
// image and the Knative Service all run it. It reads the configuration from the environment,
// serves the function on LISTEN_ADDRESS and shuts down gracefully on SIGTERM.
package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/fraud-detector/fraud-detector/function"
	"github.com/fraud-detector/fraud-detector/internal/config"
)

func main() { os.Exit(run()) }

func run() int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(log)
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		log.Error("bad configuration", "error", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		log.Error("cannot listen", "address", cfg.ListenAddress, "error", err)
		return 1
	}
	log.Info("listening", "address", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	f := function.New(append(kafkaOptions(cfg, log), function.WithConfig(cfg), function.WithLogger(log))...)
	defer startKafka(ctx, f, cfg, log)() // FUNC_TRANSPORT=kafka: consume the input topics
	if err := f.Serve(ctx, ln, nil); err != nil {
		log.Error("function failed", "error", err)
		return 1
	}
	return 0
}
