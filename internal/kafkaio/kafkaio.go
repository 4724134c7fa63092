// Package kafkaio is the function's Kafka transport: a Publisher that produces CloudEvents to a
// topic and returns only once Kafka has acknowledged them (acks=all), and a Consumer that reads
// input topics the way Knative's KafkaSource delivers them (records wrapped as
// dev.knative.kafka.event CloudEvents, one event in flight per partition, offsets committed only
// after the handler succeeded, transient failures retried with backoff, permanent ones sent to a
// dead-letter topic with the reason).
package kafkaio

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"
)

// ErrUnavailable wraps every failure to produce: Kafka did not acknowledge the records. It is
// transient: the caller answers 503 so that the delivery is retried.
var ErrUnavailable = errors.New("kafka unavailable")

// Defaults shared by the function's configuration and the load generator.
const (
	DefaultInputTopic       = "transactions-input"
	DefaultPredictionsTopic = "fraud-predictions"
	DefaultLabelsTopic      = "fraud-labels"
	DefaultDeadLetterTopic  = "transactions-dead-letter"
	DefaultConsumerGroup    = "fraud-detector"
)

// ParseBrokers splits a comma-separated broker list (the KAFKA_BROKERS format), each host:port.
func ParseBrokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if err := CheckBroker(b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("no kafka brokers given")
	}
	return out, nil
}

// CheckBroker reports whether b is a broker address, host:port.
func CheckBroker(b string) error {
	if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
		return fmt.Errorf("kafka broker %q: want host:port", b)
	}
	return nil
}

// sarama keeps go-metrics histograms of every request (latency, sizes, per broker and topic),
// updated on each produce and fetch and read by nothing here: they were about 4 % of the
// function's CPU at 125 TPS (perf, issue 11). The process-wide switch turns them into no-ops.
func init() { gometrics.UseNilMetrics = true }

// baseConfig is the sarama configuration every client here starts from. Retries are generous so
// that a broker restart of a few seconds is ridden out inside the client.
func baseConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = sarama.V3_9_0_0
	c.Metadata.Retry.Max = 20
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	c.Net.DialTimeout = 5 * time.Second
	// A fetch waits up to 100 ms for 16 KiB (sarama's defaults: 1 byte, 500 ms). With the
	// defaults, a few hundred records per second over 48 partitions come back one or two per
	// fetch, and the broker spends its CPU answering fetches. On the local cluster that was the
	// largest single cost of the pipeline, about 0.45 cores at 500 TPS. A 10 ms wait still cost
	// that: each of the dispatcher's 6 consumers then fetched 100 times a second, idle or not
	// (16 KiB takes a consumer 150 ms or more to fill even at 1,500 TPS), and the empty fetches
	// alone kept the dispatcher at 0.15 cores and the broker at 0.22 on the idle cluster
	// (2026-12-07). At 100 ms that is a tenth. The price is at most 100 ms of latency per fetch;
	// a partition's records already fetched keep flowing meanwhile (sarama fetches ahead).
	c.Consumer.Fetch.Min = 16 << 10
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	return c
}

// ProducerConfig is the configuration of an acknowledged, batching producer: acks from all
// in-sync replicas, successes and errors returned, records batched while a request is in flight
// and for at most linger.
func ProducerConfig(clientID string, linger time.Duration) *sarama.Config {
	c := baseConfig(clientID)
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 250 * time.Millisecond
	c.Producer.Flush.Frequency = linger
	c.Producer.Flush.MaxMessages = 0
	c.ChannelBufferSize = 4096
	return c
}
