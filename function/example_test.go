package function_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"function/function"
	"function/internal/events"
	"function/internal/scoring"
)

// The instanced Knative Function: Start loads the built-in model, Handle scores an event as
// KafkaSource delivers it and replies with a fraud.prediction.v1 event.
func ExampleFunction_Handle() {
	f := function.New(function.WithLogger(slog.New(slog.DiscardHandler)))
	// A replay of the simulator's 2018 data: event time is the stream's own (EVENT_CLOCK=stream).
	if err := f.Start(context.Background(), map[string]string{"EVENT_CLOCK": "stream"}); err != nil {
		panic(err)
	}
	defer f.Stop(context.Background())

	in := event.New()
	in.SetID("partition:3/offset:42")
	in.SetSource("/apis/v1/namespaces/fraud/kafkasources/transactions#transactions-input")
	in.SetType(events.TypeKafka)
	in.DataEncoded = []byte(`{"transaction_id":"42","tx_datetime":"2018-04-01 00:00:31","customer_id":596,"terminal_id":3156,"tx_amount":57.16}`)

	out, err := f.Handle(context.Background(), in)
	if err != nil {
		panic(err)
	}
	var p scoring.Prediction
	if err := out.DataAs(&p); err != nil {
		panic(err)
	}
	fmt.Println(out.Type(), out.Subject(), out.ID() == events.PredictionID(in.Source(), in.ID()))
	fmt.Println(p.CustomerID, p.TxAmount, p.ModelName)
	// Output:
	// fraud.prediction.v1 42 true
	// 596 57.16 fraud-detector
}
