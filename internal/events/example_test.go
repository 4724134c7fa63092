package events_test

import (
	"fmt"
	"net/http"

	"function/internal/events"
	"function/internal/kafkaio"
	"function/internal/txn"
)

// The Kafka consumer decides between retrying and dead-lettering with the status Classify gives
// (kafkaio.Retryable: KafkaSource's rule).
func ExampleClassify() {
	for _, err := range []error{
		&txn.FieldError{Field: "tx_amount", Reason: "must be positive"},
		fmt.Errorf("%w: broker unreachable", events.ErrPublish),
	} {
		status, reason := events.Classify(err)
		fmt.Println(status, reason, kafkaio.Retryable(status))
	}
	// Output:
	// 400 invalid_input false
	// 503 publish_failed true
}

// A KafkaSource delivery of a plain record: binary mode, no content type, data = record value.
func ExampleReadHTTP() {
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", "partition:0/offset:7")
	h.Set("Ce-Source", "/apis/v1/namespaces/fraud/kafkasources/transactions#transactions-input")
	h.Set("Ce-Type", events.TypeKafka)
	body := []byte(`{"transaction_id":"7","tx_datetime":"2018-04-01 00:00:31","customer_id":596,"terminal_id":3156,"tx_amount":57.16}`)
	evs, _, err := events.ReadHTTP(h, body, 1)
	if err != nil {
		panic(err)
	}
	in, err := events.Decode(&evs[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(in.Tx.ID, in.Tx.CustomerID, in.Tx.Amount)
	// Output: 7 596 57.16
}
