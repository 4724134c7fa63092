// Command receiver is the administrator's end of the admin alert in the local cluster
// (config/local): Alertmanager's admin webhook posts here, and the attack recorder reads what
// arrived, and when. It stands in for whatever an administrator's pager or chat relay would be.
//
//	POST /alerts   an Alertmanager webhook notification (JSON, version 4)
//	GET  /alerts   every notification recorded, oldest first, with its arrival time
//	GET  /healthz  200
//	GET  /metrics  admin_receiver_notifications_total{receiver, status, alertname}, rejects
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"function/internal/httpserve"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	keep := flag.Int("keep", 1000, "notifications kept (oldest dropped first)")
	flag.Parse()
	if *keep < 1 {
		fmt.Fprintln(os.Stderr, "receiver: --keep must be at least 1")
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	rec := newRecorder(*keep, reg, time.Now)
	mux := http.NewServeMux()
	mux.Handle("/alerts", rec)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("admin receiver listening", "address", *listen)
	if err := httpserve.Run(ctx, srv); err != nil {
		log.Error("admin receiver stopped", "error", err)
		os.Exit(1)
	}
}
