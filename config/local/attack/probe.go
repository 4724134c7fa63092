package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// probe reads the cluster: kubectl for the HPA, pods and Job; Prometheus' and the receiver's
// HTTP APIs; loadgen's /metrics; /proc for the host processes.
type probe struct {
	o      options
	client *http.Client
	// host CPU: the last reading, to turn tick counts into a rate.
	lastTicks uint64
	lastAt    time.Time
}

func newProbe(o options) *probe {
	return &probe{o: o, client: &http.Client{Timeout: 10 * time.Second}}
}

func (p *probe) kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.o.kubectl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (p *probe) HPA(ctx context.Context) (HPAView, error) {
	out, err := p.kubectl(ctx, "-n", p.o.namespace, "get", "hpa", p.o.hpa, "-o", "json")
	if err != nil {
		return HPAView{}, err
	}
	return parseHPA(out, time.Now())
}

func parseHPA(data []byte, at time.Time) (HPAView, error) {
	var h struct {
		Spec struct {
			Min *int `json:"minReplicas"`
			Max int  `json:"maxReplicas"`
		} `json:"spec"`
		Status struct {
			Current        int `json:"currentReplicas"`
			Desired        int `json:"desiredReplicas"`
			CurrentMetrics []struct {
				Resource *struct {
					Name    string `json:"name"`
					Current struct {
						AverageUtilization *float64 `json:"averageUtilization"`
					} `json:"current"`
				} `json:"resource"`
			} `json:"currentMetrics"`
		} `json:"status"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return HPAView{}, fmt.Errorf("hpa: %w", err)
	}
	v := HPAView{At: at, Current: h.Status.Current, Desired: h.Status.Desired, Max: h.Spec.Max, Min: 1}
	if h.Spec.Min != nil {
		v.Min = *h.Spec.Min
	}
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource == nil {
			continue
		}
		switch m.Resource.Name {
		case "cpu":
			v.CPUPct = m.Resource.Current.AverageUtilization
		case "memory":
			v.MemPct = m.Resource.Current.AverageUtilization
		}
	}
	return v, nil
}

// Prometheus queries of the timeline; each sums an instant vector.
var queries = []struct {
	set   func(*Sample, float64)
	query string
}{
	{func(s *Sample, v float64) { s.DeliveredTPS = &v }, `sum(rate(ml_model_predictions_total{namespace="fraud-detection"}[1m]))`},
	{func(s *Sample, v float64) { v *= 100; s.RuleCPUPct = &v }, `namespace:fraud_detector_cpu_utilisation:ratio{namespace="fraud-detection"}`},
	{func(s *Sample, v float64) { s.KafkaLag = &v }, `namespace_consumergroup_topic:fraud_detector_kafka_lag:sum{namespace="fraud-detection"}`},
	{func(s *Sample, v float64) { s.FunctionCPUCores = &v }, `sum(rate(container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", namespace="fraud-detection", container="fraud-detector"}[1m]))`},
	{func(s *Sample, v float64) { s.DispatcherCPUCores = &v }, `sum(rate(container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", namespace="fraud-detection", container="dispatcher"}[1m]))`},
	{func(s *Sample, v float64) { s.QueueProxyCPUCores = &v }, `sum(rate(container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", namespace="fraud-detection", container="queue-proxy"}[1m]))`},
	{func(s *Sample, v float64) { s.GatewayCPUCores = &v }, `sum(rate(container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", namespace="traefik", container="traefik"}[1m]))`},
	{func(s *Sample, v float64) { s.PodsCPUCores = &v }, `sum(rate(container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", container!="", container!="POD", image!=""}[1m]))`},
	{func(s *Sample, v float64) { v /= 1 << 20; s.PodsMemMiB = &v }, `sum(container_memory_working_set_bytes{job="kubelet", metrics_path="/metrics/cadvisor", container!="", container!="POD", image!=""})`},
}

func (p *probe) Sample(ctx context.Context, s *Sample) {
	fail := func(err error) { s.Errors = append(s.Errors, err.Error()) }
	for _, q := range queries {
		v, ok, err := p.query(ctx, q.query)
		if err != nil {
			fail(err)
		} else if ok {
			q.set(s, v)
		}
	}
	if alerts, err := p.alerts(ctx); err != nil {
		fail(err)
	} else {
		s.Alerts = alerts
	}
	if up, total, err := p.targets(ctx); err != nil {
		fail(err)
	} else {
		s.TargetsUp, s.Targets = up, total
	}
	if pods, ready, err := p.pods(ctx); err != nil {
		fail(err)
	} else {
		s.Pods, s.Ready = pods, ready
	}
	if err := p.loadgen(ctx, s); err != nil {
		fail(err)
	}
	if p.o.pidDir != "" {
		if err := p.host(s); err != nil {
			fail(err)
		}
	}
}

func (p *probe) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// query returns the sum of an instant vector, and false when it is empty.
func (p *probe) query(ctx context.Context, q string) (float64, bool, error) {
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.o.prometheus+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return 0, false, fmt.Errorf("query %s: %w", q, err)
	}
	if len(r.Data.Result) == 0 {
		return 0, false, nil
	}
	sum := 0.0
	for _, x := range r.Data.Result {
		s, _ := x.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false, fmt.Errorf("query %s: value %q: %w", q, s, err)
		}
		sum += v
	}
	return sum, true, nil
}

func (p *probe) alerts(ctx context.Context) (map[string]string, error) {
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.o.prometheus+"/api/v1/alerts", &r); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, a := range r.Data.Alerts {
		name := a.Labels["alertname"]
		if out[name] != "firing" { // firing wins over pending
			out[name] = a.State
		}
	}
	return out, nil
}

