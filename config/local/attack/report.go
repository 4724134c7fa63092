package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The alerts of observability/prometheusrule.yaml, in the picture's order.
var alertNames = []string{"FraudDetectorHighCPU", "AdminNotification_MaxScaleHighCPU", "FraudDetectorKafkaLag",
	"FraudDetectorHighErrorRate", "FraudDetectorSlowResponses"}

func writeReport(dir string, rec *Recording, r Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tl, err := json.MarshalIndent(struct {
		Result    Result     `json:"result"`
		Recording *Recording `json:"recording"`
	}{r, rec}, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	files := map[string][]byte{
		"timeline.json": append(tl, '\n'),
		"summary.md":    []byte(summary(rec, r)),
		"attack.svg":    []byte(picture(rec, r)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

func at(r Result, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("t=%.0f s (%s)", t.Sub(r.Start).Seconds(), t.UTC().Format("15:04:05"))
}

func summary(rec *Recording, r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The attack on the local cluster: variant %s, profile %s\n\n", r.Variant, rec.Profile)
	fmt.Fprintf(&b, "Started %s UTC; %d samples every 15 s; picture: `attack.svg`; every sample: `timeline.json`.\n\n",
		rec.Started.UTC().Format("2006-01-02 15:04:05"), len(rec.Samples))
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string, a ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(v, a...)) }
	row("HPA", "`%s` min %d / max %d", r.HPAName, r.HPAMin, r.HPAMax)
	row("function pods Running before the attack", "%d", r.RunningBefore)
	row("most replicas during 50–500 TPS", "%d", r.MaxBefore1500)
	row("most replicas (HPA or Running pods)", "%d; observations above the maximum: %d", r.MaxReplicas, r.OverMax)
	row("6 replicas and CPU > 80 % (as the HPA reports) first held", "%s", at(r, r.BothHeldAt))
	row("admin notification at the receiver", "%s; %d s after both conditions held", at(r, r.AdminAt), r.AdminAfterS)
	for _, name := range alertNames {
		p, f := "never", "never"
		if t, ok := r.FirstPending[name]; ok {
			p = fmt.Sprintf("t=%.0f s", t)
		}
		if t, ok := r.FirstFiring[name]; ok {
			f = fmt.Sprintf("t=%.0f s", t)
		}
		row("`"+name+"`", "pending %s, firing %s", p, f)
	}
	row("PodMonitor targets UP", "at most %d; all up at the end: %v", r.TargetsUpMax, r.TargetsAllUp)
	row("`ml_model_*` series in Prometheus", "%s", strings.Join(rec.ModelSeries, ", "))
	d := r.Delivery
	row("delivery (loadgen, read back from fraud-predictions)", "sent %d, predicted %d, lost %d, duplicates %d", d.Sent, d.Predicted, d.Lost, d.Duplicates)
	row("peak CPU / memory of all pods (cAdvisor)", "%.2f cores / %.0f MiB", r.PeakPodsCPU, r.PeakPodsMemMiB)
	row("peak CPU / memory of the host processes (control plane, containerd, Kafka, MLflow)", "%.2f cores / %.0f MiB", r.PeakHostCPU, r.PeakHostMemMiB)
	b.WriteString("\n| phase | target TPS | delivered TPS | function CPU (cores) | function CPU per transaction | queue-proxy CPU per transaction | gateway CPU per transaction | dispatcher CPU per transaction | HPA CPU % (mean) | most replicas |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.3f | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %.0f | %d |\n", p.Phase, p.TargetTPS, p.DeliveredTPS,
			p.FunctionCores, p.FunctionUsPerTx, p.QueueProxyUsPerTx, p.GatewayUsPerTx, p.DispatcherUsPerTx, p.HPACPUPct, p.MaxReplicas)
	}
	b.WriteString("\nThe admin alert's delay after both conditions first held is its `for: 5m`, plus the 2-minute\n" +
		"rate window of the CPU recording rule catching up, the rule groups' 30 s evaluation interval,\n" +
		"kube-state-metrics' and cAdvisor's scrape intervals, and the admin route's 10 s group wait.\n")
	if f := check(rec, r); len(f) > 0 {
		b.WriteString("\n## What this run did not show\n\n")
		for _, x := range f {
			fmt.Fprintf(&b, "- %s\n", x)
		}
	}
	if rec.LoadgenLog != "" {
		fmt.Fprintf(&b, "\n## loadgen\n\n```\n%s\n```\n", strings.TrimSpace(rec.LoadgenLog))
	}
	fmt.Fprintf(&b, "\n```\n%s\n```\n", r.Line())
	return b.String()
}

// --- the picture -------------------------------------------------------------------------

const (
	svgW, left, right = 1150.0, 200.0, 20.0
	panelH, gap       = 130.0, 40.0
)

type series struct {
	name, color, dash string
	get               func(Sample) *float64
}

func fp(v float64) *float64 { return &v }

func picture(rec *Recording, r Result) string {
	tmax := 60.0
	for _, s := range rec.Samples {
		tmax = math.Max(tmax, s.T)
	}
	x := func(t float64) float64 { return left + (svgW-left-right)*t/tmax }
	var b strings.Builder
	panels := []struct {
		title string
		ymax  float64
		lines []series
		marks []float64
	}{
		{"transactions per second", 0, []series{
			{"target", "#888", "4 3", func(s Sample) *float64 {
				if s.Phase == 0 {
					return nil
				}
				return fp(s.TargetTPS)
			}},
			{"offered (loadgen)", "#1f77b4", "", func(s Sample) *float64 { return s.OfferedTPS }},
			{"delivered (predictions/s)", "#2ca02c", "", func(s Sample) *float64 { return s.DeliveredTPS }},
		}, nil},
		{"replicas", float64(max(r.HPAMax, r.MaxReplicas) + 1), []series{
			{"HPA current", "#1f77b4", "", func(s Sample) *float64 { return fp(float64(s.HPA.Current)) }},
			{"HPA desired", "#ff7f0e", "4 3", func(s Sample) *float64 { return fp(float64(s.HPA.Desired)) }},
			{"pods Running", "#2ca02c", "1 3", func(s Sample) *float64 { return fp(float64(s.Pods["Running"])) }},
		}, []float64{float64(r.HPAMax)}},
		{"CPU % of requests", 0, []series{
			{"as the HPA reports", "#1f77b4", "", func(s Sample) *float64 { return s.HPA.CPUPct }},
			{"recording rule", "#d62728", "", func(s Sample) *float64 { return s.RuleCPUPct }},
		}, []float64{80}},
		{"Kafka lag (records)", 0, []series{
			{"transactions-input, group fraud-detector", "#9467bd", "", func(s Sample) *float64 { return s.KafkaLag }},
		}, nil},
	}
	alertsTop := float64(len(panels))*(panelH+gap) + gap
	rowH := 16.0
	svgH := alertsTop + float64(len(alertNames))*rowH + 50
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="16" font-size="13" font-weight="bold">The attack on the local cluster (%s variant, %s profile)</text>`+"\n", left, esc(r.Variant), esc(rec.Profile))
	fmt.Fprintf(&b, `<text x="%.0f" y="30" font-size="10">%s</text>`+"\n", left, esc(strings.TrimPrefix(r.Line(), "cluster-attack: ")))
	for i, p := range panels {
		top := gap + float64(i)*(panelH+gap)
		ymax := p.ymax
		if ymax == 0 {
			for _, l := range p.lines {
				for _, s := range rec.Samples {
					if v := l.get(s); v != nil {
						ymax = math.Max(ymax, *v)
					}
				}
			}
			for _, m := range p.marks {
				ymax = math.Max(ymax, m)
			}
			ymax = niceCeil(ymax * 1.1)
		}
		y := func(v float64) float64 { return top + panelH - panelH*math.Min(v, ymax)/ymax }
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#ccc"/>`+"\n", left, top, svgW-left-right, panelH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left+4, top+12, esc(p.title))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, left-4, top+10, num(ymax))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">0</text>`+"\n", left-4, top+panelH)
		for _, m := range p.marks {
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2 2"/><text x="%.0f" y="%.1f" text-anchor="end" fill="#666">%s</text>`+"\n",
				left, svgW-right, y(m), y(m), left-4, y(m)+4, num(m))
		}
		lx := left + 200
		for _, l := range p.lines {
			var pts []string
			flush := func() {
				if len(pts) > 1 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="%s" points="%s"/>`+"\n", l.color, l.dash, strings.Join(pts, " "))
				}
				pts = pts[:0]
			}
			for _, s := range rec.Samples {
				v := l.get(s)
				if v == nil {
					flush()
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.T), y(*v)))
			}
			flush()
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
				lx, lx+18, top+9, top+9, l.color, l.dash, lx+22, top+12, esc(l.name))
			lx += 40 + 6.5*float64(len(l.name))
		}
	}
	// Alert states, one row each: pending orange, firing red.
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">alerts (Prometheus): pending, firing</text>`+"\n", left+4, alertsTop-6)
	for i, name := range alertNames {
		yy := alertsTop + float64(i)*rowH
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end" font-size="10">%s</text>`, left-4, yy+11, esc(name))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#f4f4f4"/>`+"\n", left, yy+2, svgW-left-right, rowH-4)
		for j, s := range rec.Samples {
			st := s.Alerts[name]
			if st == "" {
				continue
			}
			t1 := tmax
			if j+1 < len(rec.Samples) {
				t1 = rec.Samples[j+1].T
			}
			color := "#ffbb55"
			if st == "firing" {
				color = "#d62728"
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s"/>`, x(s.T), yy+2, math.Max(x(t1)-x(s.T), 1), rowH-4, color)
		}
		b.WriteString("\n")
	}
	bottom := alertsTop + float64(len(alertNames))*rowH
	mark := func(t *time.Time, color, label string, dy float64) {
		if t == nil {
			return
		}
		xx := x(t.Sub(r.Start).Seconds())
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="1.5"/><text x="%.1f" y="%.0f" fill="%s">%s</text>`+"\n",
			xx, xx, gap, bottom, color, xx+3, bottom+14+dy, color, esc(label))
	}
	mark(r.BothHeldAt, "#000", "6 pods and CPU > 80 % (HPA)", 0)
	mark(r.AdminAt, "#d62728", fmt.Sprintf("admin notified (+%d s)", r.AdminAfterS), 14)
	// Time axis: a tick every 2 minutes.
	for t := 0.0; t <= tmax; t += 120 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#666">%.0f m</text>`, x(t), svgH-6, t/60)
	}
	b.WriteString("\n</svg>\n")
	return b.String()
}

func num(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.0fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
