package main

import (
	"fmt"
	"math"
	"time"
)

// Result is what the report and the check read off a recording.
type Result struct {
	Variant        string             `json:"variant"`
	HPAName        string             `json:"hpa_name"`
	HPAMin         int                `json:"hpa_min"`
	HPAMax         int                `json:"hpa_max"`
	MaxReplicas    int                `json:"max_replicas"`    // the HPA's current replicas and the Running function pods
	OverMax        int                `json:"over_max"`        // observations above the HPA's maximum
	RunningBefore  int                `json:"running_before"`  // function pods Running in the first sample
	MaxBefore1500  int                `json:"max_before_1500"` // the most replicas during phases 1-3
	BothHeldAt     *time.Time         `json:"both_held_at"`    // first HPA read at max and > 80 % CPU
	AdminAt        *time.Time         `json:"admin_at"`        // first admin notification at the receiver
	AdminAfterS    int                `json:"admin_alert_after_s"`
	AdminEarly     bool               `json:"admin_early"`      // a notification came before both conditions held
	FirstFiring    map[string]float64 `json:"first_firing_t_s"` // alertname -> first sample firing
	FirstPending   map[string]float64 `json:"first_pending_t_s"`
	Delivery       Delivery           `json:"delivery"`
	DeliverySeen   bool               `json:"delivery_seen"`
	TargetsUpMax   int                `json:"targets_up_max"`
	TargetsAllUp   bool               `json:"targets_all_up"` // in the last sample
	PeakPodsCPU    float64            `json:"peak_pods_cpu_cores"`
	PeakPodsMemMiB float64            `json:"peak_pods_memory_mib"`
	PeakHostCPU    float64            `json:"peak_host_cpu_cores"`
	PeakHostMemMiB float64            `json:"peak_host_memory_mib"`
	Start          time.Time          `json:"start"`
	Phases         []PhaseStat        `json:"phases"`
}

// PhaseStat is one load phase once its 1-minute rates have caught up (its samples from a settle
// time after it began, 60 s in the report; the last one if it is shorter).
type PhaseStat struct {
	Phase             int     `json:"phase"`
	TargetTPS         float64 `json:"target_tps"`
	Samples           int     `json:"samples"`
	DeliveredTPS      float64 `json:"delivered_tps"`
	FunctionCores     float64 `json:"function_cpu_cores"`
	FunctionUsPerTx   float64 `json:"function_cpu_us_per_tx"` // what config/SIZING.md calls c
	DispatcherUsPerTx float64 `json:"dispatcher_cpu_us_per_tx"`
	QueueProxyUsPerTx float64 `json:"queue_proxy_cpu_us_per_tx"` // Knative's sidecar (0 in the plain variant)
	GatewayUsPerTx    float64 `json:"gateway_cpu_us_per_tx"`     // Traefik (0 in the plain variant)
	HPACPUPct         float64 `json:"hpa_cpu_pct"`               // mean
	RuleCPUPct        float64 `json:"rule_cpu_pct"`              // mean of the CPU recording rule
	MaxReplicas       int     `json:"max_replicas"`
}

// reportSettle is how long into each phase the report's phase table leaves samples out.
const reportSettle = 60.0

