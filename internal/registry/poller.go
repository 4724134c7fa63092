package registry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fraud-detector/fraud-detector/internal/model"
)

// DefaultPollInterval is how often a Poller checks the alias unless told otherwise.
const DefaultPollInterval = 30 * time.Second

// Error reasons handed to a Poller's error hook; a bounded set, usable as a metric label.
const (
	ReasonUnavailable = "model_registry_unavailable" // MLflow unreachable, 5xx, alias missing
	ReasonInvalid     = "model_invalid"              // artifact corrupt or not matching its checksum
)

// Reason maps a Client error to one of the Reason constants.
func Reason(err error) string {
	if errors.Is(err, model.ErrInvalid) {
		return ReasonInvalid
	}
	return ReasonUnavailable
}

// Poller follows an alias: every interval it resolves it, and when it points at a version other
// than the one in use it downloads and checks that version and hands it to the swap callback. On
// any failure the model in use stays, the error is logged and reported, and the next tick tries
// again.
type Poller struct {
	client   *Client
	uri      URI
	interval time.Duration
	swap     func(*model.Model)
	onError  func(reason string, err error)
	log      *slog.Logger

	mu      sync.Mutex
	current string // version in use, "" before the first load
}

// PollerOption configures a Poller.
type PollerOption func(*Poller)

// WithInterval sets the polling interval (DefaultPollInterval otherwise).
func WithInterval(d time.Duration) PollerOption { return func(p *Poller) { p.interval = d } }

// WithErrorHook is called once per failed check, with a Reason constant (for a counter).
func WithErrorHook(f func(reason string, err error)) PollerOption {
	return func(p *Poller) { p.onError = f }
}

// WithLogger sets the logger (slog.Default otherwise).
func WithLogger(l *slog.Logger) PollerOption { return func(p *Poller) { p.log = l } }

// NewPoller follows uri through client and calls swap with every newly promoted, checked model.
func NewPoller(client *Client, uri URI, swap func(*model.Model), opts ...PollerOption) *Poller {
	p := &Poller{client: client, uri: uri, interval: DefaultPollInterval, swap: swap, log: slog.Default()}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Version is the registry version in use, "" before the first successful load.
func (p *Poller) Version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// Check resolves the alias once and swaps in its model if it changed. It reports whether a new
// model was swapped in; on error the model in use is untouched.
func (p *Poller) Check(ctx context.Context) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.client.Resolve(ctx, p.uri)
	if err != nil {
		p.fail(err)
		return false, err
	}
	if v.Version == p.current {
		return false, nil
	}
	m, err := p.client.Fetch(ctx, v)
	if err != nil {
		p.fail(err)
		return false, err
	}
	p.swap(m)
	p.log.Info("model loaded from registry", "uri", p.uri.String(), "model_version", v.Version,
		"previous_version", p.current, "run_id", v.RunID, "trees", m.Trees())
	p.current = v.Version
	return true, nil
}

func (p *Poller) fail(err error) {
	reason := Reason(err)
	p.log.Error("model registry check failed; keeping the current model", "uri", p.uri.String(),
		"reason", reason, "model_version", p.current, "error", err.Error())
	if p.onError != nil {
		p.onError(reason, err)
	}
}

// Run checks every interval until ctx ends. It does not check at once: call Check first for the
// initial load.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = p.Check(ctx)
		}
	}
}
