package kafkaio

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

func TestDeliveryWindow(t *testing.T) {
	cases := map[string]struct {
		d      Delivery
		first  time.Duration
		window time.Duration
	}{
		"shipped: linear 2 s x 12":          {DefaultDelivery, 2 * time.Second, 156 * time.Second},
		"old: exponential 0.2 s x 5":        {Delivery{Retries: 5, Exponential: true, Delay: 200 * time.Millisecond, Timeout: time.Second}, 400 * time.Millisecond, 12400 * time.Millisecond},
		"linear 1 s x 3":                    {Delivery{Retries: 3, Delay: time.Second, Timeout: time.Second}, time.Second, 6 * time.Second},
		"exponential capped shift, no wrap": {Delivery{Retries: 40, Exponential: true, Delay: time.Nanosecond, Timeout: time.Second}, 2, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.d.Backoff(0); got != tc.first {
				t.Errorf("first backoff %v, want %v", got, tc.first)
			}
			if w := tc.d.Window(); tc.window != 0 && w != tc.window || w <= 0 {
				t.Errorf("window %v, want %v", w, tc.window)
			}
		})
	}
}

// deadLetters counts the records a Consumer without a dead-letter topic drops (it logs each).
type deadLetters struct{ n int }

func (d *deadLetters) Enabled(context.Context, slog.Level) bool { return true }
func (d *deadLetters) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "kafka record rejected, no dead-letter topic: dropped" {
		d.n++
	}
	return nil
}
func (d *deadLetters) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d *deadLetters) WithGroup(string) slog.Handler      { return d }

// TestDeliverySemantics: the in-process consumer retries what KafkaSource retries, within the
// same bounded window, and dead-letters at once what can never succeed. (It used to retry every
// transient failure forever, while KafkaSource dead-lettered after 12.4 s.)
func TestDeliverySemantics(t *testing.T) {
	permanent := errors.New("bad input")
	timeoutErr := errors.New("hangs")
	classify := func(err error) int {
		if errors.Is(err, permanent) {
			return 400
		}
		return 503
	}
	policy := Delivery{Retries: 4, Delay: time.Millisecond, Timeout: 50 * time.Millisecond}
	cases := map[string]struct {
		fail         func(attempt int) error
		attempts     int
		deadLettered bool
	}{
		"success":                             {func(int) error { return nil }, 1, false},
		"400 goes to the dead letter at once": {func(int) error { return permanent }, 1, true},
		"503 recovers within the window":      {func(n int) error { return map[bool]error{true: errors.New("redis down")}[n < 3] }, 4, false},
		"503 past the window: dead letter":    {func(int) error { return errors.New("redis down") }, 5, true},
		"kafka unavailable is retried":        {func(n int) error { return map[bool]error{true: ErrUnavailable}[n < 2] }, 3, false},
		"a timed-out attempt is retried":      {func(n int) error { return map[bool]error{true: timeoutErr}[n < 1] }, 2, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dl := &deadLetters{}
			attempts := 0
			h := func(ctx context.Context, _ event.Event) (*event.Event, error) {
				err := tc.fail(attempts)
				attempts++
				if errors.Is(err, timeoutErr) {
					<-ctx.Done() // a hung handler: the attempt's timeout ends it
					return nil, ctx.Err()
				}
				return nil, err
			}
			cfg := ConsumerConfig{Brokers: []string{"x:1"}, Topics: []string{"in"}, Group: "g", Delivery: policy, Logger: slog.New(dl)}
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			c := &Consumer{cfg: cfg, handle: h, classify: classify}
			done := make(chan bool, 1)
			go func() {
				done <- c.deliver(context.Background(), &sarama.ConsumerMessage{Topic: "in", Value: []byte("{}")}, "src")
			}()
			select {
			case ok := <-done:
				if !ok {
					t.Fatal("deliver gave up without a dead letter")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("deliver still retrying after 5 s: unbounded")
			}
			if attempts != tc.attempts || (dl.n == 1) != tc.deadLettered {
				t.Fatalf("%d attempts, %d dead letters; want %d attempts, dead-lettered %v", attempts, dl.n, tc.attempts, tc.deadLettered)
			}
		})
	}
}

func TestConsumerConfigDelivery(t *testing.T) {
	cfg := ConsumerConfig{Brokers: []string{"x:1"}, Topics: []string{"in"}, Group: "g"}
	if err := cfg.validate(); err != nil || cfg.Delivery != DefaultDelivery {
		t.Fatalf("zero Delivery became %+v, %v; want DefaultDelivery", cfg.Delivery, err)
	}
	for _, d := range []Delivery{{Retries: 0, Delay: time.Second, Timeout: time.Second}, {Retries: 1, Timeout: time.Second}, {Retries: 1, Delay: time.Second}} {
		cfg := ConsumerConfig{Brokers: []string{"x:1"}, Topics: []string{"in"}, Group: "g", Delivery: d}
		if err := cfg.validate(); err == nil {
			t.Errorf("Delivery %+v accepted", d)
		}
	}
}
