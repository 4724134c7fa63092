package main

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descBrokers       = prometheus.NewDesc("kafka_brokers", "Number of brokers in the Kafka cluster.", nil, nil)
	descPartitions    = prometheus.NewDesc("kafka_topic_partitions", "Number of partitions of a topic.", []string{"topic"}, nil)
	descCurrentOffset = prometheus.NewDesc("kafka_topic_partition_current_offset", "Newest offset (high watermark) of a partition.", []string{"topic", "partition"}, nil)
	descGroupOffset   = prometheus.NewDesc("kafka_consumergroup_current_offset", "Committed offset of a consumer group on a partition.", []string{"consumergroup", "topic", "partition"}, nil)
	descLag           = prometheus.NewDesc("kafka_consumergroup_lag", "Records of a partition the consumer group has not committed: high watermark minus committed offset.", []string{"consumergroup", "topic", "partition"}, nil)
	descLagSum        = prometheus.NewDesc("kafka_consumergroup_lag_sum", "kafka_consumergroup_lag summed over a topic's partitions.", []string{"consumergroup", "topic"}, nil)
)

// collector reads offsets from Kafka on every scrape.
type collector struct {
	cfg     config
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	client  sarama.Client
	lastErr error
}

func newCollector(cfg config, timeout time.Duration, log *slog.Logger) *collector {
	return &collector{cfg: cfg, timeout: timeout, log: log, lastErr: errors.New("not connected yet")}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBrokers, descPartitions, descCurrentOffset, descGroupOffset, descLag, descLagSum} {
		ch <- d
	}
}

func (c *collector) healthy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		if err := c.connect(); err != nil {
			return err
		}
	}
	return c.lastErr
}

// connect makes the client; the caller holds mu.
func (c *collector) connect() error {
	sc := sarama.NewConfig()
	sc.ClientID = "kafka-exporter"
	sc.Net.DialTimeout = c.timeout
	sc.Net.ReadTimeout = c.timeout
	sc.Metadata.Timeout = c.timeout
	cl, err := sarama.NewClient(c.cfg.servers, sc)
	if err != nil {
		c.lastErr = err
		return err
	}
	c.client = cl
	c.lastErr = nil
	return nil
}

func (c *collector) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		_ = c.client.Close()
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		if err := c.connect(); err != nil {
			c.log.Warn("kafka unreachable", "error", err)
			return
		}
	}
	c.lastErr = c.collect(ch)
	if c.lastErr != nil {
		c.log.Warn("kafka scrape incomplete", "error", c.lastErr)
	}
}

// collect reads the cluster's high watermarks and the filtered groups' commits; the caller holds mu.
func (c *collector) collect(ch chan<- prometheus.Metric) error {
	cl := c.client
	if err := cl.RefreshMetadata(); err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(descBrokers, prometheus.GaugeValue, float64(len(cl.Brokers())))
	topics, err := cl.Topics()
	if err != nil {
		return err
	}
	newest := map[string]map[int32]int64{}
	for _, t := range topics {
		if !c.cfg.topicFilter.MatchString(t) {
			continue
		}
		parts, err := cl.Partitions(t)
		if err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(parts)), t)
		newest[t] = map[int32]int64{}
		for _, p := range parts {
			off, err := cl.GetOffset(t, p, sarama.OffsetNewest)
			if err != nil {
				return err
			}
			newest[t][p] = off
			ch <- prometheus.MustNewConstMetric(descCurrentOffset, prometheus.GaugeValue, float64(off), t, strconv.Itoa(int(p)))
		}
	}
	admin, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		return err
	}
	// admin shares cl: closing it would close the client, so it is not closed.
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		return err
	}
	want := map[string][]int32{}
	for t, ps := range newest {
		for p := range ps {
			want[t] = append(want[t], p)
		}
	}
	for g := range groups {
		if !c.cfg.groupFilter.MatchString(g) {
			continue
		}
		resp, err := admin.ListConsumerGroupOffsets(g, want)
		if err != nil {
			return err
		}
		for t, blocks := range resp.Blocks {
			var sum int64
			seen := false
			for p, b := range blocks {
				if b == nil || b.Offset < 0 { // no commit for this partition
					continue
				}
				hw, ok := newest[t][p]
				if !ok {
					continue
				}
				part := strconv.Itoa(int(p))
				lag := max(hw-b.Offset, 0)
				sum += lag
				seen = true
				ch <- prometheus.MustNewConstMetric(descGroupOffset, prometheus.GaugeValue, float64(b.Offset), g, t, part)
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), g, t, part)
			}
			if seen {
				ch <- prometheus.MustNewConstMetric(descLagSum, prometheus.GaugeValue, float64(sum), g, t)
			}
		}
	}
	return nil
}
