package kafkaio_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/events"
	"function/internal/kafkaio"
	"function/internal/kafkaio/kafkatest"
	"function/internal/simulate"
	"function/internal/txn"
)

var errTransient = errors.New("transient failure")

// classify maps errors as the function does: bad input is a 400, the rest a 503.
func classify(err error) int {
	if errors.Is(err, txn.ErrInvalid) {
		return 400
	}
	return 503
}

// scorer is a stand-in handler shaped like function.Handle: it decodes the transaction, publishes a
// prediction-shaped event and answers it only once Kafka acknowledged it (an unacknowledged
// produce is an error, which the consumer retries). It records the offsets it sees per partition,
// to check the order of delivery.
type scorer struct {
	pub      *kafkaio.Publisher // nil: answer without publishing
	mu       sync.Mutex
	offsets  map[int][]int64
	attempts map[string]int
	flaky    func(id string) bool // first attempt of these fails transiently
}

func newScorer(pub *kafkaio.Publisher, flaky func(string) bool) *scorer {
	return &scorer{pub: pub, offsets: map[int][]int64{}, attempts: map[string]int{}, flaky: flaky}
}

func (s *scorer) handle(ctx context.Context, e event.Event) (*event.Event, error) {
	var p int
	var o int64
	if _, err := fmt.Sscanf(e.ID(), "partition:%d/offset:%d", &p, &o); err != nil {
		return nil, fmt.Errorf("%w: event id %q is not KafkaSource's", txn.ErrInvalid, e.ID())
	}
	s.mu.Lock()
	s.offsets[p] = append(s.offsets[p], o)
	s.attempts[e.ID()]++
	first := s.attempts[e.ID()] == 1
	s.mu.Unlock()
	tx, err := txn.DecodeJSON(e.Data())
	if err != nil {
		return nil, err
	}
	if first && s.flaky != nil && s.flaky(tx.ID) {
		return nil, errTransient
	}
	if e.Type() != events.TypeKafka || e.Extensions()["key"] != strconv.FormatInt(tx.CustomerID, 10) {
		return nil, fmt.Errorf("%w: event %s has type %q key %v", txn.ErrInvalid, e.ID(), e.Type(), e.Extensions()["key"])
	}
	r := event.New()
	r.SetID("pred-" + e.ID())
	r.SetType("fraud.prediction.v1")
	r.SetSource("/test")
	r.SetSubject(tx.ID)
	r.SetExtension("partitionkey", strconv.FormatInt(tx.CustomerID, 10))
	if err := r.SetData("application/json", map[string]string{"transaction_id": tx.ID}); err != nil {
		return nil, err
	}
	if s.pub != nil {
		if err := s.pub.Publish(ctx, []event.Event{r}); err != nil {
			return nil, fmt.Errorf("publish prediction: %w", err)
		}
	}
	return &r, nil
}

// produceTransactions writes n simulated transactions as plain JSON keyed by customer, with the
// given poison values after the transactions whose index is a key of poison.
func produceTransactions(t *testing.T, brokers []string, topic string, n int, poison map[int]string) []string {
	t.Helper()
	sim, err := simulate.New(simulate.DefaultConfig(7))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	var ids []string
	for i := 0; i < n; i++ {
		tx, _ := sim.Next()
		tx.ID = "k" + tx.ID
		ids = append(ids, tx.ID)
		key := sarama.StringEncoder(strconv.FormatInt(tx.CustomerID, 10))
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: key, Value: sarama.ByteEncoder(txn.AppendJSON(nil, &tx))})
		if v, ok := poison[i]; ok {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: key, Value: sarama.StringEncoder(v)})
		}
	}
	if err := kafkatest.Producer(t, brokers).SendMessages(msgs); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return ids
}

