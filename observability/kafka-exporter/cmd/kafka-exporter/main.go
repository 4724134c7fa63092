// Command kafka-exporter stands in for danielqsj/kafka_exporter on the local cluster
// (config/local): that module is not served by the Go proxy here and its image cannot be pulled.
// It takes the flags observability/kafka-exporter/kafka-exporter.yaml passes and exports the
// series the rules and the dashboard read, under kafka_exporter's names:
//
//	kafka_brokers
//	kafka_topic_partitions{topic}
//	kafka_topic_partition_current_offset{topic, partition}
//	kafka_consumergroup_current_offset{consumergroup, topic, partition}
//	kafka_consumergroup_lag{consumergroup, topic, partition}
//	kafka_consumergroup_lag_sum{consumergroup, topic}
//
// Offsets are read on each scrape (a collector with a timeout), so a series is never older than
// the scrape that returns it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"function/internal/httpserve"
)

// config is every flag, validated once.
type config struct {
	servers     []string
	groupFilter *regexp.Regexp
	topicFilter *regexp.Regexp
	listen      string
	path        string
}

type serverList []string

func (s *serverList) String() string { return strings.Join(*s, ",") }
func (s *serverList) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			*s = append(*s, a)
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("kafka-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var servers serverList
	fs.Var(&servers, "kafka.server", "a Kafka bootstrap address (repeatable, or comma-separated)")
	group := fs.String("group.filter", ".*", "regular expression of the consumer groups to export")
	topic := fs.String("topic.filter", ".*", "regular expression of the topics to export")
	listen := fs.String("web.listen-address", ":9308", "address of /metrics and /healthz")
	path := fs.String("web.telemetry-path", "/metrics", "path of the metrics")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(servers) == 0 {
		return config{}, errors.New("--kafka.server is required")
	}
	c := config{servers: servers, listen: *listen, path: *path}
	var err error
	if c.groupFilter, err = regexp.Compile(*group); err != nil {
		return c, fmt.Errorf("--group.filter: %w", err)
	}
	if c.topicFilter, err = regexp.Compile(*topic); err != nil {
		return c, fmt.Errorf("--topic.filter: %w", err)
	}
	if !strings.HasPrefix(c.path, "/") || c.path == "/healthz" {
		return c, fmt.Errorf("--web.telemetry-path %q: want a path other than /healthz", c.path)
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka-exporter:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	c := newCollector(cfg, 10*time.Second, log)
	defer c.close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle(cfg.path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := c.healthy(); err != nil {
			http.Error(w, "kafka: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := &http.Server{Addr: cfg.listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("kafka-exporter listening", "address", cfg.listen, "kafka", cfg.servers)
	if err := httpserve.Run(ctx, srv); err != nil {
		log.Error("kafka-exporter stopped", "error", err)
		os.Exit(1)
	}
}
