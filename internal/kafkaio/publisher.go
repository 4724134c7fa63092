package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Publisher produces CloudEvents (binary mode) to one topic. Publish returns only once Kafka has
// acknowledged every record of the call (acks=all); records of concurrent calls share produce
// requests, so many small calls still travel in batches. It is safe for concurrent use.
type Publisher struct {
	topic    string
	producer *Producer
}

// batch tracks the records of one Publish call.
type batch struct {
	left atomic.Int32
	mu   sync.Mutex
	err  error
	done chan struct{}
}

func (b *batch) finish(err error) {
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	if b.left.Add(-1) == 0 {
		close(b.done)
	}
}

// PublisherOption configures a Publisher.
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	clientID string
	linger   time.Duration
}

// WithClientID names the client in the broker's logs and quotas.
func WithClientID(id string) PublisherOption { return func(o *publisherOptions) { o.clientID = id } }

// WithLinger lets records wait up to d for others to fill a batch (default 0: batches form only
// while a request is in flight, the lowest latency).
func WithLinger(d time.Duration) PublisherOption { return func(o *publisherOptions) { o.linger = d } }

// NewPublisher connects to brokers and produces to topic.
func NewPublisher(brokers []string, topic string, opts ...PublisherOption) (*Publisher, error) {
	o := publisherOptions{clientID: "fraud-detector"}
	for _, opt := range opts {
		opt(&o)
	}
	if topic == "" {
		return nil, errors.New("kafkaio: publisher needs a topic")
	}
	prod, err := NewProducer(brokers, ProducerConfig(o.clientID, o.linger), 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", topic, err)
	}
	return &Publisher{topic: topic, producer: prod}, nil
}

// Topic is the topic the publisher writes to.
func (p *Publisher) Topic() string { return p.topic }

// Publish produces events to the publisher's topic and waits for Kafka's acknowledgement of all
// of them. Every error wraps ErrUnavailable, except an event that cannot be encoded.
func (p *Publisher) Publish(ctx context.Context, events []event.Event) error {
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i := range events {
		m, err := ToRecord(&events[i], p.topic)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	return p.PublishRecords(ctx, msgs)
}

// PublishRecords produces ready-made records (their Topic is overwritten) and waits for the
// acknowledgement of all of them.
func (p *Publisher) PublishRecords(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	b := &batch{done: make(chan struct{})}
	b.left.Store(int32(len(msgs)))
	if err := p.send(ctx, b, msgs); err != nil {
		return err
	}
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Errorf("%w: produce to %s: %w", ErrUnavailable, p.topic, b.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: produce to %s: %w", ErrUnavailable, p.topic, ctx.Err())
	}
}

func (p *Publisher) send(ctx context.Context, b *batch, msgs []*sarama.ProducerMessage) error {
	for _, m := range msgs {
		m.Topic = p.topic
		if err := p.producer.Send(ctx, m, b.finish); err != nil {
			return fmt.Errorf("%s: %w", p.topic, err) // the call fails without waiting for the rest
		}
	}
	return nil
}

// Close flushes what is buffered, waits for the outcomes and closes the connections.
func (p *Publisher) Close() error { return p.producer.Close() }
