// Package sink delivers the load generator's records: to Kafka (IBM/sarama, asynchronous,
// acknowledged) or over HTTP (CloudEvents in binary mode, or plain JSON to /predict).
package sink

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/fraud-detector/fraud-detector/internal/txn"
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
}

// Sink delivers records without waiting: done is called once with the outcome.
type Sink interface {
	Send(ctx context.Context, r Record, done func(error)) error
	Close() error
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

// Label encodes a fraud.label.v1 event (always a CloudEvent: its type is what tells it apart).
func Label(l txn.Label) (Record, error) {
	data, err := json.Marshal(l)
	if err != nil {
		return Record{}, err
	}
	return Record{Key: strconv.FormatInt(l.CustomerID, 10), Value: data,
		CE: &CloudEvent{ID: "label-" + l.TransactionID, Type: LabelType, Subject: l.TransactionID}}, nil
}
