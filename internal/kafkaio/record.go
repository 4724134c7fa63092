package kafkaio

import (
	"context"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// KafkaEventType is the type KafkaSource gives a record that is not a CloudEvent (events.TypeKafka).
const KafkaEventType = "dev.knative.kafka.event"

// PartitionKey is the extension KafkaSink and the SDK's Kafka binding map to the record key
// (events.PartitionKey).
const PartitionKey = "partitionkey"

const (
	contentType   = "content-type"
	maxHeaderName = 64
)

// SourceName is what KafkaSource writes into the source attribute of the events it wraps:
// /apis/v1/namespaces/<namespace>/kafkasources/<name>#<topic>.
func SourceName(namespace, name, topic string) string {
	return "/apis/v1/namespaces/" + namespace + "/kafkasources/" + name + "#" + topic
}

// ToEvent turns a record into the CloudEvent KafkaSource would deliver for it. A record that
// already is a CloudEvent (binary ce_ headers, or structured content), as the SDK's Kafka binding
// reads it, passes through as it is; any other record, including one whose CloudEvent headers do
// not make a valid event, is wrapped as dev.knative.kafka.event with id partition:<p>/offset:<o>,
// subject partition:<p>#<o>, the record time, the key in the key and partitionkey extensions and
// each header as kafkaheader<name>.
func ToEvent(m *sarama.ConsumerMessage, source string) event.Event {
	if e, ok := fromCloudEvent(m); ok {
		return e
	}
	return wrap(m, source)
}

// bindingExtensions are what the SDK's Kafka binding adds to an event it reads: KafkaSource passes
// a CloudEvent record through without them.
var bindingExtensions = []string{"kafkaoffset", "kafkapartition", "kafkatopic"}

func fromCloudEvent(m *sarama.ConsumerMessage) (event.Event, bool) {
	if slices.Contains(m.Headers, nil) { // the SDK reads every header; a decoded record has no nil one
		c := *m
		c.Headers = slices.DeleteFunc(slices.Clone(m.Headers), func(h *sarama.RecordHeader) bool { return h == nil })
		m = &c
	}
	msg := kafkasarama.NewMessageFromConsumerMessage(m)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return event.Event{}, false
	}
	e, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return event.Event{}, false
	}
	for _, name := range bindingExtensions {
		e.SetExtension(name, nil)
	}
	if e.Validate() != nil {
		return event.Event{}, false
	}
	return *e, true
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
		e.SetExtension(PartitionKey, string(m.Key))
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

// ToRecord encodes e for topic in binary mode with the SDK's Kafka binding (attributes as ce_
// headers, datacontenttype as content-type, data as the value). The key is the partitionkey
// extension, as KafkaSink does, else the key extension, so that records of one customer stay in
// one partition.
func ToRecord(e *event.Event, topic string) (*sarama.ProducerMessage, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("kafkaio: event %q: %w", e.ID(), err)
	}
	m := &sarama.ProducerMessage{Topic: topic}
	if err := kafkasarama.WriteProducerMessage(context.Background(), binding.ToMessage(e), m); err != nil {
		return nil, fmt.Errorf("kafkaio: event %q: %w", e.ID(), err)
	}
	if m.Key == nil {
		if k, ok := e.Extensions()["key"]; ok {
			m.Key = sarama.StringEncoder(fmt.Sprint(k))
		}
	}
	return m, nil
}