func startConsumer(t *testing.T, cfg kafkaio.ConsumerConfig, h kafkaio.Handler) (stop func()) {
	t.Helper()
	c, err := kafkaio.NewConsumer(cfg, h, classify)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("consumer did not stop within 30 s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func committed(t *testing.T, brokers []string, group, topic string) (committed, end map[int32]int64) {
	t.Helper()
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	res, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatal(err)
	}
	committed, end = map[int32]int64{}, map[int32]int64{}
	for _, p := range parts {
		if b := res.GetBlock(topic, p); b != nil {
			committed[p] = b.Offset
		}
		if end[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			t.Fatal(err)
		}
	}
	return committed, end
}

// The consumer delivers every record in partition order, retries transient failures, sends poison
// records to the dead-letter topic with their reason without blocking their partition, and
// commits exactly the offsets it finished.
func TestKafkaConsumerDeliversRetriesAndDeadLetters(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 4, "in", "out", "dlq")
	in, out, dlq := topics[0], topics[1], topics[2]
	const n = 2000
	poison := map[int]string{10: `{"transaction_id": "p1", not json`, 20: `{"transaction_id":"p2","tx_datetime":"2018-04-01 00:00:01","customer_id":1,"terminal_id":2,"tx_amount":-5}`}
	ids := produceTransactions(t, brokers, in, n, poison)

	pub, err := kafkaio.NewPublisher(brokers, out)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	s := newScorer(pub, func(id string) bool { return strings.HasSuffix(id, "7") })
	group := in + "-group"
	stop := startConsumer(t, kafkaio.ConsumerConfig{Brokers: brokers, Topics: []string{in}, Group: group,
		DeadLetterTopic: dlq, Backoff: 10 * time.Millisecond, Destination: "test-scorer",
		Delivery: kafkaio.Delivery{Retries: 5, Delay: 10 * time.Millisecond, Timeout: 10 * time.Second}}, s.handle)

	seen := map[string]int{}
	kafkatest.ReadUntil(t, brokers, out, 90*time.Second, func(m *sarama.ConsumerMessage) {
		seen[kafkatest.Header(m, "ce_subject")]++
	}, func() bool { return len(seen) >= n })
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("no prediction for %s", id)
		}
	}

	type dead struct{ code, dest, reason, value string }
	var dl []dead
	kafkatest.ReadUntil(t, brokers, dlq, 30*time.Second, func(m *sarama.ConsumerMessage) {
		reason, err := base64.StdEncoding.DecodeString(kafkatest.Header(m, kafkaio.HeaderErrorData))
		if err != nil {
			t.Errorf("dead-letter reason is not base64: %v", err)
		}
		dl = append(dl, dead{kafkatest.Header(m, kafkaio.HeaderErrorCode), kafkatest.Header(m, kafkaio.HeaderErrorDest), string(reason), string(m.Value)})
	}, func() bool { return len(dl) >= len(poison) })
	stop()
	wantReasons := map[string]string{poison[10]: "malformed JSON", poison[20]: "tx_amount"}
	for _, d := range dl {
		want, ok := wantReasons[d.value]
		if !ok {
			t.Errorf("unexpected dead letter %q", d.value)
			continue
		}
		if d.code != "400" || d.dest != "test-scorer" || !strings.Contains(d.reason, want) {
			t.Errorf("dead letter of %q: code %q dest %q reason %q, want 400, test-scorer and a reason naming %q", d.value, d.code, d.dest, d.reason, want)
		}
		delete(wantReasons, d.value)
	}

	s.mu.Lock()
	retried := 0
	for _, a := range s.attempts {
		if a > 1 {
			retried++
		}
	}
	for p, offs := range s.offsets {
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] {
				t.Errorf("partition %d: offset %d handled after %d: out of order", p, offs[i], offs[i-1])
				break
			}
		}
	}
	s.mu.Unlock()
	if retried == 0 {
		t.Error("no transient failure was retried")
	}
	t.Logf("%d predictions, %d dead letters, %d events retried", len(seen), len(dl), retried)

	got, end := committed(t, brokers, group, in)
	for p, e := range end {
		if got[p] != e {
			t.Errorf("partition %d: committed %d, want the end %d", p, got[p], e)
		}
	}
}

