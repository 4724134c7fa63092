package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/fraud-detector/fraud-detector/function"
	"github.com/fraud-detector/fraud-detector/internal/config"
	"github.com/fraud-detector/fraud-detector/internal/events"
	"github.com/fraud-detector/fraud-detector/internal/kafkaio"
)

// The Kafka transport's environment, as Knative Functions' deployer sets it for FUNC_TRANSPORT=kafka.
const (
	envTransport  = "FUNC_TRANSPORT"
	envTopic      = "KAFKA_TOPIC" // comma-separated: transactions and, if wanted, labels
	envGroup      = "KAFKA_CONSUMER_GROUP"
	envDeadLetter = "DEAD_LETTER_TOPIC"
	envNamespace  = "NAMESPACE"
)

// kafkaOptions gives the function the Kafka publisher of predictions when KAFKA_BROKERS is set
// (both transports publish, acknowledged before the input is acknowledged). A publisher that
// cannot be built is a configuration error: the process exits 2.
func kafkaOptions(cfg config.Config, log *slog.Logger) []function.Option {
	if len(cfg.KafkaBrokers) == 0 {
		return nil
	}
	pub, err := kafkaio.NewPublisher(cfg.KafkaBrokers, cfg.PredictionsTopic)
	if err != nil {
		log.Error("cannot create the predictions publisher", "topic", cfg.PredictionsTopic, "error", err)
		os.Exit(2)
	}
	return []function.Option{function.WithPublisher(pub)}
}

// startKafka consumes the input topics when FUNC_TRANSPORT=kafka, delivering each record to
// f.Handle with KafkaSource's semantics (see kafkaio.Consumer), once the function is ready. The
// returned func waits until the consumer has left its group, committing what was acknowledged.
func startKafka(ctx context.Context, f *function.Function, cfg config.Config, log *slog.Logger) func() {
	if os.Getenv(envTransport) != "kafka" {
		return func() {}
	}
	if len(cfg.KafkaBrokers) == 0 {
		log.Error(envTransport + "=kafka needs " + config.EnvKafkaBrokers)
		os.Exit(2)
	}
	kc := kafkaio.ConsumerConfig{
		Brokers:         cfg.KafkaBrokers,
		Topics:          strings.Split(envOr(envTopic, kafkaio.DefaultInputTopic), ","),
		Group:           envOr(envGroup, kafkaio.DefaultConsumerGroup),
		DeadLetterTopic: os.Getenv(envDeadLetter),
		Namespace:       envOr(envNamespace, "default"),
		SourceName:      "fraud-detector",
		Destination:     "fraud-detector",
		Logger:          log,
	}
	c, err := kafkaio.NewConsumer(kc, f.Handle, statusOf)
	if err != nil {
		log.Error("cannot start the Kafka transport", "error", err)
		os.Exit(2)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ok, _ := f.Ready(ctx); !ok; ok, _ = f.Ready(ctx) {
			select {
			case <-ctx.Done():
				_ = c.Close()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		log.Info("kafka transport consuming", "topics", kc.Topics, "group", kc.Group, "dead_letter_topic", kc.DeadLetterTopic)
		if err := c.Run(ctx); err != nil {
			log.Error("kafka transport failed", "error", err)
		}
	}()
	return func() { <-done }
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

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
