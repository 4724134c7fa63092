// Package kafkatest connects tests to the real broker `make test-kafka` starts (KAFKA_BROKERS) and
// gives each test its own topics. Without KAFKA_BROKERS the tests skip, unless KAFKA_REQUIRED is
// set (as test-kafka sets it): then a missing broker fails them.
package kafkatest

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Brokers returns the broker list, or skips (or fails, under KAFKA_REQUIRED) the test.
func Brokers(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("KAFKA_BROKERS")
	if v == "" {
		if os.Getenv("KAFKA_REQUIRED") != "" {
			t.Fatal("KAFKA_REQUIRED is set but KAFKA_BROKERS is empty: the real-broker tests cannot run")
		}
		t.Skip("KAFKA_BROKERS not set: real-broker test (make test-kafka runs it)")
	}
	return strings.Split(v, ",")
}

var topicSeq atomic.Int64

// Topics creates fresh topics with the given partitions, named after the test, and returns their
// names in the order of suffixes.
func Topics(t testing.TB, brokers []string, partitions int32, suffixes ...string) []string {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("cluster admin: %v", err)
	}
	defer admin.Close()
	base := fmt.Sprintf("t%d-%d-%s", time.Now().UnixNano()%1e9, topicSeq.Add(1), sanitize(t.Name()))
	names := make([]string, len(suffixes))
	for i, s := range suffixes {
		names[i] = base + "-" + s
		if err := admin.CreateTopic(names[i], &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
			t.Fatalf("create topic %s: %v", names[i], err)
		}
	}
	waitForLeaders(t, brokers, names, partitions)
	return names
}

// waitForLeaders returns once every partition of topics has a leader that answers offset
// requests: a topic is usable a little after CreateTopic returns.
func waitForLeaders(t testing.TB, brokers []string, topics []string, partitions int32) {
	t.Helper()
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for _, topic := range topics {
		for p := int32(0); p < partitions; p++ {
			for {
				_ = client.RefreshMetadata(topic)
				_, err := client.GetOffset(topic, p, sarama.OffsetNewest)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("topic %s partition %d has no leader after 30 s: %v", topic, p, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 120 {
		out = out[:120]
	}
	return out
}

// Producer is a synchronous, acknowledged producer closed with the test.
func Producer(t testing.TB, brokers []string) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// ReadUntil reads every partition of topic from the beginning, calling fn for each record, until
// done returns true or timeout passes (then it fails the test).
func ReadUntil(t testing.TB, brokers []string, topic string, timeout time.Duration, fn func(*sarama.ConsumerMessage), done func() bool) {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	msgs := make(chan *sarama.ConsumerMessage, 1024)
	stop := make(chan struct{})
	var pcs []sarama.PartitionConsumer
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		pcs = append(pcs, pc)
		go func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-stop:
				}
			}
		}()
	}
	defer func() {
		close(stop)
		for _, pc := range pcs {
			pc.AsyncClose()
		}
	}()
	deadline := time.After(timeout)
	for !done() {
		select {
		case m := <-msgs:
			fn(m)
		case <-deadline:
			t.Fatalf("reading %s: timed out after %v", topic, timeout)
		}
	}
}

// Header returns the value of a record header.
func Header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// ReadAll reads a topic from the start to its end (the high-water mark of each partition now).
func ReadAll(t testing.TB, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("offset of %s/%d: %v", topic, p, err)
		}
		start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("offset of %s/%d: %v", topic, p, err)
		}
		if end <= start {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, start)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		for m := range pc.Messages() {
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		pc.AsyncClose()
	}
	return out
}