// While the predictions cannot be produced nothing is committed; once they can, all is.
func TestKafkaCommitsOnlyAfterPredictionsAreAcknowledged(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 2, "in")
	in, out := topics[0], topics[0]+"-out-later"
	produceTransactions(t, brokers, in, 50, nil)

	pub, err := kafkaio.NewPublisher(brokers, out) // out does not exist yet: every produce fails
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	s := newScorer(pub, nil)
	group := in + "-group"
	stop := startConsumer(t, kafkaio.ConsumerConfig{Brokers: brokers, Topics: []string{in}, Group: group,
		Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		// linear from 50 ms, 100 retries: a 252 s window, far longer than the 8 s "outage" here.
		Delivery: kafkaio.Delivery{Retries: 100, Delay: 50 * time.Millisecond, Timeout: 10 * time.Second}}, s.handle)
	defer stop()

	time.Sleep(8 * time.Second)
	got, _ := committed(t, brokers, group, in)
	for p, off := range got {
		if off > 0 {
			t.Fatalf("partition %d: offset %d committed while no prediction was acknowledged", p, off)
		}
	}
	s.mu.Lock()
	attempts := 0
	for _, a := range s.attempts {
		attempts += a
	}
	s.mu.Unlock()
	if attempts < 2 {
		t.Fatalf("%d attempts: the failed produce was not retried", attempts)
	}

	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(out, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, end := committed(t, brokers, group, in)
		all := true
		for p, e := range end {
			all = all && got[p] == e
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the topic appeared, committed %v, want the ends %v", got, end)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outageHandler fails every delivery with 503-class errors until the outage ends, then scores.
type outageHandler struct {
	mu      sync.Mutex
	until   time.Time
	failed  int
	handled map[string]int
}

func (o *outageHandler) handle(_ context.Context, e event.Event) (*event.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Now().Before(o.until) {
		o.failed++
		return nil, errTransient // classify: 503, as the function answers while Redis is down
	}
	o.handled[e.ID()]++
	return nil, nil
}

// TestKafkaOutageLongerThanTheOldWindow: the in-process consumer with the shipped policy
// (kafkaio.DefaultDelivery, the KafkaSource's) rides out a 20 s outage, longer than the old
// 12.4 s window: every record is delivered after it, nothing is dead-lettered, all is committed.
func TestKafkaOutageLongerThanTheOldWindow(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 4, "in", "dlq")
	in, dlq := topics[0], topics[1]
	const n = 200
	produceTransactions(t, brokers, in, n, nil)
	o := &outageHandler{until: time.Now().Add(20 * time.Second), handled: map[string]int{}}
	group := in + "-group"
	stop := startConsumer(t, kafkaio.ConsumerConfig{Brokers: brokers, Topics: []string{in}, Group: group,
		DeadLetterTopic: dlq}, o.handle)
	defer stop()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, end := committed(t, brokers, group, in)
		all := true
		for p, e := range end {
			all = all && got[p] == e
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %v, want the ends %v", got, end)
		}
		time.Sleep(500 * time.Millisecond)
	}
	o.mu.Lock()
	handled, failed := len(o.handled), o.failed
	o.mu.Unlock()
	if handled != n || failed == 0 {
		t.Fatalf("%d of %d records delivered, %d failed attempts", handled, n, failed)
	}
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(dlq)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if end, err := client.GetOffset(dlq, p, sarama.OffsetNewest); err != nil || end != 0 {
			t.Fatalf("dead-letter partition %d holds %d records (%v): a valid record was dead-lettered by the outage", p, end, err)
		}
	}
	t.Logf("%d records delivered after a 20 s outage (%d failed attempts), 0 dead-lettered", handled, failed)
}
