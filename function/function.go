// Package function is the fraud detector as a Knative Function in the instanced form: New builds
// it, Start loads the model named by MODEL_URI, Ready is false until then, Handle scores one
// CloudEvent, Stop flushes. Handler serves the full HTTP surface (CloudEvents in every mode,
// /predict, health, metrics) for the function's own entrypoint; Handle alone is what
// knative.dev/func-go's middleware calls.
package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus"

	"function/internal/config"
	"function/internal/drift"
	"function/internal/events"
	"function/internal/features"
	"function/internal/model"
	"function/internal/scoring"
	"function/internal/telemetry"
)

// Function is one instance of the fraud detector. It is safe for concurrent use, and Stop may race
// with Start (func-go runs Start in a goroutine and calls Stop on a signal).
type Function struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *telemetry.Metrics
	drift   *drift.Monitor // PSI of live features and scores against the model's training window
	clock   func() time.Time

	// Given by options; what is missing Start builds from the configuration.
	cfg     config.Config
	haveCfg bool
	store   features.Store
	pub     events.Publisher
	source  ModelSource
	poll    bool

	live     atomic.Pointer[live] // nil until Start has loaded a model
	draining atomic.Bool          // set on shutdown: readiness turns 503 so no new traffic is routed here

	mu       sync.Mutex // guards the lifecycle below
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	pollDone chan struct{}
}

// live is what a started function serves with.
type live struct {
	cfg    config.Config
	scorer *scoring.Scorer
	pub    events.Publisher
	store  features.Store
}

// Option configures a Function.
type Option func(*Function)

// WithConfig uses cfg instead of reading the environment in Start.
func WithConfig(cfg config.Config) Option {
	return func(f *Function) { f.cfg, f.haveCfg = cfg, true }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(f *Function) { f.log = l } }

// WithPublisher replaces the publisher newPublisher would build from the configuration.
func WithPublisher(p events.Publisher) Option { return func(f *Function) { f.pub = p } }

// WithStore replaces the feature store newStore would build from the configuration.
func WithStore(s features.Store) Option { return func(f *Function) { f.store = s } }

// WithModelSource replaces the source MODEL_URI names; poll says whether to check it for new
// models every MODEL_POLL_INTERVAL.
func WithModelSource(src ModelSource, poll bool) Option {
	return func(f *Function) { f.source, f.poll = src, poll }
}

// WithClock sets the clock that stamps scored_at.
func WithClock(now func() time.Time) Option { return func(f *Function) { f.clock = now } }

// New builds an instance; it serves nothing until Start has loaded a model. Knative Functions'
// scaffolding calls it with no arguments.
func New(opts ...Option) *Function {
	f := &Function{log: slog.Default(), reg: telemetry.NewRegistry(), clock: time.Now}
	for _, o := range opts {
		o(f)
	}
	f.metrics = telemetry.New(f.reg, events.Reasons...)
	f.drift = drift.NewMonitor(f.reg)
	return f
}

// Registry is the registry /metrics serves.
func (f *Function) Registry() *prometheus.Registry { return f.reg }

// Metrics are the function's own metrics.
func (f *Function) Metrics() *telemetry.Metrics { return f.metrics }

// Config is the configuration in effect; the zero Config before Start.
func (f *Function) Config() config.Config {
	if l := f.live.Load(); l != nil {
		return l.cfg
	}
	return config.Config{}
}

