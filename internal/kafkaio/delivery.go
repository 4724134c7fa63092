package kafkaio

import "time"

// Delivery is a KafkaSource's spec.delivery retry policy, applied the same way by the in-process
// Consumer (FUNC_TRANSPORT=kafka) and by eventing/dispatcher: an event that fails with a
// retryable status (Retryable: 5xx, 404, 408, 409, 429, or a timeout) is retried Retries times,
// waiting Backoff(n) before retry n; then it goes to the dead-letter topic. An event refused for
// good (any other 4xx) goes there at once. Each attempt may take at most Timeout.
type Delivery struct {
	Retries     int           // retries after the first attempt
	Exponential bool          // Delay·2^(n+1), else linear Delay·(n+1)
	Delay       time.Duration // backoffDelay
	Timeout     time.Duration // one attempt
}

// DefaultDelivery is eventing/kafkasource.yaml's delivery (a test in eventing/dispatcher holds
// the two equal): linear from 2 s, 12 retries, a 156 s window that covers the outages the runbook
// names (observability/RUNBOOK.md, "Delivery, retries and the dead letter").
var DefaultDelivery = Delivery{Retries: 12, Delay: 2 * time.Second, Timeout: 30 * time.Second}

// Backoff is the wait before retry n (from 0), as Knative computes it: Delay·2^(n+1) for
// exponential (the first retry waits 2·Delay), Delay·(n+1) for linear.
func (d Delivery) Backoff(n int) time.Duration {
	if d.Exponential {
		return d.Delay << min(n+1, 30)
	}
	return d.Delay * time.Duration(n+1)
}

// Window is the least time between an event's first failure and its dead letter: the sum of the
// waits (each attempt may add up to Timeout). An outage shorter than this dead-letters nothing.
func (d Delivery) Window() time.Duration {
	var w time.Duration
	for n := 0; n < d.Retries; n++ {
		w += d.Backoff(n)
	}
	return w
}
