package validate

import "math"

// The sizing arithmetic of config/SIZING.md as code, so that the manifests and the document
// cannot drift apart: a test recomputes the utilizations and compares with the manifests.
const (
	// AttackTPS is the attack's top phase; MediumTPS the phase before it.
	AttackTPS = 1500
	MediumTPS = 500

	// FunctionCPUMicrosAtMedium and FunctionCPUMicrosAtAttack: the function container's CPU per
	// transaction, measured on the local cluster (config/local, make test-cluster). The figures
	// are cAdvisor's CPU of the function's containers divided by the predictions per second, at a
	// steady 500 and 1,500 TPS, with the Redis feature store and the acks=all produce to
	// fraud-predictions. The cost falls with the rate, because the produce batches. The bench
	// figure without Redis and broker was 107-117 us (config/SIZING.md); the produce and its
	// wake-ups are most of the difference.
	FunctionCPUMicrosAtMedium = 535
	FunctionCPUMicrosAtAttack = 363
	// KnativeFunctionCPUMicrosAt* and QueueProxyCPUMicrosAt*: the function container and
	// Knative's queue-proxy sidecar in the Knative variant, measured on the local cluster (make
	// test-knative: Knative Serving v0.42.2, net-gateway-api + Traefik in front): cAdvisor's CPU
	// of each container divided by the predictions per second, over each phase once its rates
	// had settled (the recorder's phase table). Through Knative the 2-core machine delivered at
	// most about 450 TPS (saturated, and shared with other builds): the "500 TPS" figures are at
	// 451 delivered TPS, the "1,500 TPS" ones at 403. The bench of queue-proxy in front of the
	// function alone gave 197 us; the function alone in the plain variant 535 / 363 us.
	KnativeFunctionCPUMicrosAtMedium = 777
	KnativeFunctionCPUMicrosAtAttack = 809
	QueueProxyCPUMicrosAtMedium      = 678
	QueueProxyCPUMicrosAtAttack      = 662
	// QueueProxyCPURequestMilli is queue-proxy's CPU request, set on the Knative Service's
	// template (queue.sidecar.serving.knative.dev/cpu-resource-request): Knative's default
	// (config-deployment, 25m) would put 500 TPS on 6 pods.
	QueueProxyCPURequestMilli = 200
	// UserCPURequestMilli is the function container's CPU request in both variants.
	UserCPURequestMilli = 95

	// TargetUtilization is the HPA target (80 %).
	TargetUtilization = 0.8

	// EventLatencyMillis is the per-event time of ordered delivery in the cluster (dispatcher ->
	// ingress -> queue-proxy -> function -> acks=all produce), a p99-ish allowance.
	EventLatencyMillis = 20
	// PartitionMargin is the head-room over the bare partition count.
	PartitionMargin = 1.5
)

// MinPartitions is how many partitions ordered delivery (one event in flight per partition)
// needs to carry AttackTPS with PartitionMargin.
var MinPartitions = math.Ceil(AttackTPS * EventLatencyMillis / 1000.0 * PartitionMargin)

// Sizing is one variant's per-pod CPU cost at the two rates, and its request (all containers,
// as the HPA sums them).
type Sizing struct {
	CPUMicrosAtMedium float64
	CPUMicrosAtAttack float64
	CPURequestMilli   float64
}

// Variants' sizings: the Knative pod carries the queue-proxy beside the function.
var (
	KnativeSizing = Sizing{KnativeFunctionCPUMicrosAtMedium + QueueProxyCPUMicrosAtMedium,
		KnativeFunctionCPUMicrosAtAttack + QueueProxyCPUMicrosAtAttack, UserCPURequestMilli + QueueProxyCPURequestMilli}
	KubernetesSizing = Sizing{FunctionCPUMicrosAtMedium, FunctionCPUMicrosAtAttack, UserCPURequestMilli}
)

// micros is the cost per transaction at tps: the attack's figure from AttackTPS up.
func (s Sizing) micros(tps float64) float64 {
	if tps >= AttackTPS {
		return s.CPUMicrosAtAttack
	}
	return s.CPUMicrosAtMedium
}

// Utilization is the HPA's CPU utilization (usage / request) when tps spread over pods.
func (s Sizing) Utilization(tps float64, pods int) float64 {
	cores := tps * s.micros(tps) / 1e6
	return cores / (float64(pods) * s.CPURequestMilli / 1000)
}

// DesiredPods is what the HPA asks for at tps, before the 4-6 bounds:
// ceil(total usage / (request x target)).
func (s Sizing) DesiredPods(tps float64) int {
	cores := tps * s.micros(tps) / 1e6
	return int(math.Ceil(cores / (s.CPURequestMilli / 1000 * TargetUtilization)))
}
