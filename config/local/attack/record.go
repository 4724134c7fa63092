package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// HPAView is one read of the HorizontalPodAutoscaler: what the HPA itself reports.
type HPAView struct {
	At      time.Time `json:"at"`
	Current int       `json:"current"`
	Desired int       `json:"desired"`
	Min     int       `json:"min"`
	Max     int       `json:"max"`
	CPUPct  *float64  `json:"cpu_pct"` // status.currentMetrics cpu averageUtilization
	MemPct  *float64  `json:"memory_pct"`
}

// Hot is the admin alert's condition as the HPA sees it: at its maximum and above 80 % CPU.
func (h HPAView) Hot() bool {
	return h.Max > 0 && h.Current >= h.Max && h.CPUPct != nil && *h.CPUPct > 80
}

// Sample is one line of the timeline. Pointers are nil when the value could not be read (the
// reason is in Errors).
type Sample struct {
	T                  float64           `json:"t_s"`
	At                 time.Time         `json:"at"`
	Phase              int               `json:"phase"` // loadgen's, from 1; 0 before and after
	TargetTPS          float64           `json:"target_tps"`
	OfferedTPS         *float64          `json:"offered_tps"`   // loadgen's achieved rate
	DeliveredTPS       *float64          `json:"delivered_tps"` // predictions/s in Prometheus
	HPA                HPAView           `json:"hpa"`
	RuleCPUPct         *float64          `json:"rule_cpu_pct"` // namespace:fraud_detector_cpu_utilisation:ratio
	KafkaLag           *float64          `json:"kafka_lag"`
	Pods               map[string]int    `json:"pods"`   // function pods by phase
	Ready              int               `json:"ready"`  // function pods Ready
	Alerts             map[string]string `json:"alerts"` // alertname -> pending | firing
	AdminNotifications int               `json:"admin_notifications"`
	TargetsUp          int               `json:"targets_up"` // the PodMonitor's targets
	Targets            int               `json:"targets"`
	FunctionCPUCores   *float64          `json:"function_cpu_cores"`              // the function's containers (cAdvisor)
	DispatcherCPUCores *float64          `json:"dispatcher_cpu_cores"`            // the KafkaSource stand-in
	QueueProxyCPUCores *float64          `json:"queue_proxy_cpu_cores,omitempty"` // Knative's sidecar in the function's pods
	GatewayCPUCores    *float64          `json:"gateway_cpu_cores,omitempty"`     // Traefik, Knative's networking layer
	PodsCPUCores       *float64          `json:"pods_cpu_cores"`                  // every container (cAdvisor)
	PodsMemMiB         *float64          `json:"pods_memory_mib"`
	HostCPUCores       *float64          `json:"host_cpu_cores"` // the cluster's host processes
	HostMemMiB         *float64          `json:"host_memory_mib"`
	Errors             []string          `json:"errors,omitempty"`
}

// Notification is what the admin receiver recorded, reduced to what the report needs.
type Notification struct {
	ReceivedAt time.Time `json:"received_at"`
	Receiver   string    `json:"receiver"`
	Status     string    `json:"status"`
	Alerts     []string  `json:"alerts"` // alertname of each firing alert
}

// Delivery is loadgen's end-to-end verdict, read from its log.
type Delivery struct {
	Sent       int64 `json:"sent"`
	Predicted  int64 `json:"predicted"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
}

// Recording is everything the recorder saw.
type Recording struct {
	Profile       string         `json:"profile"`
	Variant       string         `json:"variant"`
	HPAName       string         `json:"hpa_name"`
	Started       time.Time      `json:"started"`
	Samples       []Sample       `json:"samples"`
	HPA           []HPAView      `json:"hpa_reads"`
	Notifications []Notification `json:"notifications"`
	ModelSeries   []string       `json:"model_series"` // ml_model_* names Prometheus holds
	JobSucceeded  bool           `json:"job_succeeded"`
	Delivery      *Delivery      `json:"delivery"`
	LoadgenLog    string         `json:"loadgen_log"` // its report table
}

// source is what the recorder reads; probe.go implements it against the cluster.
type source interface {
	HPA(ctx context.Context) (HPAView, error)
	Sample(ctx context.Context, s *Sample)
	Notifications(ctx context.Context) ([]Notification, error)
	// JobDone reports whether the loadgen Job has finished and whether it succeeded.
	JobDone(ctx context.Context) (done, succeeded bool, err error)
	LoadgenLog(ctx context.Context) (string, error)
	ModelSeries(ctx context.Context) ([]string, error)
}

// record samples src until the Job has finished (or ctx ends), then reads the outcome.
func record(ctx context.Context, o options, src source, log io.Writer) (*Recording, error) {
	rec := &Recording{Profile: o.profile, Variant: o.variant, HPAName: o.hpa, Started: time.Now()}
	hpaTick := time.NewTicker(o.hpaInterval)
	defer hpaTick.Stop()
	sampleTick := time.NewTicker(o.interval)
	defer sampleTick.Stop()
	var last HPAView
	readHPA := func() {
		if h, err := src.HPA(ctx); err == nil {
			last = h
			rec.HPA = append(rec.HPA, h)
		}
	}
	sample := func() {
		s := Sample{At: time.Now(), HPA: last}
		s.T = s.At.Sub(rec.Started).Seconds()
		src.Sample(ctx, &s)
		if ns, err := src.Notifications(ctx); err == nil {
			rec.Notifications = ns
			s.AdminNotifications = countAdmin(ns)
		} else {
			s.Errors = append(s.Errors, err.Error())
		}
		rec.Samples = append(rec.Samples, s)
		fmt.Fprintf(log, "%s\n", s.line())
	}
	readHPA()
	sample()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("recording stopped before the Job finished: %w", ctx.Err())
			break loop
		case <-hpaTick.C:
			readHPA()
		case <-sampleTick.C:
			sample()
			done, ok, jerr := src.JobDone(ctx)
			if jerr != nil {
				fmt.Fprintf(log, "attack: job: %v\n", jerr)
			}
			if done {
				rec.JobSucceeded = ok
				break loop
			}
		}
	}
	// The outcome, read with a fresh context: a timed-out run still reports what it has.
	end, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	readHPA()
	if out, lerr := src.LoadgenLog(end); lerr == nil {
		rec.LoadgenLog = out
		rec.Delivery = parseDelivery(out)
	}
	if ns, nerr := src.Notifications(end); nerr == nil {
		rec.Notifications = ns
	}
	if ms, merr := src.ModelSeries(end); merr == nil {
		rec.ModelSeries = ms
	}
	return rec, err
}

const adminAlert = "AdminNotification_MaxScaleHighCPU"

func countAdmin(ns []Notification) int {
	n := 0
	for _, x := range ns {
		if x.Status == "firing" && contains(x.Alerts, adminAlert) {
			n++
		}
	}
	return n
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// line is the sample as one progress line.
func (s Sample) line() string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", *p)
	}
	firing := ""
	for name, st := range s.Alerts {
		if st == "firing" {
			firing += " " + name
		}
	}
	if firing == "" {
		firing = " -"
	}
	return fmt.Sprintf("t=%4.0fs phase=%d target=%.0f offered=%s delivered=%s hpa=%d/%d cpu(hpa)=%s%% cpu(rule)=%s%% lag=%s running=%d admin=%d firing:%s",
		s.T, s.Phase, s.TargetTPS, f(s.OfferedTPS), f(s.DeliveredTPS), s.HPA.Current, s.HPA.Desired,
		f(s.HPA.CPUPct), f(s.RuleCPUPct), f(s.KafkaLag), s.Pods["Running"], s.AdminNotifications, firing)
}
