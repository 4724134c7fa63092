package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/fraud-detector/fraud-detector/internal/kafkaio"
)

// Kafka produces records asynchronously; each record's done runs when Kafka acknowledged it
// (acks as configured) or gave up.
type Kafka struct {
	producer sarama.AsyncProducer
	topic    string
	done     chan struct{}
}

// KafkaConfig configures the producer.
type KafkaConfig struct {
	Brokers []string
	Topic   string
	Acks    sarama.RequiredAcks // sarama.WaitForAll by default (the zero value NoResponse is never chosen implicitly)
	Linger  time.Duration
}

// NewKafka connects to the brokers.
func NewKafka(c KafkaConfig) (*Kafka, error) {
	cfg := kafkaio.ProducerConfig("loadgen", c.Linger)
	cfg.Producer.RequiredAcks = c.Acks
	cfg.ChannelBufferSize = 1 << 16
	p, err := sarama.NewAsyncProducer(c.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka producer: %w", err)
	}
	k := &Kafka{producer: p, topic: c.Topic, done: make(chan struct{})}
	go k.results()
	return k, nil
}

func (k *Kafka) results() {
	defer close(k.done)
	succ, errs := k.producer.Successes(), k.producer.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			m.Metadata.(func(error))(nil)
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			e.Msg.Metadata.(func(error))(e.Err)
		}
	}
}

// Send queues r for the sink's topic.
func (k *Kafka) Send(ctx context.Context, r Record, done func(error)) error {
	return k.SendTo(ctx, k.topic, r, done)
}

// SendTo queues r for topic.
func (k *Kafka) SendTo(ctx context.Context, topic string, r Record, done func(error)) error {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.ByteEncoder(r.Value), Metadata: done}
	if r.CE != nil {
		m.Headers = []sarama.RecordHeader{
			{Key: []byte("ce_specversion"), Value: []byte("1.0")},
			{Key: []byte("ce_id"), Value: []byte(r.CE.ID)},
			{Key: []byte("ce_source"), Value: []byte(Source)},
			{Key: []byte("ce_type"), Value: []byte(r.CE.Type)},
			{Key: []byte("ce_subject"), Value: []byte(r.CE.Subject)},
			{Key: []byte("ce_partitionkey"), Value: []byte(r.Key)},
			{Key: []byte("content-type"), Value: []byte("application/json")},
		}
	}
	select {
	case k.producer.Input() <- m:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sink: kafka: %w", ctx.Err())
	}
}

// Close flushes the buffered records and waits for their outcomes.
func (k *Kafka) Close() error {
	k.producer.AsyncClose()
	<-k.done
	return nil
}
