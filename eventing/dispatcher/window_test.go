package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"function/internal/kafkaio"
)

// runbookOutages reads the table of named outages between the outages markers of the runbook.
func runbookOutages(t *testing.T) map[string]time.Duration {
	t.Helper()
	b, err := readFile("../../observability/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(b, "<!-- outages:")
	table, _, ok2 := strings.Cut(rest, "<!-- /outages -->")
	if !ok || !ok2 {
		t.Fatal("no outages table in the runbook")
	}
	row := regexp.MustCompile(`(?m)^\| ([^|]+?) \| (\d+) s \|`)
	out := map[string]time.Duration{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = time.Duration(n) * time.Second
	}
	for _, name := range []string{"Redis restart", "Broker failover", "Function rollout"} {
		if out[name] <= 0 {
			t.Fatalf("the runbook's outages table names no %q (rows %v)", name, out)
		}
	}
	return out
}

// TestRetryWindowCoversNamedOutages: the shipped KafkaSource retries a failing event for longer
// than each outage the runbook names, so none of them dead-letters a valid transaction. (The old
// delivery, 5 exponential retries from 0.2 s, gave up after 12.4 s.)
func TestRetryWindowCoversNamedOutages(t *testing.T) {
	var s KafkaSource
	if err := readObject("../kafkasource.yaml", "KafkaSource", &s); err != nil {
		t.Fatal(err)
	}
	p, err := deliveryPolicy(s.Spec.Delivery)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Window()
	for name, d := range runbookOutages(t) {
		if w < d {
			t.Errorf("retry window %v (retry %d, %s from %v) is shorter than %s (%v): its valid transactions would be dead-lettered",
				w, p.Retries, map[bool]string{true: "exponential", false: "linear"}[p.Exponential], p.Delay, name, d)
		}
	}
	if !strings.Contains(readOrFail(t, "../../observability/RUNBOOK.md"), "**"+strconv.Itoa(int(w.Seconds()))+" s**") {
		t.Errorf("the runbook does not state the window, %v", w)
	}
	t.Logf("retry window %v", w)
}

// TestInProcessConsumerHasTheSourcesPolicy: FUNC_TRANSPORT=kafka retries and dead-letters exactly
// as the shipped KafkaSource does.
func TestInProcessConsumerHasTheSourcesPolicy(t *testing.T) {
	var s KafkaSource
	if err := readObject("../kafkasource.yaml", "KafkaSource", &s); err != nil {
		t.Fatal(err)
	}
	p, err := deliveryPolicy(s.Spec.Delivery)
	if err != nil {
		t.Fatal(err)
	}
	if p != kafkaio.DefaultDelivery {
		t.Fatalf("kafkasource.yaml delivers with %+v, the in-process consumer with %+v", p, kafkaio.DefaultDelivery)
	}
}

func readOrFail(t *testing.T, path string) string {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
