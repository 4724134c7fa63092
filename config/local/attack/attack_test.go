package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// synthetic is a recording of a run that shows everything issue 11 asks: 4 pods to 500 TPS, 6
// under 1,500 TPS, the admin alert 370 s after both conditions first held.
func synthetic() *Recording {
	rec := &Recording{Profile: "ci", Variant: "plain", HPAName: "fraud-detector", Started: t0, JobSucceeded: true,
		ModelSeries: []string{"ml_model_errors_total", "ml_model_predictions_total"},
		Delivery:    &Delivery{Sent: 1_100_000, Predicted: 1_100_000}}
	phases := []struct {
		rate float64
		secs int
	}{{50, 30}, {200, 60}, {500, 150}, {1500, 660}}
	t := 0
	for i, p := range phases {
		for end := t + p.secs; t < end; t += 5 {
			current, cpu := 4, 30+p.rate/20
			if i == 3 && t >= 260 {
				current, cpu = 5, 120
			}
			if i == 3 && t >= 290 {
				current, cpu = 6, 110
			}
			rec.HPA = append(rec.HPA, HPAView{At: t0.Add(time.Duration(t) * time.Second), Current: current, Desired: current, Min: 4, Max: 6, CPUPct: fp(cpu)})
			if t%15 != 0 {
				continue
			}
			s := Sample{T: float64(t), At: t0.Add(time.Duration(t) * time.Second), Phase: i + 1, TargetTPS: p.rate,
				OfferedTPS: fp(p.rate), DeliveredTPS: fp(p.rate * 0.99), HPA: rec.HPA[len(rec.HPA)-1],
				RuleCPUPct: fp(cpu - 5), KafkaLag: fp(10), Pods: map[string]int{"Running": current}, Ready: current,
				Alerts: map[string]string{}, TargetsUp: current, Targets: current,
				FunctionCPUCores: fp(p.rate * 200e-6), DispatcherCPUCores: fp(p.rate * 100e-6), QueueProxyCPUCores: fp(p.rate * 150e-6),
				PodsCPUCores: fp(0.3 + p.rate*400e-6), PodsMemMiB: fp(900), HostCPUCores: fp(0.4), HostMemMiB: fp(1500)}
			if t >= 290+30 {
				s.Alerts["FraudDetectorHighCPU"] = "pending"
				s.Alerts["AdminNotification_MaxScaleHighCPU"] = "pending"
			}
			if t >= 290+330 {
				s.Alerts["FraudDetectorHighCPU"] = "firing"
				s.Alerts["AdminNotification_MaxScaleHighCPU"] = "firing"
			}
			rec.Samples = append(rec.Samples, s)
		}
	}
	rec.Notifications = []Notification{
		{ReceivedAt: t0.Add(500 * time.Second), Receiver: "fraud-detection/fraud-detector/team", Status: "firing", Alerts: []string{"FraudDetectorHighCPU"}},
		{ReceivedAt: t0.Add(660 * time.Second), Receiver: "fraud-detection/fraud-detector/admin", Status: "firing", Alerts: []string{adminAlert}},
	}
	return rec
}

func TestAnalyseGoodRun(t *testing.T) {
	rec := synthetic()
	r := analyse(rec)
	if f := check(rec, r); len(f) > 0 {
		t.Fatalf("a good run fails the check: %v", f)
	}
	want := "cluster-attack: variant=plain max_replicas=6 over_max=0 admin_alert_after_s=370 delivered=1 sent=1100000 predicted=1100000 lost=0 duplicates=0"
	if got := r.Line(); got != want {
		t.Errorf("line:\n got %s\nwant %s", got, want)
	}
	if len(r.Phases) != 4 || r.Phases[3].FunctionUsPerTx < 199 || r.Phases[3].FunctionUsPerTx > 203 {
		t.Errorf("phases %+v: want 4, the last at about 200 µs per transaction (1 %% undelivered)", r.Phases)
	}
	if qp := r.Phases[3].QueueProxyUsPerTx; qp < 150 || qp > 153 {
		t.Errorf("queue-proxy %.1f µs per transaction, want about 150", qp)
	}
}

func TestCheckFindsEachShortfall(t *testing.T) {
	tests := map[string]struct {
		mutate func(*Recording)
		want   string
	}{
		"a seventh pod": {func(r *Recording) {
			r.Samples[len(r.Samples)-1].Pods["Running"] = 7
		}, "over_max=1"},
		"scaled during 500 TPS": {func(r *Recording) {
			for i := range r.Samples {
				if r.Samples[i].Phase == 3 {
					r.Samples[i].HPA.Current = 5
				}
			}
		}, "5 replicas before the 1,500 TPS phase"},
		"admin alert too late": {func(r *Recording) {
			r.Notifications[1].ReceivedAt = t0.Add(290*time.Second + 541*time.Second)
		}, "admin_alert_after_s=541"},
		"admin alert too early (the for: was lost)": {func(r *Recording) {
			r.Notifications[1].ReceivedAt = t0.Add(290*time.Second + 120*time.Second)
		}, "admin_alert_after_s=120"},
		"admin alert before the condition": {func(r *Recording) {
			r.Notifications[1].ReceivedAt = t0.Add(100 * time.Second)
		}, "before both conditions held"},
		"no admin alert": {func(r *Recording) { r.Notifications = r.Notifications[:1] }, "no AdminNotification_MaxScaleHighCPU notification"},
		"never hot at max": {func(r *Recording) {
			for i := range r.HPA {
				r.HPA[i].CPUPct = fp(70)
			}
		}, "never reported 6 replicas and more than 80 % CPU"},
		"error-rate alert": {func(r *Recording) {
			r.Samples[10].Alerts["FraudDetectorHighErrorRate"] = "firing"
		}, "FraudDetectorHighErrorRate fired"},
		"lost one":        {func(r *Recording) { r.Delivery.Predicted--; r.Delivery.Lost = 1 }, "lost=1"},
		"no verdict":      {func(r *Recording) { r.Delivery = nil }, "no delivery verdict"},
		"targets down":    {func(r *Recording) { r.Samples[len(r.Samples)-1].TargetsUp = 5 }, "PodMonitor's targets"},
		"no model series": {func(r *Recording) { r.ModelSeries = nil }, "no ml_model_* series"},
		"HPA bounds": {func(r *Recording) {
			for i := range r.HPA {
				r.HPA[i].Min = 2
			}
		}, "min 2 / max 6"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := synthetic()
			tc.mutate(rec)
			f := check(rec, analyse(rec))
			if !strings.Contains(strings.Join(f, "\n"), tc.want) {
				t.Errorf("check = %q, want one containing %q", f, tc.want)
			}
		})
	}
}