// podMonitorPool is the scrape pool prometheus-operator makes of observability/podmonitor.yaml.
const podMonitorPool = "podMonitor/fraud-detection/fraud-detector/"

func (p *probe) targets(ctx context.Context) (up, total int, err error) {
	var r struct {
		Data struct {
			Active []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.o.prometheus+"/api/v1/targets?state=active", &r); err != nil {
		return 0, 0, err
	}
	for _, t := range r.Data.Active {
		if strings.HasPrefix(t.ScrapePool, podMonitorPool) {
			total++
			if t.Health == "up" {
				up++
			}
		}
	}
	return up, total, nil
}

func (p *probe) ModelSeries(ctx context.Context) ([]string, error) {
	var r struct {
		Data []string `json:"data"`
	}
	u := p.o.prometheus + "/api/v1/label/__name__/values?match[]=" + url.QueryEscape(`{__name__=~"ml_model_.+", namespace="fraud-detection"}`)
	if err := p.getJSON(ctx, u, &r); err != nil {
		return nil, err
	}
	sort.Strings(r.Data)
	return r.Data, nil
}

type podList struct {
	Items []struct {
		Status struct {
			Phase      string `json:"phase"`
			PodIP      string `json:"podIP"`
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
		Metadata struct {
			DeletionTimestamp *time.Time `json:"deletionTimestamp"`
		} `json:"metadata"`
	} `json:"items"`
}

func (p *probe) podList(ctx context.Context, selector string) (podList, error) {
	var l podList
	out, err := p.kubectl(ctx, "-n", p.o.namespace, "get", "pods", "-l", selector, "-o", "json")
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(out, &l)
}

func (p *probe) pods(ctx context.Context) (map[string]int, int, error) {
	l, err := p.podList(ctx, p.o.deployment)
	if err != nil {
		return nil, 0, err
	}
	phases, ready := map[string]int{}, 0
	for _, it := range l.Items {
		ph := it.Status.Phase
		if it.Metadata.DeletionTimestamp != nil {
			ph = "Terminating"
		}
		phases[ph]++
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready++
			}
		}
	}
	return phases, ready, nil
}

// loadgen reads the Job pod's /metrics: its phase, target and achieved rate.
func (p *probe) loadgen(ctx context.Context, s *Sample) error {
	l, err := p.podList(ctx, "job-name="+p.o.job)
	if err != nil {
		return err
	}
	ip := ""
	for _, it := range l.Items {
		if it.Status.Phase == "Running" && it.Status.PodIP != "" {
			ip = it.Status.PodIP
		}
	}
	if ip == "" {
		return nil // not started yet, or finished
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":9102/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("loadgen metrics: %w", err)
	}
	defer resp.Body.Close()
	m := parseGauges(resp.Body, "loadgen_phase", "loadgen_target_tps", "loadgen_achieved_tps")
	s.Phase = int(m["loadgen_phase"])
	s.TargetTPS = m["loadgen_target_tps"]
	if v, ok := m["loadgen_achieved_tps"]; ok {
		s.OfferedTPS = &v
	}
	return nil
}

