// Package events is the one implementation of the function's CloudEvents: decoding the inputs
// (KafkaSource's dev.knative.kafka.event, fraud.transaction.v1, fraud.label.v1) from HTTP in
// binary, structured and batch mode, building fraud.prediction.v1 replies with ids derived from
// the input's, and classifying errors into a status and a bounded reason. The HTTP handler and the
// Kafka transport both use it, so they treat every input the same way.
package events

import (
	"fmt"
	"mime"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"function/internal/kafkaio"
	"function/internal/txn"
)

// Event types.
const (
	// TypeKafka is how KafkaSource wraps a plain Kafka record; its data is the record value.
	TypeKafka       = kafkaio.KafkaEventType
	TypeTransaction = "fraud.transaction.v1"
	TypeLabel       = "fraud.label.v1"
	TypePrediction  = "fraud.prediction.v1"
)

// Source is the source attribute of every event the function emits.
const Source = "/fraud-detector"

// PartitionKey is the extension that KafkaSink and the SDK's Kafka binding use as the record key.
const PartitionKey = kafkaio.PartitionKey

// Kind says what an input event carries.
type Kind int

// Kinds of input.
const (
	KindTransaction Kind = iota + 1
	KindLabel
)

// Input is a decoded input event.
type Input struct {
	Kind  Kind
	Tx    txn.Transaction // KindTransaction
	Label txn.Label       // KindLabel
}

// Decode reads the transaction or label an event carries. Errors wrap ErrUnknownType,
// ErrUnsupportedMedia or txn.ErrInvalid (a *txn.FieldError when one field is wrong).
func Decode(e *event.Event) (Input, error) {
	switch e.Type() {
	case TypeKafka, TypeTransaction:
		if err := checkJSON(e.DataContentType()); err != nil {
			return Input{}, err
		}
		tx, err := txn.DecodeJSON(e.Data())
		if err != nil {
			return Input{}, err
		}
		return Input{Kind: KindTransaction, Tx: tx}, nil
	case TypeLabel:
		if err := checkJSON(e.DataContentType()); err != nil {
			return Input{}, err
		}
		l, err := txn.DecodeLabelJSON(e.Data())
		if err != nil {
			return Input{}, err
		}
		return Input{Kind: KindLabel, Label: l}, nil
	}
	return Input{}, fmt.Errorf("%w %q: want %s, %s or %s", ErrUnknownType, truncate(e.Type(), 64), TypeKafka, TypeTransaction, TypeLabel)
}

// checkJSON accepts data that is JSON or says nothing of its type (KafkaSource leaves
// datacontenttype out unless the record had a content-type header).
func checkJSON(contentType string) error {
	if contentType == "" || isJSON(contentType) {
		return nil
	}
	return fmt.Errorf("%w: data content type %q, want application/json", ErrUnsupportedMedia, truncate(contentType, 64))
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// truncate keeps error messages short when an attacker sends a long value.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