func phaseStats(samples []Sample, settle float64) []PhaseStat {
	begin := map[int]float64{}
	for _, s := range samples {
		if _, ok := begin[s.Phase]; !ok && s.Phase > 0 {
			begin[s.Phase] = s.T
		}
	}
	var out []PhaseStat
	for p := 1; p <= len(begin); p++ {
		var in []Sample
		for _, s := range samples {
			if s.Phase == p {
				in = append(in, s)
			}
		}
		if len(in) == 0 {
			continue
		}
		settled := in[len(in)-1:]
		for i, s := range in {
			if s.T >= begin[p]+settle {
				settled = in[i:]
				break
			}
		}
		st := PhaseStat{Phase: p, TargetTPS: in[0].TargetTPS, Samples: len(settled)}
		var fn, disp, qp, gw, hpa, rule float64
		var nHPA, nRule int
		for _, s := range in {
			st.MaxReplicas = max(st.MaxReplicas, s.HPA.Current)
		}
		for _, s := range settled {
			st.DeliveredTPS += val(s.DeliveredTPS)
			fn += val(s.FunctionCPUCores)
			disp += val(s.DispatcherCPUCores)
			qp += val(s.QueueProxyCPUCores)
			gw += val(s.GatewayCPUCores)
			if s.HPA.CPUPct != nil {
				hpa += *s.HPA.CPUPct
				nHPA++
			}
			if s.RuleCPUPct != nil {
				rule += *s.RuleCPUPct
				nRule++
			}
		}
		n := float64(len(settled))
		st.DeliveredTPS /= n
		st.FunctionCores = fn / n
		if st.DeliveredTPS > 0 {
			st.FunctionUsPerTx = 1e6 * fn / n / st.DeliveredTPS
			st.DispatcherUsPerTx = 1e6 * disp / n / st.DeliveredTPS
			st.QueueProxyUsPerTx = 1e6 * qp / n / st.DeliveredTPS
			st.GatewayUsPerTx = 1e6 * gw / n / st.DeliveredTPS
		}
		if nHPA > 0 {
			st.HPACPUPct = hpa / float64(nHPA)
		}
		if nRule > 0 {
			st.RuleCPUPct = rule / float64(nRule)
		}
		out = append(out, st)
	}
	return out
}

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func analyse(rec *Recording) Result {
	r := Result{Variant: rec.Variant, HPAName: rec.HPAName, AdminAfterS: -1, Start: rec.Started,
		FirstFiring: map[string]float64{}, FirstPending: map[string]float64{}}
	for _, h := range rec.HPA {
		if h.Max > 0 {
			r.HPAMin, r.HPAMax = h.Min, h.Max
		}
	}
	for _, h := range rec.HPA {
		r.MaxReplicas = max(r.MaxReplicas, h.Current)
		if r.HPAMax > 0 && h.Current > r.HPAMax {
			r.OverMax++
		}
		if r.BothHeldAt == nil && h.Hot() {
			at := h.At
			r.BothHeldAt = &at
		}
	}
	for i, s := range rec.Samples {
		running := s.Pods["Running"]
		r.MaxReplicas = max(r.MaxReplicas, running)
		if r.HPAMax > 0 && running > r.HPAMax {
			r.OverMax++
		}
		if i == 0 {
			r.RunningBefore = running
		}
		if s.Phase >= 1 && s.Phase <= 3 {
			r.MaxBefore1500 = max(r.MaxBefore1500, s.HPA.Current, running)
		}
		for name, st := range s.Alerts {
			m := r.FirstPending
			if st == "firing" {
				m = r.FirstFiring
			}
			if _, ok := m[name]; !ok {
				m[name] = s.T
			}
		}
		r.TargetsUpMax = max(r.TargetsUpMax, s.TargetsUp)
		r.PeakPodsCPU = maxp(r.PeakPodsCPU, s.PodsCPUCores)
		r.PeakPodsMemMiB = maxp(r.PeakPodsMemMiB, s.PodsMemMiB)
		r.PeakHostCPU = maxp(r.PeakHostCPU, s.HostCPUCores)
		r.PeakHostMemMiB = maxp(r.PeakHostMemMiB, s.HostMemMiB)
	}
	if n := len(rec.Samples); n > 0 {
		last := rec.Samples[n-1]
		r.TargetsAllUp = last.Targets > 0 && last.TargetsUp == last.Targets
	}
	for _, n := range rec.Notifications {
		if n.Status == "firing" && contains(n.Alerts, adminAlert) {
			at := n.ReceivedAt
			r.AdminAt = &at
			break
		}
	}
	if r.AdminAt != nil && r.BothHeldAt != nil {
		d := r.AdminAt.Sub(*r.BothHeldAt).Seconds()
		r.AdminEarly = d < 0
		r.AdminAfterS = int(math.Round(d))
	} else if r.AdminAt != nil {
		r.AdminEarly = true
	}
	if rec.Delivery != nil {
		r.Delivery, r.DeliverySeen = *rec.Delivery, true
	}
	r.Phases = phaseStats(rec.Samples, reportSettle)
	return r
}

