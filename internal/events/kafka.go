package events

import (
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// KafkaSourcePath is the source KafkaSource gives the events it makes of plain records, before the
// "#<topic>" suffix: /apis/v1/namespaces/<namespace>/kafkasources/<name>.
func KafkaSourcePath(namespace, name string) string {
	return "/apis/v1/namespaces/" + namespace + "/kafkasources/" + name
}

// NewKafkaEvent wraps a plain Kafka record the way KafkaSource does, so that an in-process
// consumer hands the function the same event (and so derives the same prediction ids): type
// dev.knative.kafka.event, source <sourcePath>#<topic>, id partition:<p>/offset:<o>, subject
// partition:<p>#<o>, time = record timestamp, key and partitionkey = record key (when present),
// data = the value as is, no datacontenttype.
func NewKafkaEvent(sourcePath, topic string, partition int32, offset int64, key, value []byte, ts time.Time) event.Event {
	p := strconv.FormatInt(int64(partition), 10)
	o := strconv.FormatInt(offset, 10)
	e := event.New()
	e.SetType(TypeKafka)
	e.SetSource(sourcePath + "#" + topic)
	e.SetID("partition:" + p + "/offset:" + o)
	e.SetSubject("partition:" + p + "#" + o)
	if !ts.IsZero() {
		e.SetTime(ts.UTC())
	}
	if len(key) > 0 {
		e.SetExtension("key", string(key))
		e.SetExtension(PartitionKey, string(key))
	}
	e.DataEncoded = value
	return e
}
