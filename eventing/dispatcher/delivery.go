package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// policy is a KafkaSource's spec.delivery as the dispatcher applies it.
type policy struct {
	retries     int           // retries after the first attempt; then the dead letter
	exponential bool          // delay·2^n, else delay·(n+1)
	delay       time.Duration // backoffDelay
	timeout     time.Duration // one attempt
}

// This dispatcher's values where delivery leaves a field out (kafkaio's default delay, and
// Knative's default request timeout).
const (
	defaultDelay   = 300 * time.Millisecond
	defaultTimeout = 30 * time.Second
)

func deliveryPolicy(d *Delivery) (policy, error) {
	p := policy{retries: 10, exponential: true, delay: defaultDelay, timeout: defaultTimeout}
	if d == nil {
		return p, nil
	}
	if d.Retry != nil {
		if *d.Retry < 0 {
			return p, fmt.Errorf("delivery.retry %d is negative", *d.Retry)
		}
		p.retries = *d.Retry
	}
	switch d.BackoffPolicy {
	case "", "exponential":
	case "linear":
		p.exponential = false
	default:
		return p, fmt.Errorf("delivery.backoffPolicy %q: want linear or exponential", d.BackoffPolicy)
	}
	var err error
	if d.BackoffDelay != "" {
		if p.delay, err = parseISODuration(d.BackoffDelay); err != nil {
			return p, fmt.Errorf("delivery.backoffDelay: %w", err)
		}
	}
	if d.Timeout != "" {
		if p.timeout, err = parseISODuration(d.Timeout); err != nil {
			return p, fmt.Errorf("delivery.timeout: %w", err)
		}
	}
	if p.retries == 0 {
		return p, fmt.Errorf("delivery.retry 0 (no retries) is not supported: every event would be dead-lettered on its first transient failure")
	}
	if p.delay <= 0 || p.timeout <= 0 {
		return p, fmt.Errorf("delivery: backoffDelay and timeout must be positive")
	}
	return p, nil
}

// window is the longest a failing event is retried before the dead letter: the sum of the
// delays (each attempt may also take up to timeout).
func (p policy) window() time.Duration {
	var w time.Duration
	for n := 0; n < p.retries; n++ {
		w += p.backoff(n)
	}
	return w
}

// backoff is the delay before retry n (from 0): Knative's delay·2^(n+1) for exponential (the
// first retry waits 2·delay), delay·(n+1) for linear.
func (p policy) backoff(n int) time.Duration {
	if p.exponential {
		return p.delay << min(n+1, 30)
	}
	return p.delay * time.Duration(n+1)
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseISODuration reads the ISO 8601 durations Knative's delivery fields use (PT0.2S, PT30S, P1DT2H).
func parseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as PT0.5S", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		d += time.Duration(n) * unit
	}
	if m[4] != "" {
		f, err := strconv.ParseFloat(m[4], 64)
		if err != nil || f > 1e6 {
			return 0, fmt.Errorf("%q: seconds out of range", s)
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}
