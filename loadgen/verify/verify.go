// Package verify reads the predictions topic back during a run and accounts for every
// transaction the run sent: predicted (distinct ids), lost, duplicated as exact repeats (same
// prediction event id: an at-least-once redelivery) or conflicting (another event id), and the
// end-to-end latency from each transaction's scheduled send time to its prediction's arrival.
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/IBM/sarama"

	"function/internal/kafkaio"
	"function/loadgen/pace"
)

// Reader consumes every partition of the predictions topic from the offsets it found at Start, so
// predictions of earlier runs are not read. Only ids with the run's prefix are counted.
type Reader struct {
	prefix   string
	client   sarama.Client
	consumer sarama.Consumer
	pcs      []sarama.PartitionConsumer
	wg       sync.WaitGroup

	mu         sync.Mutex
	expected   map[string]time.Time // acknowledged sends → scheduled time
	seen       map[string]string    // transaction id → prediction event id
	predicted  int64                // ids in both: kept as they meet, so Result is O(1)
	duplicates int64
	conflicts  int64
	hist       *hdrhistogram.Histogram
	first      time.Time // arrival of the first and the latest new prediction
	last       time.Time
}

// Start begins reading topic.
func Start(brokers []string, topic, prefix string) (*Reader, error) {
	cfg := kafkaio.ProducerConfig("loadgen-verify", 0) // client settings only; nothing is produced
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("verify: %w", err)
	}
	r := &Reader{prefix: prefix, client: client, consumer: consumer, expected: map[string]time.Time{},
		seen: map[string]string{}, hist: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)}
	parts, err := consumer.Partitions(topic)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("verify: partitions of %s: %w", topic, err)
	}
	for _, p := range parts {
		off, err := newestOffset(client, topic, p)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("verify: offset of %s/%d: %w", topic, p, err)
		}
		pc, err := consumer.ConsumePartition(topic, p, off)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("verify: consume %s/%d: %w", topic, p, err)
		}
		r.pcs = append(r.pcs, pc)
		r.wg.Add(1)
		go r.read(pc)
	}
	return r, nil
}

// newestOffset asks for a partition's end, waiting up to 30 s for a leader: a topic created a
// moment ago has none yet.
func newestOffset(client sarama.Client, topic string, p int32) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		off, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err == nil || time.Now().After(deadline) {
			return off, err
		}
		time.Sleep(100 * time.Millisecond)
		_ = client.RefreshMetadata(topic)
	}
}

func (r *Reader) read(pc sarama.PartitionConsumer) {
	defer r.wg.Done()
	for m := range pc.Messages() {
		id, eventID := predictionIDs(m)
		if !strings.HasPrefix(id, r.prefix) {
			continue
		}
		r.arrived(id, eventID, time.Now())
	}
}

// arrived accounts for one prediction of transaction id, read at now.
func (r *Reader) arrived(id, eventID string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.seen[id]; ok {
		if prev == eventID {
			r.duplicates++
		} else {
			r.conflicts++
		}
		return
	}
	r.seen[id] = eventID
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	if at, ok := r.expected[id]; ok {
		r.predicted++
		_ = r.hist.RecordValue(max(now.Sub(at).Microseconds(), 1))
	}
}

// predictionIDs returns the transaction id (the event's subject, else the data's transaction_id)
// and the prediction event's id.
func predictionIDs(m *sarama.ConsumerMessage) (txID, eventID string) {
	for _, h := range m.Headers {
		switch string(h.Key) {
		case "ce_subject":
			txID = string(h.Value)
		case "ce_id":
			eventID = string(h.Value)
		}
	}
	if txID == "" {
		var d struct {
			TransactionID string `json:"transaction_id"`
		}
		if json.Unmarshal(m.Value, &d) == nil {
			txID = d.TransactionID
		}
	}
	return txID, eventID
}

// Expect registers a transaction Kafka acknowledged, with its scheduled send time.
func (r *Reader) Expect(id string, scheduled time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, again := r.expected[id]; again {
		return
	}
	r.expected[id] = scheduled
	if _, ok := r.seen[id]; ok { // its prediction overtook the acknowledgement
		r.predicted++
		_ = r.hist.RecordValue(max(time.Since(scheduled).Microseconds(), 1))
	}
}

// Wait returns once every expected transaction has a prediction, ctx ends, or idle passes without
// a new prediction.
func (r *Reader) Wait(ctx context.Context, idle time.Duration) {
	last, lastAt := -1, time.Now()
	for {
		r.mu.Lock()
		missing := int64(len(r.expected)) - r.predicted
		n := len(r.seen)
		r.mu.Unlock()
		if missing == 0 {
			return
		}
		if n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > idle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Result accounts for the run so far.
func (r *Reader) Result() pace.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := pace.Delivery{Sent: int64(len(r.expected)), Duplicates: r.duplicates, Conflicts: r.conflicts, Latency: pace.LatencyOf(r.hist)}
	if el := r.last.Sub(r.first).Seconds(); el > 0 {
		d.ThroughputTPS = float64(len(r.seen)-1) / el
	}
	// Counted as they meet, not by walking the ids: the progress line asks every second, and a
	// walk over a million ids under the lock cost the attack's load generator about a third of a
	// core (perf, 2026-12-07), CPU the 2-core node's pipeline then lacked.
	d.Predicted = r.predicted
	d.Lost = d.Sent - r.predicted
	return d
}

// Close stops reading.
func (r *Reader) Close() {
	for _, pc := range r.pcs {
		pc.AsyncClose() // ends its Messages channel, and so its reader
	}
	r.wg.Wait()
	_ = r.consumer.Close()
	_ = r.client.Close()
}