// The report's files are golden: a change to the picture or the summary is a visible diff.
func TestReportGolden(t *testing.T) {
	rec := synthetic()
	dir := t.TempDir()
	if err := writeReport(dir, rec, analyse(rec)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"summary.md", "attack.svg"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -run TestReportGolden -update to accept)", name, golden)
		}
	}
}

func TestParseHPA(t *testing.T) {
	data := []byte(`{"spec":{"minReplicas":4,"maxReplicas":6},"status":{"currentReplicas":6,"desiredReplicas":6,
	 "currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":93,"averageValue":"42m"}}},
	 {"type":"Resource","resource":{"name":"memory","current":{"averageUtilization":31}}}]}}`)
	h, err := parseHPA(data, t0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Min != 4 || h.Max != 6 || h.Current != 6 || *h.CPUPct != 93 || *h.MemPct != 31 || !h.Hot() {
		t.Errorf("parsed %+v", h)
	}
	if _, err := parseHPA([]byte("{"), t0); err == nil {
		t.Error("broken JSON parsed")
	}
}

func TestParseDelivery(t *testing.T) {
	log := "phase 1/4 ...\nsent=10 predicted=9 lost=0 duplicates=0\nloadgen: again\nsent=12 predicted=12 lost=0 duplicates=3\n"
	d := parseDelivery(log)
	if d == nil || *d != (Delivery{Sent: 12, Predicted: 12, Duplicates: 3}) {
		t.Errorf("parseDelivery = %+v", d)
	}
	if parseDelivery("no verdict here") != nil {
		t.Error("a verdict found in a log without one")
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (java (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 350 120 0 0 20 0 40 0 12345 999 2048 18446744073709551615"
	st, ok := parseStat(line)
	if !ok || st.pid != 4242 || st.pgrp != 4242 || st.utime != 350 || st.stime != 120 || st.rssPages != 2048 {
		t.Errorf("parseStat = %+v, %v", st, ok)
	}
	if _, ok := parseStat("garbage"); ok {
		t.Error("garbage parsed")
	}
}

// fakeSource replays a recording's HPA reads and samples; its Job finishes after n samples.
type fakeSource struct {
	n, calls int
	rec      *Recording
}

func (f *fakeSource) HPA(context.Context) (HPAView, error) { return f.rec.HPA[0], nil }
func (f *fakeSource) Sample(_ context.Context, s *Sample) {
	s.Pods = map[string]int{"Running": 4}
	f.calls++
}
func (f *fakeSource) Notifications(context.Context) ([]Notification, error) {
	return f.rec.Notifications, nil
}
func (f *fakeSource) JobDone(context.Context) (bool, bool, error) { return f.calls >= f.n, true, nil }
func (f *fakeSource) LoadgenLog(context.Context) (string, error) {
	return "sent=5 predicted=5 lost=0 duplicates=0\n", nil
}
func (f *fakeSource) ModelSeries(context.Context) ([]string, error) {
	return []string{"ml_model_info"}, nil
}

func TestRecordStopsWhenTheJobIsDone(t *testing.T) {
	src := &fakeSource{n: 3, rec: synthetic()}
	o := options{interval: 5 * time.Millisecond, hpaInterval: 2 * time.Millisecond, profile: "ci", variant: "plain", hpa: "fraud-detector"}
	var log bytes.Buffer
	rec, err := record(context.Background(), o, src, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Samples) != 3 || !rec.JobSucceeded || rec.Delivery == nil || rec.Delivery.Sent != 5 || len(rec.ModelSeries) != 1 {
		t.Errorf("recorded %d samples, job %v, delivery %+v, series %v", len(rec.Samples), rec.JobSucceeded, rec.Delivery, rec.ModelSeries)
	}
	if rec.Samples[0].AdminNotifications != 1 {
		t.Errorf("admin notifications counted %d, want 1", rec.Samples[0].AdminNotifications)
	}
	if strings.Count(log.String(), "\n") != 3 {
		t.Errorf("progress lines:\n%s", log.String())
	}
}

func TestOptionsRequireTheEndpoints(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseOptions([]string{"--out", "x"}, &stderr); err == nil {
		t.Error("no --prometheus accepted")
	}
	if _, err := parseOptions([]string{"--out", "x", "--prometheus", "p", "--alertmanager", "a", "--receiver", "r", "--variant", "kind"}, &stderr); err == nil {
		t.Error("--variant kind accepted")
	}
	o, err := parseOptions([]string{"--out", "x", "--prometheus", "p", "--alertmanager", "a", "--receiver", "r"}, &stderr)
	if err != nil || o.interval != 15*time.Second {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}
