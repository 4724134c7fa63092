// Command loadgen drives fraud-detector with transactions from the handbook simulator or a
// dataset file, open-loop at the rates of a profile (the escalating attack, a constant rate, or
// custom phases), into Kafka or over HTTP. It prints a progress line each second and a per-phase
// report at the end (text, and JSON with --report); with --verify-topic it reads the predictions
// back and accounts for every transaction: sent=<n> predicted=<n> lost=<n> duplicates=<n>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"function/internal/features"
	"function/internal/txn"
	"function/loadgen/pace"
	"function/loadgen/profile"
	"function/loadgen/sink"
	"function/loadgen/source"
	"function/loadgen/verify"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the run could not start, or transactions were lost
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n(run with -h for usage)\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.maxRuntime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.maxRuntime)
		defer cancel()
	}
	rep, err := attack(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitFail
	}
	_ = rep.WriteText(stdout)
	if cfg.reportPath != "" {
		if err := rep.WriteJSONFile(cfg.reportPath); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFail
		}
	}
	if rep.Delivery != nil {
		fmt.Fprintln(stdout, rep.Delivery.Line())
		if rep.Delivery.Lost > 0 {
			return exitFail
		}
	}
	return exitOK
}

func attack(ctx context.Context, cfg *config, stderr io.Writer) (*pace.Report, error) {
	// Delivery outcomes are logged from the sinks' goroutines, progress from the pacer's.
	stderr = &lockedWriter{w: stderr}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	if cfg.metricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		srv := &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	src, err := openSource(cfg)
	if err != nil {
		return nil, err
	}
	defer src.Close()

	var reader *verify.Reader
	if cfg.verifyTopic != "" {
		if reader, err = verify.Start(cfg.brokers, cfg.verifyTopic, cfg.idPrefix); err != nil {
			return nil, err
		}
		defer reader.Close()
	}
	g := &generator{cfg: cfg, src: src, metrics: m, verify: reader, stderr: stderr}
	switch cfg.target {
	case "kafka":
		k, err := sink.NewKafka(sink.KafkaConfig{Brokers: cfg.brokers, Topic: cfg.topic, Acks: cfg.acks,
			Linger: cfg.linger, Idempotent: cfg.idempotent, RetryFor: cfg.retryFor})
		if err != nil {
			return nil, err
		}
		g.sink, g.kafka = k, k
	case "http":
		g.sink = sink.NewHTTP(cfg.url, cfg.maxInFlight, cfg.httpTimeout)
	}
	sendCtx, exhausted := context.WithCancel(ctx)
	defer exhausted()
	g.exhausted = exhausted
	obs := &progress{w: stderr, quiet: cfg.quiet, metrics: m, verify: reader, gen: g}
	fmt.Fprintf(stderr, "loadgen: %d phase(s) %v to %s, ids %s*\n", len(cfg.phases), cfg.phases, g.describe(), cfg.idPrefix)
	rep := pace.Run(sendCtx, cfg.phases, g, obs, 30*time.Second)
	m.phase.Set(0)
	m.target.Set(0)
	m.achieved.Set(0)
	if err := g.sink.Close(); err != nil {
		return nil, err
	}
	if g.sourceErr != nil {
		return nil, g.sourceErr
	}
	if reader != nil {
		fmt.Fprintf(stderr, "loadgen: sending done, waiting for predictions on %s\n", cfg.verifyTopic)
		// The wait survives Ctrl-C during the send, so that the summary still counts what arrives.
		waitCtx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		reader.Wait(waitCtx, cfg.drainIdle)
		cancel()
		d := reader.Result()
		rep.Delivery = &d
	}
	if n := g.labelsSent.Load(); n > 0 {
		fmt.Fprintf(stderr, "loadgen: %d label events sent (%d failed)\n", n, g.labelErrors.Load())
	}
	return &rep, nil
}

func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

func openSource(cfg *config) (source.Source, error) {
	if cfg.source == "sim" {
		return source.Simulator(cfg.seed, cfg.idPrefix)
	}
	return source.File(cfg.source, cfg.idPrefix)
}

