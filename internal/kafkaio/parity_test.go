package kafkaio_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"function/internal/events"
	"function/internal/kafkaio"
)

// TestToEventMatchesKafkaSourceOverHTTP: the Kafka transport hands the function, attribute for
// attribute, the event KafkaSource delivers over HTTP for the same record (so both transports
// derive the same prediction id).
func TestToEventMatchesKafkaSourceOverHTTP(t *testing.T) {
	const value = `{"transaction_id":"t-1","tx_datetime":"2018-04-01 00:00:31","customer_id":596,"terminal_id":3156,"tx_amount":57.16}`
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	m := sarama.ConsumerMessage{Topic: "transactions-input", Partition: 3, Offset: 42, Key: []byte("596"), Value: []byte(value), Timestamp: ts}
	e := kafkaio.ToEvent(&m, kafkaio.SourceName("fraud", "transactions", m.Topic))
	h := http.Header{}
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "partition:3/offset:42",
		"Ce-Source": "/apis/v1/namespaces/fraud/kafkasources/transactions#transactions-input", "Ce-Type": events.TypeKafka,
		"Ce-Subject": "partition:3#42", "Ce-Time": "2026-11-26T10:00:00Z", "Ce-Key": "596", "Ce-Partitionkey": "596"} {
		h.Set(k, v)
	}
	over, _, err := events.ReadHTTP(h, []byte(value), 1)
	if err != nil {
		t.Fatal(err)
	}
	o := over[0]
	if e.ID() != o.ID() || e.Source() != o.Source() || e.Type() != o.Type() || e.Subject() != o.Subject() ||
		!e.Time().Equal(o.Time()) || e.DataContentType() != o.DataContentType() || !bytes.Equal(e.Data(), o.Data()) {
		t.Errorf("from the record:\n%s\nover HTTP:\n%s", e.String(), o.String())
	}
	for _, ext := range []string{"key", events.PartitionKey} {
		if e.Extensions()[ext] != o.Extensions()[ext] {
			t.Errorf("extension %s: %v vs %v", ext, e.Extensions()[ext], o.Extensions()[ext])
		}
	}
	if events.PredictionID(e.Source(), e.ID()) != events.PredictionID(o.Source(), o.ID()) {
		t.Error("prediction ids differ between transports")
	}
	if _, err := events.Decode(&e); err != nil {
		t.Errorf("decode: %v", err)
	}
}
