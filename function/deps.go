package function

import (
	"context"
	"fmt"
	"net/url"

	"github.com/fraud-detector/fraud-detector/internal/config"
	"github.com/fraud-detector/fraud-detector/internal/events"
	"github.com/fraud-detector/fraud-detector/internal/features"
)

// newStore builds the feature store FEATURE_STORE names.
func newStore(_ context.Context, cfg config.Config) (features.Store, error) {
	if cfg.FeatureStore == config.StoreMemory {
		return features.NewMemory(), nil
	}
	return nil, fmt.Errorf("%s=%q: this build only has the %q store", config.EnvFeatureStore, redact(cfg.FeatureStore), config.StoreMemory)
}

// newPublisher builds the publisher of predictions: none without KAFKA_BROKERS.
func newPublisher(_ context.Context, cfg config.Config) (events.Publisher, error) {
	if len(cfg.KafkaBrokers) == 0 {
		return events.Nop{}, nil
	}
	return nil, fmt.Errorf("%s is set but this build has no Kafka publisher", config.EnvKafkaBrokers)
}

// storeKind names the store for logs without its credentials.
func storeKind(cfg config.Config) string { return redact(cfg.FeatureStore) }

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	return u.Redacted()
}
