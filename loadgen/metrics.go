package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the load generator's own, named as agreed with the dashboard.
type metrics struct {
	sent, errors     *prometheus.CounterVec
	target, achieved prometheus.Gauge
	phase            prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadgen_sent_total",
			Help: "Transactions handed to the sink, by phase (from 1)."}, []string{"phase"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loadgen_errors_total",
			Help: "Transactions the sink failed to deliver, by phase (from 1)."}, []string{"phase"}),
		target:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadgen_target_tps", Help: "The current phase's rate."}),
		achieved: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadgen_achieved_tps", Help: "Transactions sent per second over the last second."}),
		phase:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadgen_phase", Help: "Index of the current phase, from 1; 0 before and after the run."}),
	}
	reg.MustRegister(m.sent, m.errors, m.target, m.achieved, m.phase,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func phaseLabel(i int) string { return strconv.Itoa(i + 1) }
