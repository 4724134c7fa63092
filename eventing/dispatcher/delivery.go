package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"function/internal/kafkaio"
)

// policy is a KafkaSource's spec.delivery as the dispatcher applies it: kafkaio's Delivery, the
// one implementation of the retry arithmetic (the in-process consumer uses the same).
type policy = kafkaio.Delivery

// This dispatcher's values where delivery leaves a field out (kafkaio's default delay, and
// Knative's default request timeout).
const (
	defaultDelay   = 300 * time.Millisecond
	defaultTimeout = 30 * time.Second
)

func deliveryPolicy(d *Delivery) (policy, error) {
	p := policy{Retries: 10, Exponential: true, Delay: defaultDelay, Timeout: defaultTimeout}
	if d == nil {
		return p, nil
	}
	if d.Retry != nil {
		if *d.Retry < 0 {
			return p, fmt.Errorf("delivery.retry %d is negative", *d.Retry)
		}
		p.Retries = *d.Retry
	}
	switch d.BackoffPolicy {
	case "", "exponential":
	case "linear":
		p.Exponential = false
	default:
		return p, fmt.Errorf("delivery.backoffPolicy %q: want linear or exponential", d.BackoffPolicy)
	}
	var err error
	if d.BackoffDelay != "" {
		if p.Delay, err = parseISODuration(d.BackoffDelay); err != nil {
			return p, fmt.Errorf("delivery.backoffDelay: %w", err)
		}
	}
	if d.Timeout != "" {
		if p.Timeout, err = parseISODuration(d.Timeout); err != nil {
			return p, fmt.Errorf("delivery.timeout: %w", err)
		}
	}
	if p.Retries == 0 {
		return p, fmt.Errorf("delivery.retry 0 (no retries) is not supported: every event would be dead-lettered on its first transient failure")
	}
	if p.Delay <= 0 || p.Timeout <= 0 {
		return p, fmt.Errorf("delivery: backoffDelay and timeout must be positive")
	}
	return p, nil
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
