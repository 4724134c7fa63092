package main

import (
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/kafkaio/kafkatest"
)

// TestKafkaExporterLag commits part of a topic for a group on a real broker and checks that the
// exported lag is what remains, per partition and summed, and 0 once everything is committed.
func TestKafkaExporterLag(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 2, "lag")[0]
	group := "exporter-test-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	pc := sarama.NewConfig()
	pc.Producer.Return.Successes = true
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer(brokers, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := 0; i < 10; i++ {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i % 2), Value: sarama.StringEncoder("x")}); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(offsets map[int32]int64) {
		t.Helper()
		cl, err := sarama.NewClient(brokers, sarama.NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		om, err := sarama.NewOffsetManagerFromClient(group, cl)
		if err != nil {
			t.Fatal(err)
		}
		for p, off := range offsets {
			pom, err := om.ManagePartition(topic, p)
			if err != nil {
				t.Fatal(err)
			}
			pom.MarkOffset(off, "")
			_ = pom.Close()
		}
		om.Commit()
		_ = om.Close()
	}
	cfg := config{servers: brokers, groupFilter: regexp.MustCompile("^" + group + "$"), topicFilter: regexp.MustCompile("^" + regexp.QuoteMeta(topic) + "$")}
	c := newCollector(cfg, 10*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer c.close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	// Partition 0 holds offsets 0..4, partition 1 0..4. Commit 2 of partition 0 and 5 of partition 1.
	commit(map[int32]int64{0: 2, 1: 5})
	want := strings.ReplaceAll(strings.ReplaceAll(`
# HELP kafka_consumergroup_lag Records of a partition the consumer group has not committed: high watermark minus committed offset.
# TYPE kafka_consumergroup_lag gauge
kafka_consumergroup_lag{consumergroup="{{G}}",partition="0",topic="{{T}}"} {{L0}}
kafka_consumergroup_lag{consumergroup="{{G}}",partition="1",topic="{{T}}"} {{L1}}
`, "{{G}}", group), "{{T}}", topic)
	expect := func(lag0, lag1 int) {
		t.Helper()
		exp := strings.NewReplacer("{{L0}}", strconv.Itoa(lag0), "{{L1}}", strconv.Itoa(lag1)).Replace(want)
		var err error
		for i := 0; i < 50; i++ { // a commit becomes visible to other clients within moments
			if err = testutil.GatherAndCompare(reg, strings.NewReader(exp), "kafka_consumergroup_lag"); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.healthy(); err != nil {
			t.Fatalf("unhealthy after a scrape: %v", err)
		}
	}
	expect(3, 0)
	commit(map[int32]int64{0: 5})
	expect(0, 0)
}