// generator is the pacer's Sender: it draws the next transaction, releases the labels that have
// come due and hands both to the sink.
type generator struct {
	cfg       *config
	src       source.Source
	sink      sink.Sink
	kafka     *sink.Kafka // for labels; nil for the http target
	metrics   *metrics
	verify    *verify.Reader
	labels    features.LabelQueue
	phase     atomic.Int32
	exhausted context.CancelFunc
	sourceErr error

	stderr       io.Writer
	errorsLogged atomic.Int64

	labelsSent, labelErrors atomic.Int64
}

// maxLoggedErrors bounds the delivery errors printed; all are counted.
const maxLoggedErrors = 5

var errExhausted = errors.New("source exhausted")

func (g *generator) describe() string {
	if g.cfg.target == "http" {
		return g.cfg.url
	}
	return fmt.Sprintf("kafka %v topic %s", g.cfg.brokers, g.cfg.topic)
}

// Send implements pace.Sender; the pacer calls it from one goroutine.
func (g *generator) Send(ctx context.Context, _ int64, scheduled time.Time, done func(error)) error {
	tx, ok, err := g.src.Next()
	if err != nil || !ok {
		g.sourceErr = err
		g.exhausted()
		return errExhausted
	}
	if g.cfg.labels {
		g.releaseLabels(ctx, &tx)
	}
	if g.cfg.wallClock {
		tx.Time = scheduled.UTC().Truncate(time.Second)
	}
	phase := phaseLabel(int(g.phase.Load()))
	g.metrics.sent.WithLabelValues(phase).Inc()
	id := tx.ID
	r := sink.Transaction(&tx, g.cfg.cloudEvent, nil)
	return g.sink.Send(ctx, r, func(err error) {
		if err != nil {
			g.metrics.errors.WithLabelValues(phase).Inc()
			if g.errorsLogged.Add(1) <= maxLoggedErrors {
				fmt.Fprintf(g.stderr, "loadgen: %s: %v\n", id, err)
			}
		} else if g.verify != nil {
			g.verify.Expect(id, scheduled)
		}
		done(err)
	})
}

func (g *generator) releaseLabels(ctx context.Context, tx *txn.Transaction) {
	_ = g.labels.Due(tx.Time, func(l txn.Label) error {
		r, err := sink.Label(l, g.cfg.labelKey)
		if err != nil {
			return err
		}
		g.labelsSent.Add(1)
		count := func(err error) {
			if err != nil {
				g.labelErrors.Add(1)
			}
		}
		if g.kafka != nil {
			return g.kafka.SendTo(ctx, g.cfg.labelsTopic, r, count)
		}
		return g.sink.Send(ctx, r, count)
	})
	g.labels.Push(tx)
}

// progress prints a line a second and keeps the gauges current.
type progress struct {
	w       io.Writer
	quiet   bool
	metrics *metrics
	verify  *verify.Reader
	gen     *generator
}

func (p *progress) PhaseStarted(i int, ph profile.Phase) {
	p.gen.phase.Store(int32(i))
	p.metrics.phase.Set(float64(i + 1))
	p.metrics.target.Set(ph.Rate)
	if !p.quiet {
		fmt.Fprintf(p.w, "loadgen: phase %d: %v\n", i+1, ph)
	}
}

func (p *progress) Progress(pr pace.Progress) {
	p.metrics.achieved.Set(pr.Achieved)
	if p.quiet {
		return
	}
	extra := ""
	if p.verify != nil {
		d := p.verify.Result()
		extra = fmt.Sprintf("  predicted %d", d.Predicted)
	}
	fmt.Fprintf(p.w, "phase %d/%d  target %.0f/s  achieved %.1f/s  sent %d  errors %d  p99 %s%s\n",
		pr.Phase+1, pr.Of, pr.Target, pr.Achieved, pr.Sent, pr.Errors, pr.P99, extra)
}

// lockedWriter serialises writes from several goroutines to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
