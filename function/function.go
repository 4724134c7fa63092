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

	"github.com/fraud-detector/fraud-detector/internal/config"
	"github.com/fraud-detector/fraud-detector/internal/events"
	"github.com/fraud-detector/fraud-detector/internal/features"
	"github.com/fraud-detector/fraud-detector/internal/model"
	"github.com/fraud-detector/fraud-detector/internal/scoring"
	"github.com/fraud-detector/fraud-detector/internal/telemetry"
)

// Function is one instance of the fraud detector. It is safe for concurrent use.
type Function struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *telemetry.Metrics
	clock   func() time.Time

	// Set by options or by Start.
	cfg      config.Config
	haveCfg  bool
	store    features.Store
	pub      events.Publisher
	source   ModelSource
	poll     bool
	scorer   atomic.Pointer[scoring.Scorer] // nil until Start
	started  atomic.Bool
	draining atomic.Bool // set on shutdown: readiness turns 503 so no new traffic is routed here
	stopOnce sync.Once
	cancel   context.CancelFunc
	pollDone chan struct{}
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
	return f
}

// Registry is the registry /metrics serves.
func (f *Function) Registry() *prometheus.Registry { return f.reg }

// Metrics are the function's own metrics.
func (f *Function) Metrics() *telemetry.Metrics { return f.metrics }

// Config is the configuration in effect (valid after Start).
func (f *Function) Config() config.Config { return f.cfg }

// Start reads the configuration (from env, unless WithConfig was given), builds the feature store
// and the publisher, and loads the model. func-go passes its environment and ./cfg entries as env.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	if !f.started.CompareAndSwap(false, true) {
		return errors.New("function: already started")
	}
	if !f.haveCfg {
		cfg, err := config.FromEnv(config.MapLookup(env))
		if err != nil {
			return err
		}
		f.cfg = cfg
	}
	var err error
	if f.store == nil {
		if f.store, err = newStore(ctx, f.cfg); err != nil {
			return err
		}
	}
	if f.pub == nil {
		if f.pub, err = newPublisher(ctx, f.cfg); err != nil {
			return err
		}
	}
	if f.source == nil {
		if f.source, f.poll, err = newModelSource(f.cfg); err != nil {
			return err
		}
	}
	m, err := f.source.Load(ctx)
	if err != nil {
		return fmt.Errorf("function: load model %s: %w", f.cfg.ModelURI, err)
	}
	var opts []scoring.Option
	if f.cfg.FraudThreshold > 0 {
		opts = append(opts, scoring.WithThreshold(f.cfg.FraudThreshold))
	}
	opts = append(opts, scoring.WithClock(f.clock))
	s := scoring.New(f.store, opts...)
	f.setModel(s, m)
	f.scorer.Store(s)
	pollCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	f.pollDone = make(chan struct{})
	if f.poll {
		go f.pollModel(pollCtx, s)
	} else {
		close(f.pollDone)
	}
	f.log.Info("function started", "model_uri", f.cfg.ModelURI, "model_name", m.Meta.Name,
		"model_version", m.Meta.Version, "trees", m.Trees(), "feature_store", storeKind(f.cfg),
		"publishing", len(f.cfg.KafkaBrokers) > 0)
	return nil
}

func (f *Function) setModel(s *scoring.Scorer, m *model.Model) {
	s.SetModel(m)
	f.metrics.SetModel(m.Meta.Name, m.Meta.Version)
}

// Ready reports whether the function can score: the model is loaded and it is not shutting down.
func (f *Function) Ready(context.Context) (bool, error) {
	return f.scorer.Load() != nil && !f.draining.Load(), nil
}

// Alive reports whether the process is healthy; a loading model is alive but not ready.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Drain turns readiness off ahead of a shutdown, so the platform stops routing new requests.
func (f *Function) Drain() { f.draining.Store(true) }

// Stop flushes the publisher and releases the store. Callers stop serving requests first (the
// HTTP server's Shutdown, as func-go and Serve do); Stop is idempotent.
func (f *Function) Stop(ctx context.Context) error {
	var err error
	f.stopOnce.Do(func() {
		f.draining.Store(true)
		if f.cancel != nil {
			f.cancel()
			select {
			case <-f.pollDone:
			case <-ctx.Done():
			}
		}
		if f.pub != nil {
			if e := f.pub.Close(); e != nil {
				err = errors.Join(err, fmt.Errorf("function: close publisher: %w", e))
			}
		}
		if c, ok := f.store.(io.Closer); ok {
			if e := c.Close(); e != nil {
				err = errors.Join(err, fmt.Errorf("function: close feature store: %w", e))
			}
		}
		f.log.Info("function stopped", "error", err)
	})
	return err
}

// Handle scores one CloudEvent (the func-go entry). A transaction gives a fraud.prediction.v1
// reply; a label gives no reply. Errors carry the HTTP status Classify gives them.
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	out, err := f.process(ctx, []event.Event{e}, false)
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
