package function

import (
	"context"
	"fmt"

	"github.com/fraud-detector/fraud-detector/internal/config"
	"github.com/fraud-detector/fraud-detector/internal/events"
	"github.com/fraud-detector/fraud-detector/internal/features"
	"github.com/fraud-detector/fraud-detector/internal/redisstore"
)

// newStore builds the feature store FEATURE_STORE names.
func newStore(_ context.Context, cfg config.Config) (features.Store, error) {
	if cfg.FeatureStore == config.StoreMemory {
		return features.NewMemory(features.WithMaxHistories(cfg.StateMaxHistories)), nil
	}
	// A redis:// URL (config validated the scheme): Redis shared by every replica. It dials
	// lazily, so a Redis that is down at start gives 503s until it is up, not a crash loop.
	s, err := redisstore.Open(cfg.FeatureStore)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", config.EnvFeatureStore, config.RedactStore(cfg.FeatureStore), err)
	}
	return s, nil
}

// newPublisher builds the publisher of predictions: none without KAFKA_BROKERS.
func newPublisher(_ context.Context, cfg config.Config) (events.Publisher, error) {
	if len(cfg.KafkaBrokers) == 0 {
		return events.Nop{}, nil
	}
	return nil, fmt.Errorf("%s is set but this build has no Kafka publisher", config.EnvKafkaBrokers)
}

// storeKind names the store for logs without its credentials.
func storeKind(cfg config.Config) string { return config.RedactStore(cfg.FeatureStore) }
