package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"function/internal/kafkaio"
)

// Kafka produces records asynchronously (kafkaio.Producer); each record's done runs when Kafka
// acknowledged it (acks as configured) or gave up.
type Kafka struct {
	producer *kafkaio.Producer
	topic    string
}

// KafkaConfig configures the producer.
type KafkaConfig struct {
	Brokers []string
	Topic   string
	Acks    sarama.RequiredAcks
	Linger  time.Duration
	// Idempotent makes the broker drop the copies a retried produce request may write, so a broker
	// restart does not duplicate input records (it needs acks=all and one request in flight).
	Idempotent bool
	// RetryFor is how long a record is retried before it counts as an error (default 30 s: a
	// broker restart is ridden out).
	RetryFor time.Duration
}

// NewKafka connects to the brokers.
func NewKafka(c KafkaConfig) (*Kafka, error) {
	cfg := kafkaio.ProducerConfig("loadgen", c.Linger)
	cfg.Producer.RequiredAcks = c.Acks
	cfg.ChannelBufferSize = 1 << 16
	if c.RetryFor <= 0 {
		c.RetryFor = 30 * time.Second
	}
	// sarama retries inside the client, but its idempotent path gives up at once when a partition
	// has no leader (a broker restart); the load generator then sends the record again itself
	// until RetryFor has passed.
	cfg.Producer.Retry.Max = int(c.RetryFor / cfg.Producer.Retry.Backoff)
	if c.Idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := kafkaio.NewProducer(c.Brokers, cfg, c.RetryFor)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka: %w", err)
	}
	return &Kafka{producer: p, topic: c.Topic}, nil
}

// Send queues r for the sink's topic.
func (k *Kafka) Send(ctx context.Context, r Record, done func(error)) error {
	return k.SendTo(ctx, k.topic, r, done)
}

// SendTo queues r for topic.
func (k *Kafka) SendTo(ctx context.Context, topic string, r Record, done func(error)) error {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)}
	if r.CE != nil {
		e := r.Event()
		var err error
		if m, err = kafkaio.ToRecord(&e, topic); err != nil {
			return fmt.Errorf("sink: kafka: %w", err)
		}
	}
	if err := k.producer.Send(ctx, m, done); err != nil {
		return fmt.Errorf("sink: kafka: %w", err)
	}
	return nil
}

// Close waits for the outcome of every record sent (retries included), then closes the producer.
func (k *Kafka) Close() error { return k.producer.Close() }
