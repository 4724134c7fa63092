package registry

import (
	"context"
	"sync"

	"function/internal/model"
)

// Error reasons of a failed load (ml_model_errors_total{reason}): errors wrapping ErrUnavailable
// and model.ErrInvalid respectively.
const (
	ReasonUnavailable = "model_registry_unavailable" // MLflow unreachable, 5xx, alias missing
	ReasonInvalid     = "model_invalid"              // artifact corrupt or not matching its checksum
)

// Poller follows an alias. Each Load resolves the alias (one small REST call) and downloads a
// model only when the alias points at a version other than the last one loaded; otherwise it
// returns that same *model.Model, so a caller that polls Load on a ticker swaps models exactly
// when the champion changes. On any failure the error is returned, and the caller keeps the model
// it has.
type Poller struct {
	client *Client
	uri    URI

	mu      sync.Mutex
	current *model.Model // last model loaded, nil before the first
	version string
}

// NewPoller follows uri through client.
func NewPoller(client *Client, uri URI) *Poller { return &Poller{client: client, uri: uri} }

// Load returns the model the alias points at now: the one already loaded if the alias has not
// moved, otherwise the newly downloaded and checked one.
func (p *Poller) Load(ctx context.Context) (*model.Model, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.client.Resolve(ctx, p.uri)
	if err != nil {
		return nil, err
	}
	if p.current != nil && v.Version == p.version {
		return p.current, nil
	}
	m, err := p.client.Fetch(ctx, v)
	if err != nil {
		return nil, err
	}
	p.current, p.version = m, v.Version
	return m, nil
}
