package kafkaio

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Handler handles one event, as a CloudEvents function does (function.Handle). The consumer
// commits the record once the handler returned without error, so a handler that publishes a
// result must do so before it returns (the function's predictions are acknowledged by Kafka
// before Handle returns); a reply event it returns is not delivered anywhere.
type Handler func(ctx context.Context, e event.Event) (*event.Event, error)

// Classifier maps a handler error to the HTTP status the function would answer with, so that the
// consumer retries and dead-letters exactly as KafkaSource would over HTTP.
type Classifier func(error) int

// Retryable reports whether KafkaSource retries a delivery answered with status: 5xx, 404, 408,
// 409 and 429. Other 4xx go to the dead-letter sink.
func Retryable(status int) bool {
	switch {
	case status >= 500, status == 404, status == 408, status == 409, status == 429:
		return true
	}
	return false
}

// Dead-letter headers, named as KafkaSource names the extensions of a dead-lettered event.
const (
	HeaderErrorCode = "ce_knativeerrorcode"
	HeaderErrorDest = "ce_knativeerrordest"
	HeaderErrorData = "ce_knativeerrordata" // base64 of the reason, as Knative encodes the response body
)

// ConsumerConfig configures a Consumer. Brokers, Topics and Group are required.
type ConsumerConfig struct {
	Brokers []string
	Topics  []string
	Group   string
	// DeadLetterTopic receives records the handler rejects permanently; empty drops them after
	// logging, as KafkaSource does without a dead-letter sink.
	DeadLetterTopic string
	// Namespace and SourceName form the source attribute of wrapped records.
	Namespace, SourceName string
	// Destination names the handler in the dead-letter reason (knativeerrordest).
	Destination string
	// Delivery is the retry policy of one event; the zero value means DefaultDelivery, the
	// shipped KafkaSource's, so both transports dead-letter exactly the same events.
	Delivery Delivery
	// Backoff is the first delay of the consumer's own retries (rejoining the group, producing
	// to the dead-letter topic), doubled each time up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Latest starts a new group at the end of the topics instead of the beginning.
	Latest bool
	Logger *slog.Logger
}

// Default retry delays (KafkaSource's default backoffDelay is PT0.3S, exponential).
const (
	DefaultBackoff    = 300 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

func (c *ConsumerConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("kafkaio: consumer needs brokers")
	case len(c.Topics) == 0:
		return errors.New("kafkaio: consumer needs topics")
	case c.Group == "":
		return errors.New("kafkaio: consumer needs a group")
	}
	if c.Delivery == (Delivery{}) {
		c.Delivery = DefaultDelivery
	}
	switch d := c.Delivery; {
	case d.Retries < 1:
		return errors.New("kafkaio: delivery needs at least one retry: every transient failure would be dead-lettered")
	case d.Delay <= 0 || d.Timeout <= 0:
		return errors.New("kafkaio: delivery delay and timeout must be positive")
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.Backoff)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.SourceName == "" {
		c.SourceName = c.Group
	}
	if c.Destination == "" {
		c.Destination = c.Group
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Consumer delivers the records of its topics to a Handler with KafkaSource's semantics: one
// event in flight per partition (so per-partition order holds), the offset marked only after the
// handler succeeded or the record was dead-lettered.
type Consumer struct {
	cfg      ConsumerConfig
	handle   Handler
	classify Classifier
	group    sarama.ConsumerGroup
	dead     *Publisher
	closed   sync.Once
}

// NewConsumer joins cfg.Group. Run starts consuming.
func NewConsumer(cfg ConsumerConfig, h Handler, classify Classifier) (*Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sc := baseConfig(cfg.Group)
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if cfg.Latest {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	sc.Consumer.Offsets.AutoCommit.Enable = true // commits only what was marked
	sc.Consumer.Offsets.AutoCommit.Interval = 500 * time.Millisecond
	sc.Consumer.Group.Session.Timeout = 6 * time.Second // the broker's minimum: a killed member is noticed fast
	sc.Consumer.Group.Heartbeat.Interval = 2 * time.Second
	sc.Consumer.Return.Errors = true
	sc.Consumer.Fetch.Default = 1 << 20
	// sarama pauses a partition whose records wait longer than this to be taken; an event may
	// legitimately take long (retries, a slow produce), and a paused partition only adds latency.
	sc.Consumer.MaxProcessingTime = 10 * time.Second
	group, err := sarama.NewConsumerGroup(cfg.Brokers, cfg.Group, sc)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: join group %s: %w", cfg.Group, err)
	}
	c := &Consumer{cfg: cfg, handle: h, classify: classify, group: group}
	if cfg.DeadLetterTopic != "" {
		c.dead, err = NewPublisher(cfg.Brokers, cfg.DeadLetterTopic, WithClientID(cfg.Group+"-dead-letter"))
		if err != nil {
			_ = group.Close()
			return nil, err
		}
	}
	return c, nil
}

// Run consumes until ctx is cancelled, then leaves the group (committing what was marked) and
// closes. It rides out broker outages: sarama reconnects and the group rejoins.
func (c *Consumer) Run(ctx context.Context) error {
	defer func() {
		if err := c.Close(); err != nil {
			c.cfg.Logger.Warn("kafka consumer close", "err", err)
		}
	}()
	go func() {
		for err := range c.group.Errors() {
			c.cfg.Logger.Warn("kafka consumer", "err", err)
		}
	}()
	for ctx.Err() == nil {
		if err := c.group.Consume(ctx, c.cfg.Topics, c); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return nil
			}
			c.cfg.Logger.Warn("kafka consume session ended", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.Backoff):
			}
		}
	}
	return nil
}

