package sink

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/fraud-detector/fraud-detector/internal/kafkaio"

	"github.com/fraud-detector/fraud-detector/internal/scoring"
)

// Kafka produces records asynchronously; each record's done runs when Kafka acknowledged it
// (acks as configured) or gave up.
type Kafka struct {
	producer sarama.AsyncProducer
	topic    string
	retryFor time.Duration
	pending  sync.WaitGroup // records without an outcome yet
	done     chan struct{}
}

// attempt is a record's outcome callback and the time of its first attempt.
type attempt struct {
	done  func(error)
	first time.Time
}

// resendBackoff spaces the load generator's own retries of a record.
const resendBackoff = 250 * time.Millisecond

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
	p, err := sarama.NewAsyncProducer(c.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka producer: %w", err)
	}
	k := &Kafka{producer: p, topic: c.Topic, retryFor: c.RetryFor, done: make(chan struct{})}
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
			m.Metadata.(*attempt).done(nil)
			k.pending.Done()
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			a := e.Msg.Metadata.(*attempt)
			if time.Since(a.first) < k.retryFor {
				m := &sarama.ProducerMessage{Topic: e.Msg.Topic, Key: e.Msg.Key, Value: e.Msg.Value, Headers: e.Msg.Headers, Metadata: a}
				time.AfterFunc(resendBackoff, func() { k.producer.Input() <- m })
				continue
			}
			a.done(e.Err)
			k.pending.Done()
		}
	}
}

// Send queues r for the sink's topic.
func (k *Kafka) Send(ctx context.Context, r Record, done func(error)) error {
	return k.SendTo(ctx, k.topic, r, done)
}

// SendTo queues r for topic.
func (k *Kafka) SendTo(ctx context.Context, topic string, r Record, done func(error)) error {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.ByteEncoder(r.Value),
		Metadata: &attempt{done: done, first: time.Now()}}
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
		if r.CE.LabelSignature != "" {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte("ce_" + scoring.LabelSignatureExtension), Value: []byte(r.CE.LabelSignature)})
		}
	}
	k.pending.Add(1)
	select {
	case k.producer.Input() <- m:
		return nil
	case <-ctx.Done():
		k.pending.Done()
		return fmt.Errorf("sink: kafka: %w", ctx.Err())
	}
}

// Close waits for the outcome of every record sent (retries included), then closes the producer.
func (k *Kafka) Close() error {
	k.pending.Wait()
	k.producer.AsyncClose()
	<-k.done
	return nil
}
