package main

import (
	"context"
	"errors"
	"log/slog"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"function/function"
	"function/internal/config"
	"function/internal/events"
	"function/internal/kafkaio"
)

// kafkaIntake is the in-process consumer of FUNC_TRANSPORT=kafka: it delivers each record of the
// input topics to f.Handle with KafkaSource's semantics (see kafkaio.Consumer). Serve runs it once
// the function has started and, on shutdown, cancels it and waits until it has left its group
// (committing what was acknowledged) before readiness turns 503 and the store closes.
func kafkaIntake(f *function.Function, cfg config.Config, log *slog.Logger) (function.Intake, error) {
	kc := kafkaio.ConsumerConfig{
		Brokers:         cfg.KafkaBrokers,
		Topics:          cfg.KafkaTopics,
		Group:           cfg.KafkaGroup,
		DeadLetterTopic: cfg.DeadLetterTopic,
		Namespace:       cfg.Namespace,
		SourceName:      "fraud-detector",
		Destination:     "fraud-detector",
		Logger:          log,
	}
	c, err := kafkaio.NewConsumer(kc, f.Handle, statusOf)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		log.Info("kafka transport consuming", "topics", kc.Topics, "group", kc.Group, "dead_letter_topic", kc.DeadLetterTopic)
		err := c.Run(ctx)
		log.Info("kafka transport stopped", "error", err)
		return err
	}, nil
}

// statusOf is the HTTP status the function answers err with.
func statusOf(err error) int {
	var res *cehttp.Result
	if errors.As(err, &res) {
		return res.StatusCode
	}
	status, _ := events.Classify(err)
	return status
}
