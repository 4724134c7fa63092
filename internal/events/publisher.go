package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Publisher sends prediction events to the predictions topic. Publish returns once every event is
// acknowledged (the HTTP reply waits for it, so a 2xx means the predictions are durable) and must
// be safe for concurrent use; Close flushes and releases it.
type Publisher interface {
	Publish(ctx context.Context, evs []event.Event) error
	Close() error
}

// Nop is the Publisher used when no Kafka brokers are configured: it drops everything.
type Nop struct{}

// Publish implements Publisher.
func (Nop) Publish(context.Context, []event.Event) error { return nil }

// Close implements Publisher.
func (Nop) Close() error { return nil }