func maxp(a float64, b *float64) float64 {
	if b != nil && *b > a {
		return *b
	}
	return a
}

// Line is the report's final line.
func (r Result) Line() string {
	delivered := 0
	if r.AdminAt != nil {
		delivered = 1
	}
	s := fmt.Sprintf("cluster-attack: variant=%s", r.Variant)
	if r.Variant == "knative" {
		s += fmt.Sprintf(" hpa=%s min=%d max=%d", r.HPAName, r.HPAMin, r.HPAMax)
	}
	return s + fmt.Sprintf(" max_replicas=%d over_max=%d admin_alert_after_s=%d delivered=%d sent=%d predicted=%d lost=%d duplicates=%d",
		r.MaxReplicas, r.OverMax, r.AdminAfterS, delivered, r.Delivery.Sent, r.Delivery.Predicted, r.Delivery.Lost, r.Delivery.Duplicates)
}

// Admin alert timing bounds (issue 11): the rule's `for: 5m` is the floor; the rest is the
// rule's rate window catching up, evaluation intervals and Alertmanager's group wait.
const (
	adminMinS = 300
	adminMaxS = 540
)

// check lists every way the run falls short of what issue 11 asks.
func check(rec *Recording, r Result) []string {
	var f []string
	add := func(format string, a ...any) { f = append(f, fmt.Sprintf(format, a...)) }
	if r.HPAMin != 4 || r.HPAMax != 6 {
		add("the HPA is min %d / max %d, want 4 / 6", r.HPAMin, r.HPAMax)
	}
	if r.RunningBefore != r.HPAMin {
		add("%d function pods Running before the attack, want %d", r.RunningBefore, r.HPAMin)
	}
	if r.MaxBefore1500 > r.HPAMin {
		add("%d replicas before the 1,500 TPS phase, want %d (config/SIZING.md: 500 TPS keeps 4 pods within the HPA's tolerance of 80 %%)", r.MaxBefore1500, r.HPAMin)
	}
	if r.MaxReplicas != r.HPAMax {
		add("at most %d replicas under 1,500 TPS, want %d", r.MaxReplicas, r.HPAMax)
	}
	if r.OverMax != 0 {
		add("over_max=%d: more than %d replicas", r.OverMax, r.HPAMax)
	}
	switch {
	case r.BothHeldAt == nil:
		add("the HPA never reported %d replicas and more than 80 %% CPU at once", r.HPAMax)
	case r.AdminAt == nil:
		add("no %s notification reached the admin receiver", adminAlert)
	case r.AdminEarly:
		add("the admin notification arrived before both conditions held")
	case r.AdminAfterS < adminMinS || r.AdminAfterS > adminMaxS:
		add("admin_alert_after_s=%d, want %d..%d", r.AdminAfterS, adminMinS, adminMaxS)
	}
	if _, ok := r.FirstFiring["FraudDetectorHighCPU"]; !ok {
		add("FraudDetectorHighCPU never fired")
	}
	for _, quiet := range []string{"FraudDetectorHighErrorRate", "FraudDetectorSlowResponses"} {
		if t, ok := r.FirstFiring[quiet]; ok {
			add("%s fired at t=%.0fs", quiet, t)
		}
	}
	if r.TargetsUpMax < r.HPAMin || !r.TargetsAllUp {
		add("the PodMonitor's targets: at most %d UP, all up at the end=%v", r.TargetsUpMax, r.TargetsAllUp)
	}
	if len(rec.ModelSeries) == 0 {
		add("no ml_model_* series in Prometheus")
	}
	if !rec.JobSucceeded {
		add("the loadgen Job did not succeed")
	}
	switch d := r.Delivery; {
	case !r.DeliverySeen:
		add("no delivery verdict in loadgen's log")
	case d.Sent == 0 || d.Sent != d.Predicted || d.Lost != 0:
		add("sent=%d predicted=%d lost=%d: want sent == predicted and lost=0", d.Sent, d.Predicted, d.Lost)
	}
	return f
}
