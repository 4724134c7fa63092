// Package sink delivers the load generator's records: to Kafka (IBM/sarama, asynchronous,
// acknowledged) or over HTTP (CloudEvents in binary mode, or plain JSON to /predict).
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/events"
	"function/internal/scoring"
	"function/internal/txn"
)

// Event types the load generator produces (names from the design).
const (
	TransactionType = "fraud.transaction.v1"
	LabelType       = "fraud.label.v1"
	Source          = "/loadgen"
)

// Record is one message: a plain JSON value (what KafkaSource wraps), or, when CE is set, a binary
// mode CloudEvent whose data is the value.
type Record struct {
	Key   string
	Value []byte
	CE    *CloudEvent
}

// CloudEvent holds the attributes of a binary-mode event; data is JSON.
type CloudEvent struct {
	ID, Type, Subject string
	// LabelSignature is the labelsignature extension of a fraud.label.v1 (empty: none).
	LabelSignature string
}

// Sink delivers records without waiting: done is called once with the outcome.
type Sink interface {
	Send(ctx context.Context, r Record, done func(error)) error
	Close() error
}

// Event is r's CloudEvent (r.CE must be set): source /loadgen, the partitionkey extension = the
// record key (KafkaSink's key mapping), data = the value as JSON. Both sinks write it with the
// SDK's bindings (kafkaio.ToRecord, cehttp.WriteRequest), so no header is written by hand.
func (r Record) Event() event.Event {
	e := event.New()
	e.SetID(r.CE.ID)
	e.SetSource(Source)
	e.SetType(r.CE.Type)
	e.SetSubject(r.CE.Subject)
	e.SetExtension(events.PartitionKey, r.Key)
	if r.CE.LabelSignature != "" {
		e.SetExtension(scoring.LabelSignatureExtension, r.CE.LabelSignature)
	}
	e.SetDataContentType(event.ApplicationJSON)
	e.DataEncoded = r.Value
	return e
}

// Transaction encodes tx as the topic carries it: plain JSON, or a fraud.transaction.v1 event.
// The key is the customer id, so one customer's records stay in order in one partition.
func Transaction(tx *txn.Transaction, cloudEvent bool, buf []byte) Record {
	r := Record{Key: strconv.FormatInt(tx.CustomerID, 10), Value: txn.AppendJSON(buf, tx)}
	if cloudEvent {
		r.CE = &CloudEvent{ID: tx.ID, Type: TransactionType, Subject: tx.ID}
	}
	return r
}

// Label encodes a fraud.label.v1 event (always a CloudEvent: its type is what tells it apart),
// signed with key as the function's LABEL_HMAC_KEY expects (the trusted labelling path).
func Label(l txn.Label, key []byte) (Record, error) {
	if len(key) == 0 {
		return Record{}, errors.New("sink: a label needs the labelling key (LABEL_HMAC_KEY): the function refuses unsigned labels")
	}
	data, err := json.Marshal(l)
	if err != nil {
		return Record{}, err
	}
	return Record{Key: strconv.FormatInt(l.CustomerID, 10), Value: data,
		CE: &CloudEvent{ID: "label-" + l.TransactionID, Type: LabelType, Subject: l.TransactionID,
			LabelSignature: scoring.SignLabel(key, &l)}}, nil
}
