package kafkaio

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

func hdr(k, v string) *sarama.RecordHeader {
	return &sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}
}

func TestToEvent(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const src = "/apis/v1/namespaces/ns/kafkasources/fd#transactions-input"
	tests := map[string]struct {
		msg  sarama.ConsumerMessage
		want map[string]string // attribute or extension → value; "data" is the payload
	}{
		"plain record is wrapped as KafkaSource does": {
			msg: sarama.ConsumerMessage{Partition: 3, Offset: 42, Key: []byte("17"), Value: []byte(`{"a":1}`), Timestamp: ts,
				Headers: []*sarama.RecordHeader{hdr("Trace-ID", "x1"), hdr("content-type", "Application/JSON")}},
			want: map[string]string{"id": "partition:3/offset:42", "type": KafkaEventType, "source": src,
				"subject": "partition:3#42", "time": "2026-11-26T10:00:00Z", "key": "17", "partitionkey": "17",
				"kafkaheadertraceid": "x1", "datacontenttype": "application/json", "data": `{"a":1}`},
		},
		"a content type that is no media type stays a header": {
			msg:  sarama.ConsumerMessage{Partition: 0, Offset: 8, Value: []byte(`{}`), Headers: []*sarama.RecordHeader{hdr("Content-Type", `"`)}},
			want: map[string]string{"id": "partition:0/offset:8", "datacontenttype": "", "kafkaheadercontenttype": `"`, "data": "{}"},
		},
		"record without key has no key extensions": {
			msg:  sarama.ConsumerMessage{Partition: 0, Offset: 7, Value: []byte(`x`)},
			want: map[string]string{"id": "partition:0/offset:7", "key": "", "partitionkey": "", "data": "x"},
		},
		"binary CloudEvent passes through": {
			msg: sarama.ConsumerMessage{Partition: 1, Offset: 2, Key: []byte("5"), Value: []byte(`{"b":2}`), Headers: []*sarama.RecordHeader{
				hdr("ce_specversion", "1.0"), hdr("ce_id", "tx-1"), hdr("ce_source", "/loadgen"), hdr("ce_type", "fraud.transaction.v1"),
				hdr("ce_partitionkey", "5"), hdr("content-type", "application/json")}},
			want: map[string]string{"id": "tx-1", "type": "fraud.transaction.v1", "source": "/loadgen", "partitionkey": "5",
				"key": "", "datacontenttype": "application/json", "data": `{"b":2}`},
		},
		"structured CloudEvent passes through": {
			msg: sarama.ConsumerMessage{Partition: 1, Offset: 3, Value: []byte(`{"specversion":"1.0","id":"s-1","source":"/x","type":"fraud.label.v1","data":{"c":3}}`),
				Headers: []*sarama.RecordHeader{hdr("content-type", "application/cloudevents+json; charset=utf-8")}},
			want: map[string]string{"id": "s-1", "type": "fraud.label.v1", "source": "/x", "data": `{"c":3}`},
		},
		"broken binary CloudEvent is wrapped": {
			msg: sarama.ConsumerMessage{Partition: 2, Offset: 9, Value: []byte(`v`), Headers: []*sarama.RecordHeader{
				hdr("ce_specversion", "1.0"), hdr("ce_id", "only-an-id")}},
			want: map[string]string{"id": "partition:2/offset:9", "type": KafkaEventType, "kafkaheadercespecversion": "1.0", "data": "v"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := ToEvent(&tc.msg, src)
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
			for k, want := range tc.want {
				if got := attr(&e, k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func attr(e *event.Event, k string) string {
	switch k {
	case "id":
		return e.ID()
	case "type":
		return e.Type()
	case "source":
		return e.Source()
	case "subject":
		return e.Subject()
	case "time":
		if e.Time().IsZero() {
			return ""
		}
		return e.Time().Format(time.RFC3339)
	case "datacontenttype":
		return e.DataContentType()
	case "data":
		return string(e.Data())
	}
	if v, ok := e.Extensions()[k]; ok {
		return v.(string)
	}
	return ""
}

func TestToRecordRoundTrip(t *testing.T) {
	e := event.New()
	e.SetID("p-1")
	e.SetType("fraud.prediction.v1")
	e.SetSource("/fraud-detector")
	e.SetSubject("tx-9")
	e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	e.SetExtension("partitionkey", "42")
	if err := e.SetData("application/json", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	rec, err := ToRecord(&e, "out")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rec.Key.Encode()
	if rec.Topic != "out" || string(key) != "42" {
		t.Fatalf("topic %q key %q, want out and 42", rec.Topic, key)
	}
	value, _ := rec.Value.Encode()
	m := &sarama.ConsumerMessage{Value: value}
	for i := range rec.Headers {
		m.Headers = append(m.Headers, &rec.Headers[i])
	}
	back := ToEvent(m, "unused")
	for _, k := range []string{"id", "type", "source", "subject", "datacontenttype", "data", "partitionkey"} {
		if got, want := attr(&back, k), attr(&e, k); got != want {
			t.Errorf("%s after round trip = %q, want %q", k, got, want)
		}
	}
	if !back.Time().Equal(e.Time()) {
		t.Errorf("time after round trip = %v, want %v", back.Time(), e.Time())
	}
	if _, err := ToRecord(&event.Event{}, "out"); err == nil {
		t.Error("ToRecord accepted an invalid event")
	}
}

func TestRetryable(t *testing.T) {
	tests := map[int]bool{200: false, 400: false, 404: true, 408: true, 409: true, 413: false, 415: false, 422: false, 429: true, 500: true, 503: true}
	for status, want := range tests {
		if got := Retryable(status); got != want {
			t.Errorf("Retryable(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestParseBrokers(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int
		ok   bool
	}{
		"two":        {"a:1, b:2 ,", 2, true},
		"empty":      {" , ", 0, false},
		"no port":    {"a", 0, false},
		"single one": {"127.0.0.1:19092", 1, true},
		"empty port": {"kafka:", 0, false},
		"ipv6":       {"[::1]:9092", 1, true},
		"ipv6 bare":  {"::1", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBrokers(tc.in)
			if (err == nil) != tc.ok || len(got) != tc.want {
				t.Fatalf("ParseBrokers(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// Whatever a record holds, ToEvent gives a valid CloudEvent (wrapping what is not one itself)
// and never panics; a wrapped event carries the record's value untouched.
func FuzzToEvent(f *testing.F) {
	f.Add([]byte("17"), []byte(`{"a":1}`), "content-type", "application/json", "ce_id", "x")
	f.Add([]byte(""), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`),
		"content-type", "application/cloudevents+json", "x", "y")
	f.Add([]byte("5"), []byte("v"), "ce_specversion", "1.0", "ce_time", "not a time")
	f.Add([]byte("5"), []byte("v"), "ce_specversion", "0.3", "ce_Bad-Name", "z")
	const src = "/apis/v1/namespaces/ns/kafkasources/fd#transactions-input"
	f.Fuzz(func(t *testing.T, key, value []byte, h1, v1, h2, v2 string) {
		m := &sarama.ConsumerMessage{Partition: 2, Offset: 9, Key: key, Value: value,
			Headers: []*sarama.RecordHeader{hdr(h1, v1), nil, hdr(h2, v2)}}
		e := ToEvent(m, src)
		if err := e.Validate(); err != nil {
			t.Fatalf("invalid event %v from headers %q=%q %q=%q: %v", e, h1, v1, h2, v2, err)
		}
		if e.Type() == KafkaEventType && e.ID() == "partition:2/offset:9" && string(e.Data()) != string(value) {
			t.Fatalf("wrapped data %q, want the record value %q", e.Data(), value)
		}
	})
}