// Close leaves the group, committing the marked offsets; Run calls it on its way out.
func (c *Consumer) Close() error {
	var err error
	c.closed.Do(func() {
		if err = c.group.Close(); err != nil {
			err = fmt.Errorf("kafkaio: leave group %s: %w", c.cfg.Group, err)
		}
		if c.dead != nil {
			err = errors.Join(err, c.dead.Close())
		}
	})
	return err
}

// Setup implements sarama.ConsumerGroupHandler: the group has (re)assigned this member's partitions.
func (c *Consumer) Setup(sess sarama.ConsumerGroupSession) error {
	n := 0
	for _, ps := range sess.Claims() {
		n += len(ps)
	}
	c.cfg.Logger.Info("kafka partitions assigned", "group", c.cfg.Group, "partitions", n, "generation", sess.GenerationID())
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (c *Consumer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim implements sarama.ConsumerGroupHandler: one partition, one record at a time.
func (c *Consumer) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	source := SourceName(c.cfg.Namespace, c.cfg.SourceName, claim.Topic())
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !c.deliver(ctx, m, source) {
				return nil // the session ends (rebalance or shutdown): the record stays unmarked
			}
			sess.MarkMessage(m, "")
		case <-ctx.Done():
			return nil
		}
	}
}

// deliver hands one record to the handler until it succeeds or is dead-lettered (refused for
// good, or still failing after cfg.Delivery's retries); false means ctx ended first.
func (c *Consumer) deliver(ctx context.Context, m *sarama.ConsumerMessage, source string) bool {
	e := ToEvent(m, source)
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, e)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false // shutting down: the record stays unmarked and is redelivered
		}
		status := c.status(err)
		if !Retryable(status) || attempt >= c.cfg.Delivery.Retries {
			return c.deadLetter(ctx, m, e, status, err)
		}
		wait := c.cfg.Delivery.Backoff(attempt)
		c.cfg.Logger.Debug("kafka delivery failed, retrying", "id", e.ID(), "status", status, "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// status is the HTTP status KafkaSource would have seen for err: Kafka unavailable and an attempt
// that outlived Delivery.Timeout are transient (503, 504) whatever the classifier says.
func (c *Consumer) status(err error) int {
	switch {
	case errors.Is(err, ErrUnavailable):
		return 503
	case errors.Is(err, context.DeadlineExceeded):
		return 504
	}
	return c.classify(err)
}

func (c *Consumer) attempt(ctx context.Context, e event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Delivery.Timeout)
	defer cancel()
	_, err := c.handle(ctx, e)
	return err
}

// deadLetter produces the original record, with the reason added as headers, to the dead-letter
// topic; it retries that until Kafka acknowledges it, so a rejected record is never silently lost
// while a dead-letter topic is configured.
func (c *Consumer) deadLetter(ctx context.Context, m *sarama.ConsumerMessage, e event.Event, status int, cause error) bool {
	if c.dead == nil {
		c.cfg.Logger.Warn("kafka record rejected, no dead-letter topic: dropped", "id", e.ID(), "status", status, "err", cause)
		return true
	}
	delay := c.cfg.Backoff
	for {
		rec, err := ToRecord(&e, c.dead.Topic())
		if err != nil { // cannot happen for events ToEvent made; keep the raw record then
			rec = &sarama.ProducerMessage{Value: sarama.ByteEncoder(m.Value)}
		}
		if m.Key != nil {
			rec.Key = sarama.ByteEncoder(m.Key)
		}
		reason := cause.Error()
		rec.Headers = append(rec.Headers,
			sarama.RecordHeader{Key: []byte(HeaderErrorCode), Value: []byte(strconv.Itoa(status))},
			sarama.RecordHeader{Key: []byte(HeaderErrorDest), Value: []byte(c.cfg.Destination)},
			sarama.RecordHeader{Key: []byte(HeaderErrorData), Value: []byte(base64.StdEncoding.EncodeToString([]byte(reason)))},
		)
		err = c.dead.PublishRecords(ctx, []*sarama.ProducerMessage{rec})
		if err == nil {
			c.cfg.Logger.Info("kafka record dead-lettered", "id", e.ID(), "status", status, "reason", reason)
			return true
		}
		c.cfg.Logger.Warn("kafka dead-letter produce failed, retrying", "id", e.ID(), "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(delay*2, c.cfg.MaxBackoff)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
