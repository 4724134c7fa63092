package function

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"function/internal/config"
	"function/internal/model"
	"function/internal/registry"
	"function/internal/scoring"
)

// ModelSource yields the model to serve. Load is called once by Start and then, for polled
// sources, every MODEL_POLL_INTERVAL; the function swaps models when the version or checksum
// changes, without a restart.
type ModelSource interface {
	Load(ctx context.Context) (*model.Model, error)
}

// ModelSourceFunc adapts a function to ModelSource.
type ModelSourceFunc func(ctx context.Context) (*model.Model, error)

// Load implements ModelSource.
func (fn ModelSourceFunc) Load(ctx context.Context) (*model.Model, error) { return fn(ctx) }

// newModelSource resolves MODEL_URI: the built-in model, or a bundle directory (polled, so a
// remounted ConfigMap or volume is picked up). Registry URIs (models:/name@alias) get their case
// here.
func newModelSource(cfg config.Config) (src ModelSource, poll bool, err error) {
	uri := cfg.ModelURI
	switch {
	case uri == config.ModelBuiltin:
		return ModelSourceFunc(func(context.Context) (*model.Model, error) { return model.Builtin() }), false, nil
	case strings.HasPrefix(uri, config.MLflowScheme):
		return newRegistrySource(cfg)
	}
	return ModelSourceFunc(func(context.Context) (*model.Model, error) { return model.Load(uri) }), true, nil
}

// newRegistrySource follows models:/name@alias on the MLflow server at MLFLOW_TRACKING_URI,
// authenticating as MLflow's own clients do (MLFLOW_TRACKING_TOKEN, or _USERNAME/_PASSWORD).
// Each poll costs one alias lookup; the model is downloaded only when the alias moves.
func newRegistrySource(cfg config.Config) (ModelSource, bool, error) {
	u, err := registry.ParseURI(cfg.ModelURI)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", config.EnvModelURI, err)
	}
	var opts []registry.Option
	if cfg.MLflowToken != "" {
		opts = append(opts, registry.WithBearerToken(cfg.MLflowToken))
	} else if cfg.MLflowUsername != "" {
		opts = append(opts, registry.WithBasicAuth(cfg.MLflowUsername, cfg.MLflowPassword))
	}
	c, err := registry.New(cfg.MLflowTrackingURI, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", config.EnvMLflowTrackingURI, err)
	}
	return registry.NewPoller(c, u), true, nil
}

// modelErrorReason is the ml_model_errors_total reason of a failed model reload.
func modelErrorReason(err error) string {
	switch {
	case errors.Is(err, model.ErrInvalid):
		return registry.ReasonInvalid
	case errors.Is(err, registry.ErrUnavailable):
		return registry.ReasonUnavailable
	}
	return "model_reload_failed"
}

// pollModel reloads the model every interval until ctx ends. A failed load keeps the current
// model: serving an older model beats serving none.
func (f *Function) pollModel(ctx context.Context, s *scoring.Scorer, src ModelSource, cfg config.Config) {
	defer close(f.pollDone)
	t := time.NewTicker(cfg.ModelPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, err := src.Load(ctx)
		if err != nil {
			reason := modelErrorReason(err)
			f.metrics.Error(reason)
			f.log.Warn("model reload failed; keeping the current model", "model_uri", cfg.ModelURI,
				"reason", reason, "error", err)
			continue
		}
		cur := s.Model()
		if cur != nil && cur.Meta.Version == m.Meta.Version && cur.Meta.ModelSHA256 == m.Meta.ModelSHA256 {
			continue
		}
		f.setModel(s, m)
		f.log.Info("model swapped", "model_name", m.Meta.Name, "model_version", m.Meta.Version)
	}
}
