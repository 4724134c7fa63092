package registry

import (
	"context"
	"errors"
	"sync"

	"github.com/fraud-detector/fraud-detector/internal/model"
)

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

// Poller follows an alias. Each Load resolves the alias (one small REST call) and downloads a
// model only when the alias points at a version other than the last one loaded; otherwise it
// returns that same *model.Model, so a caller that polls Load on a ticker swaps models exactly
// when the champion changes. On any failure the error is reported and returned, and the caller
// keeps the model it has.
type Poller struct {
	client  *Client
	uri     URI
	onError func(reason string, err error)

	mu      sync.Mutex
	current *model.Model // last model loaded, nil before the first
	version string
}

// PollerOption configures a Poller.
type PollerOption func(*Poller)

// WithErrorHook is called once per failed Load with a Reason constant (for a counter).
func WithErrorHook(f func(reason string, err error)) PollerOption {
	return func(p *Poller) { p.onError = f }
}

// NewPoller follows uri through client.
func NewPoller(client *Client, uri URI, opts ...PollerOption) *Poller {
	p := &Poller{client: client, uri: uri}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Version is the registry version of the last model loaded, "" before the first.
func (p *Poller) Version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// Load returns the model the alias points at now: the one already loaded if the alias has not
// moved, otherwise the newly downloaded and checked one.
func (p *Poller) Load(ctx context.Context) (*model.Model, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.client.Resolve(ctx, p.uri)
	if err != nil {
		return nil, p.fail(err)
	}
	if p.current != nil && v.Version == p.version {
		return p.current, nil
	}
	m, err := p.client.Fetch(ctx, v)
	if err != nil {
		return nil, p.fail(err)
	}
	p.current, p.version = m, v.Version
	return m, nil
}

func (p *Poller) fail(err error) error {
	if p.onError != nil {
		p.onError(Reason(err), err)
	}
	return err
}
