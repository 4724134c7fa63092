package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"function/internal/features"
)

// scrapeTimeout bounds the INFO a scrape of the state metrics costs.
const scrapeTimeout = time.Second

// RegisterMetrics registers the Redis state metrics on reg, read from INFO at each scrape:
// fraud_state_capacity_ratio (used_memory / maxmemory; 0 without a maxmemory),
// fraud_state_bytes (used_memory) and fraud_state_evictions_total{reason} (evicted_keys as
// capacity, expired_keys as expired). They describe the whole Redis, so every replica reports the
// same values: aggregate them with max, not sum. A scrape while Redis is away has none of them.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(&collector{s: s}); err != nil {
		return fmt.Errorf("redisstore: register state metrics: %w", err)
	}
	return nil
}

const metricBytes = "fraud_state_bytes"

var (
	descRatio     = prometheus.NewDesc(features.MetricCapacityRatio, features.HelpCapacityRatio, nil, nil)
	descBytes     = prometheus.NewDesc(metricBytes, "Memory the Redis feature store uses (INFO used_memory).", nil, nil)
	descEvictions = prometheus.NewDesc(features.MetricEvictions, features.HelpEvictions, []string{"reason"}, nil)
)

type collector struct{ s *Store }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRatio
	ch <- descBytes
	ch <- descEvictions
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.s.Stats(context.Background())
	if err != nil {
		return
	}
	ratio := 0.0
	if st.MaxMemory > 0 {
		ratio = float64(st.UsedMemory) / float64(st.MaxMemory)
	}
	ch <- prometheus.MustNewConstMetric(descRatio, prometheus.GaugeValue, ratio)
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.UsedMemory))
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(st.EvictedKeys), features.EvictCapacity)
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(st.ExpiredKeys), features.EvictExpired)
}

// Stats are the INFO fields the state metrics show.
type Stats struct {
	UsedMemory, MaxMemory    int64
	EvictedKeys, ExpiredKeys int64
	MaxMemoryPolicy          string
}

// Stats reads INFO memory and stats.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	info, err := s.client.Info(ctx, "memory", "stats").Result()
	if err != nil {
		return Stats{}, fmt.Errorf("redisstore: info: %w", err)
	}
	return parseInfo(info), nil
}

// parseInfo reads the fields of Stats from an INFO reply; absent or malformed fields stay zero.
func parseInfo(info string) Stats {
	var st Stats
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "used_memory":
			st.UsedMemory = n
		case "maxmemory":
			st.MaxMemory = n
		case "evicted_keys":
			st.EvictedKeys = n
		case "expired_keys":
			st.ExpiredKeys = n
		case "maxmemory_policy":
			st.MaxMemoryPolicy = v
		}
	}
	return st
}
