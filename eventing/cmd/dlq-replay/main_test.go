package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"function/internal/events"
	"function/internal/kafkaio"
	"function/internal/kafkaio/kafkatest"
)

func TestParseFlags(t *testing.T) {
	if o, err := parseFlags(nil, "127.0.0.1:9092"); err != nil || o.from != "transactions-dead-letter" || o.to != "transactions-input" || o.max != 1000 || o.dryRun || o.group != DefaultGroup {
		t.Fatalf("defaults %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--max", "0"}, {"--from", "x", "--to", "x"}, {"--brokers", ""}, {"extra"}, {"--to", ""}} {
		if _, err := parseFlags(args, "127.0.0.1:9092"); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// deadLettered produces n records as the dead-letter path writes them: a binary CloudEvent with
// its key and the three knativeerror annotations.
func deadLettered(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, kafkaio.ProducerConfig("test", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range n {
		h := func(k, v string) sarama.RecordHeader { return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)} }
		key := fmt.Sprint(100 + i%3)
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key),
			Value: sarama.StringEncoder(fmt.Sprintf(`{"transaction_id":"t%d"}`, i)),
			Headers: []sarama.RecordHeader{h("ce_specversion", "1.0"), h("ce_id", fmt.Sprintf("partition:0/offset:%d", i)),
				h("ce_source", "/apis/v1/namespaces/ns/kafkasources/fraud-detector#transactions-input"),
				h("ce_type", events.TypeKafka), h("ce_key", key), h("content-type", "application/json"),
				h(kafkaio.HeaderErrorCode, "503"), h(kafkaio.HeaderErrorDest, "fraud-detector"),
				h(kafkaio.HeaderErrorData, base64.StdEncoding.EncodeToString([]byte("redis unavailable")))}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	var out []*sarama.ConsumerMessage
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, _ := client.Partitions(topic)
	total := int64(0)
	for _, p := range parts {
		end, _ := client.GetOffset(topic, p, sarama.OffsetNewest)
		total += end
	}
	if total == 0 {
		return nil
	}
	kafkatest.ReadUntil(t, brokers, topic, 30*time.Second, func(m *sarama.ConsumerMessage) { out = append(out, m) },
		func() bool { return int64(len(out)) >= total })
	return out
}

func TestKafkaReplay(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 3, "dlq", "in")
	dlq, in := topics[0], topics[1]
	const n = 7
	deadLettered(t, brokers, dlq, n)
	run := func(max int, dry bool, to string) (int, string, error) {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		moved, err := replay(ctx, options{brokers: brokers, from: dlq, to: to, group: dlq + "-replay", max: max, dryRun: dry, out: &out})
		return moved, out.String(), err
	}

	// A dry run lists the records and moves and commits nothing.
	moved, out, err := run(100, true, in)
	if err != nil || moved != n || strings.Count(out, "code=503") != n || !strings.Contains(out, `reason="redis unavailable"`) {
		t.Fatalf("dry run: %d, %v\n%s", moved, err, out)
	}
	if got := readAll(t, brokers, in); len(got) != 0 {
		t.Fatalf("dry run produced %d records", len(got))
	}

	// A produce that is never acknowledged (the topic does not exist) commits nothing.
	if moved, _, err := run(100, false, in+"-missing"); err == nil {
		t.Fatalf("replay to a missing topic: %d moved, no error", moved)
	}

	// Bounded by --max, then the rest; a third run finds nothing left.
	if moved, _, err := run(3, false, in); err != nil || moved != 3 {
		t.Fatalf("first run: %d, %v", moved, err)
	}
	if moved, _, err := run(100, false, in); err != nil || moved != n-3 {
		t.Fatalf("second run: %d, %v; want %d", moved, err, n-3)
	}
	if moved, _, err := run(100, false, in); err != nil || moved != 0 {
		t.Fatalf("third run: %d, %v; want 0", moved, err)
	}

	got := readAll(t, brokers, in)
	if len(got) != n {
		t.Fatalf("%d records on the input topic, want %d (each once)", len(got), n)
	}
	seen := map[string]bool{}
	for _, m := range got {
		id := header(m, "ce_id")
		if seen[id] {
			t.Errorf("%s replayed twice", id)
		}
		seen[id] = true
		if header(m, "ce_key") != string(m.Key) || len(m.Key) == 0 {
			t.Errorf("%s: key %q, ce_key %q: key not preserved", id, m.Key, header(m, "ce_key"))
		}
		for _, h := range []string{"ce_specversion", "ce_source", "ce_type", "content-type"} {
			if header(m, h) == "" {
				t.Errorf("%s: header %s lost", id, h)
			}
		}
		for h := range dropped {
			if header(m, h) != "" {
				t.Errorf("%s: dead-letter annotation %s kept", id, h)
			}
		}
		// What the function's consumer (and KafkaSource) will make of it: the original event.
		e := kafkaio.ToEvent(m, "ignored")
		if e.ID() != id || e.Type() != events.TypeKafka || len(e.Extensions()) == 0 {
			t.Errorf("replayed record decodes as %+v", e)
		}
	}
}
