package events

import (
	"fmt"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"function/internal/scoring"
)

// idSpace is the UUID namespace of prediction ids (a fixed random UUID).
var idSpace = uuid.MustParse("6f1c2b0e-5d0a-4c47-9a53-3f8e2b7d41a6")

// PredictionID derives the id of the prediction for the input event (source, id): the same input
// always gives the same id, so a redelivered event yields a prediction consumers can de-duplicate.
// CloudEvents ids are unique per source, hence both go in.
func PredictionID(source, id string) string {
	key := make([]byte, 0, len(source)+1+len(id))
	key = append(key, source...)
	key = append(key, 0)
	key = append(key, id...)
	return uuid.NewSHA1(idSpace, key).String()
}

// PredictSource is the source used to derive prediction ids for plain /predict requests, which
// have no input event: there the transaction id plays the event id.
const PredictSource = "/predict"

// NewPrediction builds the fraud.prediction.v1 event answering the input event (source, id).
// Its partitionkey is the customer id, so the predictions topic is keyed like the input topic.
func NewPrediction(source, id string, p *scoring.Prediction) (event.Event, error) {
	e := event.New()
	e.SetID(PredictionID(source, id))
	e.SetType(TypePrediction)
	e.SetSource(Source)
	e.SetSubject(p.TransactionID)
	e.SetTime(p.ScoredAt)
	e.SetExtension(PartitionKey, strconv.FormatInt(p.CustomerID, 10))
	if err := e.SetData(event.ApplicationJSON, p); err != nil {
		return e, fmt.Errorf("encode prediction %s: %w", p.TransactionID, err)
	}
	return e, nil
}
