package function

import (
	"context"
	"fmt"

	"function/internal/config"
	"function/internal/events"
	"function/internal/features"
	"function/internal/kafkaio"
	"function/internal/redisstore"
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

// newPublisher builds the publisher of predictions: none without KAFKA_BROKERS, else the Kafka
// publisher to PREDICTIONS_TOPIC (acknowledged before the input is). The main binary and the
// Knative Functions (func-go) build both get it here.
func newPublisher(_ context.Context, cfg config.Config) (events.Publisher, error) {
	if len(cfg.KafkaBrokers) == 0 {
		return events.Nop{}, nil
	}
	p, err := kafkaio.NewPublisher(cfg.KafkaBrokers, cfg.PredictionsTopic)
	if err != nil {
		return nil, fmt.Errorf("predictions publisher (%s): %w", config.EnvKafkaBrokers, err)
	}
	return p, nil
}

// storeKind names the store for logs without its credentials.
func storeKind(cfg config.Config) string { return config.RedactStore(cfg.FeatureStore) }
