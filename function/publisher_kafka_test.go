package function

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"function/internal/kafkaio/kafkatest"
)

// With KAFKA_BROKERS set, the function builds its own Kafka publisher (no injected fake): a scored
// CloudEvent's prediction is on PREDICTIONS_TOPIC once Handle returns. This is the path the
// Knative Functions (func-go) build takes, as the main binary does. make test-function-kafka runs
// it on a real broker.
func TestKafkaPublisherFromConfig(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 1, "predictions")[0]
	cfg := testConfig()
	cfg.KafkaBrokers, cfg.PredictionsTopic = brokers, topic
	f := New(WithConfig(cfg), WithLogger(quietLogger()), WithClock(func() time.Time { return fixedNow }))
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if err := f.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	srv := newServer(t, f)
	resp, body := do(t, kafkaRequest(t, srv, 7, txBody("published-1", 596, 42)))
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var got string
	kafkatest.ReadUntil(t, brokers, topic, 30*time.Second, func(m *sarama.ConsumerMessage) {
		var p struct {
			ID string `json:"transaction_id"`
		}
		if json.Unmarshal(m.Value, &p) == nil {
			got = p.ID
		}
	}, func() bool { return got != "" })
	if got != "published-1" {
		t.Fatalf("prediction for %q on %s, want published-1", got, topic)
	}
}
