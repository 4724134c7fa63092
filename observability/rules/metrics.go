package rules

// The metric names the rules and the dashboard may refer to: one list, checked against the real
// function by the Prometheus server test (FunctionMetrics) and against every rule and panel query.
// Histograms are listed by the series Prometheus stores (_bucket, _sum, _count).

// FunctionMetrics are exported by the fraud-detector function (names fixed in the design).
var FunctionMetrics = []string{
	"ml_model_predictions_total",
	"ml_model_prediction_duration_seconds_bucket",
	"ml_model_prediction_duration_seconds_sum",
	"ml_model_prediction_duration_seconds_count",
	"ml_model_errors_total",
	"http_requests_total",
	"http_request_duration_seconds_bucket",
	"http_request_duration_seconds_sum",
	"http_request_duration_seconds_count",
	"ml_model_fraud_probability_bucket",
	"ml_model_fraud_probability_sum",
	"ml_model_fraud_probability_count",
	"ml_model_info",
	"fraud_state_capacity_ratio",
	"fraud_state_evictions_total",
	"process_cpu_seconds_total",
	"go_goroutines",
}

// DriftMetrics are exported by the function once its drift window has filled a segment
// (internal/drift): a test that scores a handful of transactions does not see them.
var DriftMetrics = []string{
	"ml_model_feature_psi",
	"ml_model_score_psi",
}

// LoadgenMetrics are exported by the load generator (names agreed with loadgen/).
var LoadgenMetrics = []string{
	"loadgen_sent_total",
	"loadgen_errors_total",
	"loadgen_target_tps",
	"loadgen_achieved_tps",
	"loadgen_phase",
}

// ClusterMetrics come from kube-state-metrics, cAdvisor (kubelet) and kafka-exporter, under
// kube-prometheus-stack's default jobs.
var ClusterMetrics = []string{
	"container_cpu_usage_seconds_total",
	"container_memory_working_set_bytes",
	"kube_pod_container_resource_requests",
	"kube_pod_status_phase",
	"kube_horizontalpodautoscaler_status_current_replicas",
	"kube_horizontalpodautoscaler_status_desired_replicas",
	"kube_horizontalpodautoscaler_spec_max_replicas",
	"kube_horizontalpodautoscaler_spec_min_replicas",
	"kafka_consumergroup_lag",
}

// Known reports which metric names a query may use: the lists above plus the given recording rules.
func Known(records []string) map[string]bool {
	known := map[string]bool{}
	for _, list := range [][]string{FunctionMetrics, DriftMetrics, LoadgenMetrics, ClusterMetrics, records} {
		for _, n := range list {
			known[n] = true
		}
	}
	return known
}

// LazyMetrics are listed above but have no series until their first event (loadgen creates
// loadgen_errors_total{phase} on the first failed send), so a panel on them may show no data.
var LazyMetrics = []string{
	"loadgen_errors_total",
}