// Start reads the configuration (from env, unless WithConfig was given), builds the feature store
// and the publisher, and loads the model. func-go passes its environment and ./cfg entries as env.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return errors.New("function: already started")
	}
	f.started = true
	cfg, store, pub, source, poll := f.cfg, f.store, f.pub, f.source, f.poll
	f.mu.Unlock()

	var err error
	if f.haveCfg {
		err = cfg.Validate()
	} else {
		cfg, err = config.FromEnv(config.MapLookup(env))
	}
	if err != nil {
		return err
	}
	if store == nil {
		if store, err = newStore(ctx, cfg); err != nil {
			return err
		}
	}
	if pub == nil {
		if pub, err = newPublisher(ctx, cfg); err != nil {
			return errors.Join(err, closeStore(store))
		}
	}
	if source == nil {
		if source, poll, err = newModelSource(cfg); err != nil {
			return errors.Join(err, pub.Close(), closeStore(store))
		}
	}
	m, err := source.Load(ctx)
	if err != nil {
		return errors.Join(fmt.Errorf("function: load model %s: %w", cfg.ModelURI, err), pub.Close(), closeStore(store))
	}
	var opts []scoring.Option
	if cfg.FraudThreshold > 0 {
		opts = append(opts, scoring.WithThreshold(cfg.FraudThreshold))
	}
	opts = append(opts, scoring.WithClock(f.clock), scoring.WithEventClock(scoring.NewClock(cfg)), scoring.WithObserver(f.drift))
	if cfg.LabelHMACKey != "" {
		opts = append(opts, scoring.WithLabelKey([]byte(cfg.LabelHMACKey)))
	}
	if m, ok := store.(interface {
		RegisterMetrics(prometheus.Registerer) error
	}); ok {
		if err := m.RegisterMetrics(f.reg); err != nil {
			return errors.Join(err, pub.Close(), closeStore(store))
		}
	}
	s := scoring.New(store, opts...)
	f.drift.SetWindow(cfg.DriftWindow, drift.DefaultSegments)
	f.setModel(s, m)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return errors.Join(errors.New("function: stopped while starting"), pub.Close(), closeStore(store))
	}
	f.cfg, f.store, f.pub, f.source, f.poll = cfg, store, pub, source, poll
	pollCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	f.pollDone = make(chan struct{})
	if poll {
		go f.pollModel(pollCtx, s, source, cfg)
	} else {
		close(f.pollDone)
	}
	f.live.Store(&live{cfg: cfg, scorer: s, pub: pub, store: store})
	f.log.Info("function started", "model_uri", cfg.ModelURI, "model_name", m.Meta.Name,
		"model_version", m.Meta.Version, "trees", m.Trees(), "feature_store", storeKind(cfg),
		"publishing", len(cfg.KafkaBrokers) > 0)
	return nil
}

func closeStore(s features.Store) error {
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("function: close feature store: %w", err)
		}
	}
	return nil
}

func (f *Function) setModel(s *scoring.Scorer, m *model.Model) {
	s.SetModel(m)
	f.metrics.SetModel(m.Meta.Name, m.Meta.Version)
	f.drift.SetModel(m.Meta.Version, m.Meta.Drift)
}

// Drift is the monitor behind the PSI gauges.
func (f *Function) Drift() *drift.Monitor { return f.drift }

// Ready reports whether the function can score: the model is loaded and it is not shutting down.
func (f *Function) Ready(context.Context) (bool, error) {
	return f.live.Load() != nil && !f.draining.Load(), nil
}

// Alive reports whether the process is healthy; a loading model is alive but not ready.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Drain turns readiness off ahead of a shutdown, so the platform stops routing new requests.
func (f *Function) Drain() { f.draining.Store(true) }

// Stop flushes the publisher and releases the store. Callers stop serving requests first (the
// HTTP server's Shutdown, as func-go and Serve do); Stop is idempotent.
func (f *Function) Stop(ctx context.Context) error {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil
	}
	f.stopped = true
	f.draining.Store(true)
	cancel, pollDone, pub, store := f.cancel, f.pollDone, f.pub, f.store
	f.mu.Unlock()
	if cancel == nil { // never started, or Start still loading: it cleans up after itself
		return nil
	}
	cancel()
	select {
	case <-pollDone:
	case <-ctx.Done():
	}
	var err error
	if e := pub.Close(); e != nil {
		err = fmt.Errorf("function: close publisher: %w", e)
	}
	err = errors.Join(err, closeStore(store))
	f.log.Info("function stopped", "error", err)
	return err
}

// Handle scores one CloudEvent (the func-go entry). A transaction gives a fraud.prediction.v1
// reply; a label gives no reply. Errors carry the HTTP status Classify gives them.
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	out, err := f.process(ctx, f.live.Load(), []event.Event{e}, false, scoring.ExplainFlagged)
	if err != nil {
		status, reason := events.Classify(err)
		f.metrics.Error(reason)
		return nil, cehttp.NewResult(status, "%s: %v", reason, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return &out[0], nil
}
