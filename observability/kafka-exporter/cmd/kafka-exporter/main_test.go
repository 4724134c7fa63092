package main

import (
	"io"
	"testing"
)

func TestFlags(t *testing.T) {
	// The manifest's own arguments.
	c, err := parseFlags([]string{"--kafka.server=my-cluster-kafka-bootstrap.kafka.svc:9092", "--group.filter=^fraud-detector$",
		"--topic.filter=^(transactions-input|fraud-predictions)$"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.servers) != 1 || !c.groupFilter.MatchString("fraud-detector") || c.groupFilter.MatchString("fraud-detector-x") ||
		!c.topicFilter.MatchString("transactions-input") || c.topicFilter.MatchString("fraud-labels") || c.listen != ":9308" {
		t.Fatalf("%+v", c)
	}
	for name, args := range map[string][]string{
		"no server":    {},
		"unknown flag": {"--kafka.server=a:1", "--sasl.enabled"},
		"bad regex":    {"--kafka.server=a:1", "--group.filter=("},
		"extra arg":    {"--kafka.server=a:1", "x"},
		"bad path":     {"--kafka.server=a:1", "--web.telemetry-path=metrics"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
