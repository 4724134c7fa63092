// Command dlq-replay moves dead-lettered records back to the input topic once the outage or the
// bug that sent them there is fixed (observability/RUNBOOK.md, "Delivery, retries and the dead
// letter"). It reads the dead-letter topic as its own consumer group, from that group's committed
// offset up to each partition's end when it starts, and produces every record to the input topic
// with its key and its CloudEvent headers, without the dead-letter annotations. The group's offset
// is committed only after Kafka acknowledged the produce (acks=all): a crash replays a record
// twice at worst, never loses one.
//
//	dlq-replay --brokers host:9092 [--from transactions-dead-letter] [--to transactions-input]
//	           [--group fraud-detector-dlq-replay] [--max 1000] [--dry-run]
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"function/internal/kafkaio"
)

// DefaultGroup is the consumer group whose offsets record what was replayed.
const DefaultGroup = "fraud-detector-dlq-replay"

// batchSize bounds the records produced (and then committed) at a time.
const batchSize = 500

type options struct {
	brokers  []string
	from, to string
	group    string
	max      int
	dryRun   bool
	out      io.Writer
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Getenv("KAFKA_BROKERS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dlq-replay:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.out = os.Stdout
	if _, err := replay(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "dlq-replay:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, envBrokers string) (options, error) {
	fs := flag.NewFlagSet("dlq-replay", flag.ContinueOnError)
	brokers := fs.String("brokers", envBrokers, "Kafka brokers, host:port[,host:port] (default $KAFKA_BROKERS)")
	o := options{}
	fs.StringVar(&o.from, "from", kafkaio.DefaultDeadLetterTopic, "dead-letter topic to read")
	fs.StringVar(&o.to, "to", kafkaio.DefaultInputTopic, "topic to produce the records back to")
	fs.StringVar(&o.group, "group", DefaultGroup, "consumer group that records what was replayed")
	fs.IntVar(&o.max, "max", 1000, "replay at most this many records in this run")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be replayed; produce and commit nothing")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.brokers, err = kafkaio.ParseBrokers(*brokers); err != nil {
		return o, fmt.Errorf("--brokers: %w", err)
	}
	switch {
	case o.max < 1:
		return o, fmt.Errorf("--max %d: want at least 1", o.max)
	case o.from == "" || o.to == "" || o.group == "":
		return o, errors.New("--from, --to and --group must not be empty")
	case o.from == o.to:
		return o, fmt.Errorf("--from and --to are both %q", o.from)
	}
	return o, nil
}

// dropped are the headers the dead-letter path added; the rest is the original event.
var dropped = map[string]bool{
	kafkaio.HeaderErrorCode: true,
	kafkaio.HeaderErrorDest: true,
	kafkaio.HeaderErrorData: true,
}

// replay moves up to o.max records and returns how many it moved (or, dry, would move).
func replay(ctx context.Context, o options) (int, error) {
	cfg := kafkaio.ProducerConfig("dlq-replay", 5*time.Millisecond)
	cfg.Consumer.Return.Errors = true
	client, err := sarama.NewClient(o.brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer client.Close()
	partitions, err := client.Partitions(o.from)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", o.from, err)
	}
	offsets, err := sarama.NewOffsetManagerFromClient(o.group, client)
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", o.group, err)
	}
	defer offsets.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, fmt.Errorf("consumer: %w", err)
	}
	defer consumer.Close()
	var pub *kafkaio.Publisher
	if !o.dryRun {
		if pub, err = kafkaio.NewPublisher(o.brokers, o.to, kafkaio.WithClientID("dlq-replay")); err != nil {
			return 0, err
		}
		defer pub.Close()
	}
	moved := 0
	for _, p := range partitions {
		if moved >= o.max {
			break
		}
		n, err := replayPartition(ctx, o, client, offsets, consumer, pub, p, o.max-moved)
		moved += n
		if err != nil {
			return moved, fmt.Errorf("partition %d: %w", p, err)
		}
	}
	verb := "replayed"
	if o.dryRun {
		verb = "would replay"
	}
	fmt.Fprintf(o.out, "%s %d records from %s to %s (group %s)\n", verb, moved, o.from, o.to, o.group)
	return moved, nil
}

func replayPartition(ctx context.Context, o options, client sarama.Client, offsets sarama.OffsetManager,
	consumer sarama.Consumer, pub *kafkaio.Publisher, p int32, budget int) (int, error) {
	pom, err := offsets.ManagePartition(o.from, p)
	if err != nil {
		return 0, err
	}
	defer pom.AsyncClose()
	next, _ := pom.NextOffset()
	oldest, err := client.GetOffset(o.from, p, sarama.OffsetOldest)
	if err != nil {
		return 0, err
	}
	end, err := client.GetOffset(o.from, p, sarama.OffsetNewest) // the end when this run started
	if err != nil {
		return 0, err
	}
	if next < oldest { // no committed offset yet (-1), or it fell off the retention
		next = oldest
	}
	if next >= end {
		return 0, nil
	}
	pc, err := consumer.ConsumePartition(o.from, p, next)
	if err != nil {
		return 0, err
	}
	defer pc.AsyncClose()
	moved := 0
	var batch []*sarama.ProducerMessage
	var last int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := pub.PublishRecords(ctx, batch); err != nil {
			return fmt.Errorf("produce to %s (nothing committed past offset %d): %w", o.to, next, err)
		}
		pom.MarkOffset(last+1, "")
		offsets.Commit()
		select {
		case cerr := <-pom.Errors():
			return fmt.Errorf("commit offset %d of group %s (the records were produced: a rerun replays them again): %w", last+1, o.group, cerr)
		default:
		}
		moved += len(batch)
		next = last + 1
		batch = batch[:0]
		return nil
	}
	for moved+len(batch) < budget {
		var m *sarama.ConsumerMessage
		select {
		case m = <-pc.Messages():
		case cerr := <-pc.Errors():
			return moved, cerr
		case <-ctx.Done():
			return moved, ctx.Err()
		}
		if o.dryRun {
			fmt.Fprintf(o.out, "partition=%d offset=%d key=%q id=%q code=%s reason=%q\n", p, m.Offset, m.Key,
				header(m, "ce_id"), header(m, kafkaio.HeaderErrorCode), reason(m))
			batch = append(batch, nil)
		} else {
			batch = append(batch, record(m))
		}
		last = m.Offset
		if m.Offset >= end-1 {
			break
		}
		if len(batch) >= batchSize && !o.dryRun {
			if err := flush(); err != nil {
				return moved, err
			}
		}
	}
	if o.dryRun {
		return len(batch), nil
	}
	return moved, flush()
}

// record is m as it was before it was dead-lettered: key, value and headers, minus the
// dead-letter annotations.
func record(m *sarama.ConsumerMessage) *sarama.ProducerMessage {
	r := &sarama.ProducerMessage{Value: sarama.ByteEncoder(m.Value)}
	if m.Key != nil {
		r.Key = sarama.ByteEncoder(m.Key)
	}
	for _, h := range m.Headers {
		if h == nil || dropped[strings.ToLower(string(h.Key))] {
			continue
		}
		r.Headers = append(r.Headers, sarama.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

func header(m *sarama.ConsumerMessage, name string) string {
	for _, h := range m.Headers {
		if h != nil && strings.EqualFold(string(h.Key), name) {
			return string(h.Value)
		}
	}
	return ""
}

func reason(m *sarama.ConsumerMessage) string {
	b, err := base64.StdEncoding.DecodeString(header(m, kafkaio.HeaderErrorData))
	if err != nil {
		return header(m, kafkaio.HeaderErrorData)
	}
	return string(b)
}