// parseGauges reads unlabelled samples of the named series from Prometheus text.
func parseGauges(r io.Reader, names ...string) map[string]float64 {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !want[f[0]] {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

func (p *probe) Notifications(ctx context.Context) ([]Notification, error) {
	var rs []struct {
		ReceivedAt   time.Time `json:"received_at"`
		Notification struct {
			Receiver string `json:"receiver"`
			Status   string `json:"status"`
			Alerts   []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		} `json:"notification"`
	}
	if err := p.getJSON(ctx, p.o.receiver+"/alerts", &rs); err != nil {
		return nil, fmt.Errorf("admin receiver: %w", err)
	}
	out := make([]Notification, 0, len(rs))
	for _, r := range rs {
		n := Notification{ReceivedAt: r.ReceivedAt, Receiver: r.Notification.Receiver, Status: r.Notification.Status}
		for _, a := range r.Notification.Alerts {
			if a.Status == "firing" {
				n.Alerts = append(n.Alerts, a.Labels["alertname"])
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func (p *probe) JobDone(ctx context.Context) (bool, bool, error) {
	out, err := p.kubectl(ctx, "-n", p.o.namespace, "get", "job", p.o.job, "-o", "json")
	if err != nil {
		return false, false, err
	}
	var j struct {
		Status struct {
			Succeeded int `json:"succeeded"`
			Failed    int `json:"failed"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return false, false, err
	}
	return j.Status.Succeeded > 0 || j.Status.Failed > 0, j.Status.Succeeded > 0, nil
}

// LoadgenLog is the end of the Job pod's log, after how its container ended (an OOM kill
// leaves no report in the log).
func (p *probe) LoadgenLog(ctx context.Context) (string, error) {
	state, _ := p.kubectl(ctx, "-n", p.o.namespace, "get", "pods", "-l", "job-name="+p.o.job, "-o",
		`jsonpath={range .items[*].status.containerStatuses[*]}{.name}: terminated {.state.terminated.reason} exit {.state.terminated.exitCode}{"\n"}{end}`)
	out, err := p.kubectl(ctx, "-n", p.o.namespace, "logs", "job/"+p.o.job, "--tail=40")
	return string(state) + string(out), err
}

var deliveryLine = regexp.MustCompile(`(?m)^sent=(\d+) predicted=(\d+) lost=(\d+) duplicates=(\d+)$`)

// parseDelivery finds loadgen's final line (pace.Delivery.Line) in its log.
func parseDelivery(log string) *Delivery {
	m := deliveryLine.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return nil
	}
	last := m[len(m)-1]
	n := func(i int) int64 { v, _ := strconv.ParseInt(last[i], 10, 64); return v }
	return &Delivery{Sent: n(1), Predicted: n(2), Lost: n(3), Duplicates: n(4)}
}

// host sums CPU and resident memory of the processes the cluster runs on the host (their pid
// files in --pid-dir, with their process groups: containerd, etcd, the Kubernetes binaries,
// Kafka, MLflow). The pods' containers are counted by cAdvisor instead.
func (p *probe) host(s *Sample) error {
	files, err := filepath.Glob(filepath.Join(p.o.pidDir, "*"))
	if err != nil {
		return err
	}
	leaders := map[int]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			leaders[pid] = true
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks, rss uint64
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		st, ok := parseStat(string(b))
		if !ok || !(leaders[st.pid] || leaders[st.pgrp]) {
			continue
		}
		ticks += st.utime + st.stime
		rss += st.rssPages * uint64(os.Getpagesize())
	}
	now := time.Now()
	if !p.lastAt.IsZero() && ticks >= p.lastTicks {
		cores := float64(ticks-p.lastTicks) / 100 / now.Sub(p.lastAt).Seconds() // USER_HZ = 100
		s.HostCPUCores = &cores
	}
	p.lastTicks, p.lastAt = ticks, now
	mib := float64(rss) / (1 << 20)
	s.HostMemMiB = &mib
	return nil
}

type procStat struct {
	pid, pgrp              int
	utime, stime, rssPages uint64
}

// parseStat reads /proc/PID/stat (the command name may hold spaces and parentheses).
func parseStat(line string) (procStat, bool) {
	var st procStat
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return st, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:strings.IndexByte(line, '(')]))
	if err != nil {
		return st, false
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, rss 24.
	if len(f) < 22 {
		return st, false
	}
	st.pid = pid
	st.pgrp, _ = strconv.Atoi(f[2])
	st.utime, _ = strconv.ParseUint(f[11], 10, 64)
	st.stime, _ = strconv.ParseUint(f[12], 10, 64)
	st.rssPages, _ = strconv.ParseUint(f[21], 10, 64)
	return st, true
}
