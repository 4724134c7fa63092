package kafkaio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Producer produces records asynchronously and tells each record's outcome: done runs exactly
// once per record, with nil once Kafka acknowledged it (acks as configured) or with the error it
// gave up on. It is the one acknowledgement tracker of the project: the Publisher waits on it for
// the function's predictions, and the load generator's Kafka sink counts its records with it.
// It is safe for concurrent use.
type Producer struct {
	producer sarama.AsyncProducer
	retryFor time.Duration
	mu       sync.RWMutex // held shared while sending, exclusively by Close
	closed   bool
	pending  sync.WaitGroup // records without an outcome yet
	done     chan struct{}  // results goroutine finished
}

// attempt is a record's outcome callback and the time of its first attempt.
type attempt struct {
	done  func(error)
	first time.Time
}

// resendBackoff spaces a Producer's own resends of a record.
const resendBackoff = 250 * time.Millisecond

// NewProducer connects to brokers with cfg (ProducerConfig, adjusted). A record that failed is
// sent again, every 250 ms, until retryFor has passed since its first attempt (0: sarama's own
// retries only): sarama's idempotent path gives up at once when a partition has no leader, as
// during a broker restart.
func NewProducer(brokers []string, cfg *sarama.Config, retryFor time.Duration) (*Producer, error) {
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	prod, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: producer: %w", ErrUnavailable, err)
	}
	p := &Producer{producer: prod, retryFor: retryFor, done: make(chan struct{})}
	go p.results()
	return p, nil
}

func (p *Producer) results() {
	defer close(p.done)
	succ, errs := p.producer.Successes(), p.producer.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			m.Metadata.(*attempt).done(nil)
			p.pending.Done()
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			a := e.Msg.Metadata.(*attempt)
			if time.Since(a.first) < p.retryFor {
				m := &sarama.ProducerMessage{Topic: e.Msg.Topic, Key: e.Msg.Key, Value: e.Msg.Value, Headers: e.Msg.Headers, Metadata: a}
				// Close waits for this record's outcome (pending), so the input is still open.
				time.AfterFunc(resendBackoff, func() { p.producer.Input() <- m })
				continue
			}
			a.done(e.Err)
			p.pending.Done()
		}
	}
}

// Send queues m (its Topic set); done runs once with its outcome. An error means m was not queued
// and done will not run: the producer is closed (ErrUnavailable) or ctx ended first.
func (p *Producer) Send(ctx context.Context, m *sarama.ProducerMessage, done func(error)) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("%w: producer is closed", ErrUnavailable)
	}
	m.Metadata = &attempt{done: done, first: time.Now()}
	p.pending.Add(1)
	select {
	case p.producer.Input() <- m:
		return nil
	case <-ctx.Done():
		p.pending.Done()
		return fmt.Errorf("%w: produce to %s: %w", ErrUnavailable, m.Topic, ctx.Err())
	}
}

// Close refuses new records, waits for the outcome of every record sent (resends included),
// then closes the connections.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.pending.Wait()
	p.producer.AsyncClose()
	<-p.done
	return nil
}
