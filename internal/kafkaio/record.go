package kafkaio

import (
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

// KafkaEventType is the type KafkaSource gives a record that is not a CloudEvent.
const KafkaEventType = "dev.knative.kafka.event"

const (
	cePrefix      = "ce_"
	contentType   = "content-type"
	structuredCE  = "application/cloudevents+json"
	maxHeaderName = 64
)

// SourceName is what KafkaSource writes into the source attribute of the events it wraps:
// /apis/v1/namespaces/<namespace>/kafkasources/<name>#<topic>.
func SourceName(namespace, name, topic string) string {
	return "/apis/v1/namespaces/" + namespace + "/kafkasources/" + name + "#" + topic
}

// ToEvent turns a record into the CloudEvent KafkaSource would deliver for it. A record that
// already is a CloudEvent (binary ce_ headers, or structured content) passes through; any other
// record, including one whose CloudEvent headers do not make a valid event, is wrapped as
// dev.knative.kafka.event with id partition:<p>/offset:<o>, subject partition:<p>#<o>, the record
// time, the key in the key and partitionkey extensions and each header as kafkaheader<name>.
func ToEvent(m *sarama.ConsumerMessage, source string) event.Event {
	if e, ok := fromBinary(m); ok {
		return e
	}
	if e, ok := fromStructured(m); ok {
		return e
	}
	return wrap(m, source)
}

func header(m *sarama.ConsumerMessage, name string) (string, bool) {
	for _, h := range m.Headers {
		if h != nil && strings.EqualFold(string(h.Key), name) {
			return string(h.Value), true
		}
	}
	return "", false
}

func fromBinary(m *sarama.ConsumerMessage) (event.Event, bool) {
	if _, ok := header(m, cePrefix+"specversion"); !ok {
		return event.Event{}, false
	}
	e := event.New()
	for _, h := range m.Headers {
		if h == nil {
			continue
		}
		k := strings.ToLower(string(h.Key))
		v := string(h.Value)
		if k == contentType {
			e.SetDataContentType(v)
			continue
		}
		name, ok := strings.CutPrefix(k, cePrefix)
		if !ok {
			continue
		}
		switch name {
		case "specversion":
			if v != event.CloudEventsVersionV1 {
				return event.Event{}, false
			}
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return event.Event{}, false
			}
			e.SetTime(t)
		default:
			if !validExtension(name) {
				return event.Event{}, false
			}
			e.SetExtension(name, v)
		}
	}
	e.DataEncoded = m.Value
	return e, e.Validate() == nil
}

func fromStructured(m *sarama.ConsumerMessage) (event.Event, bool) {
	ct, ok := header(m, contentType)
	if !ok || !strings.HasPrefix(strings.ToLower(ct), structuredCE) {
		return event.Event{}, false
	}
	var e event.Event
	if err := json.Unmarshal(m.Value, &e); err != nil || e.Validate() != nil {
		return event.Event{}, false
	}
	return e, true
}

func wrap(m *sarama.ConsumerMessage, source string) event.Event {
	e := event.New()
	p, o := strconv.FormatInt(int64(m.Partition), 10), strconv.FormatInt(m.Offset, 10)
	e.SetID("partition:" + p + "/offset:" + o)
	e.SetType(KafkaEventType)
	e.SetSource(source)
	e.SetSubject("partition:" + p + "#" + o)
	if !m.Timestamp.IsZero() {
		e.SetTime(m.Timestamp.UTC())
	}
	if len(m.Key) > 0 {
		e.SetExtension("key", string(m.Key))
		e.SetExtension("partitionkey", string(m.Key))
	}
	for _, h := range m.Headers {
		if h == nil {
			continue
		}
		// A content type that is not a media type would make the event invalid: it is kept as
		// a plain header extension instead, and the data is decoded as if none were given.
		if strings.EqualFold(string(h.Key), contentType) {
			if _, _, err := mime.ParseMediaType(string(h.Value)); err == nil {
				e.SetDataContentType(strings.ToLower(string(h.Value)))
				continue
			}
		}
		if name := "kafkaheader" + alnum(string(h.Key)); validExtension(name) {
			e.SetExtension(name, string(h.Value))
		}
	}
	e.DataEncoded = m.Value
	return e
}

// alnum lower-cases s and keeps [a-z0-9], as KafkaSource does for header extension names.
func alnum(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func validExtension(name string) bool {
	if name == "" || len(name) > maxHeaderName {
		return false
	}
	return alnum(name) == name
}

// ToRecord encodes e in binary mode (attributes as ce_ headers, datacontenttype as content-type,
// data as the value) for topic. The key is the partitionkey extension, else the key extension, as
// KafkaSink does, so that records of one customer stay in one partition.
func ToRecord(e *event.Event, topic string) (*sarama.ProducerMessage, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("kafkaio: event %q: %w", e.ID(), err)
	}
	hs := make([]sarama.RecordHeader, 0, 8)
	add := func(k, v string) { hs = append(hs, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}) }
	add(cePrefix+"specversion", e.SpecVersion())
	add(cePrefix+"id", e.ID())
	add(cePrefix+"source", e.Source())
	add(cePrefix+"type", e.Type())
	if s := e.Subject(); s != "" {
		add(cePrefix+"subject", s)
	}
	if !e.Time().IsZero() {
		add(cePrefix+"time", e.Time().UTC().Format(time.RFC3339Nano))
	}
	if s := e.DataSchema(); s != "" {
		add(cePrefix+"dataschema", s)
	}
	if ct := e.DataContentType(); ct != "" {
		add(contentType, ct)
	}
	var key sarama.Encoder
	for name, v := range e.Extensions() {
		s := fmt.Sprint(v)
		if t, ok := v.(time.Time); ok {
			s = t.UTC().Format(time.RFC3339Nano)
		}
		add(cePrefix+name, s)
	}
	if k, ok := e.Extensions()["partitionkey"]; ok {
		key = sarama.StringEncoder(fmt.Sprint(k))
	} else if k, ok := e.Extensions()["key"]; ok {
		key = sarama.StringEncoder(fmt.Sprint(k))
	}
	return &sarama.ProducerMessage{Topic: topic, Key: key, Value: sarama.ByteEncoder(e.Data()), Headers: hs}, nil
}
