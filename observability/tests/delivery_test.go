package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"function/internal/proctest"
)

// webhookSink records the notifications Alertmanager delivers, by path.
type webhookSink struct {
	mu       sync.Mutex
	received map[string][]string // path -> alertnames (with severity)
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Version string `json:"version"`
		Alerts  []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || json.Unmarshal(body, &msg) != nil || msg.Version != "4" {
		http.Error(w, "not a version 4 webhook message", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range msg.Alerts {
		if a.Status == "firing" {
			s.received[r.URL.Path] = append(s.received[r.URL.Path], a.Labels["alertname"]+"/"+a.Labels["severity"])
		}
	}
}

func (s *webhookSink) got(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received[path]...)
}

// all returns every notification received, whatever the path.
func (s *webhookSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, got := range s.received {
		out = append(out, got...)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// deliveryConfig is alertmanager.yml with its webhooks' scheme and host pointed at the test's sink
// (paths kept) and group waits cut to two seconds. Routes, matchers, receivers and inhibit rules
// are untouched.
func deliveryConfig(t *testing.T, sinkURL string) []byte {
	t.Helper()
	raw, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var fast func(route map[string]any)
	fast = func(route map[string]any) {
		for _, k := range []string{"group_wait", "group_interval"} {
			if _, ok := route[k]; ok {
				route[k] = "2s"
			}
		}
		if children, ok := route["routes"].([]any); ok {
			for _, c := range children {
				fast(c.(map[string]any))
			}
		}
	}
	fast(cfg["route"].(map[string]any))
	sink, err := url.Parse(sinkURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg["receivers"].([]any) {
		rec := r.(map[string]any)
		hooks, _ := rec["webhook_configs"].([]any)
		for _, h := range hooks {
			hook := h.(map[string]any)
			u, err := url.Parse(hook["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			u.Scheme, u.Host = sink.Scheme, sink.Host
			hook["url"] = u.String()
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlertmanagerDelivers runs the real Alertmanager on loopback with the routing of
// alertmanager.yml: the admin alert and the critical alerts reach the admin receiver's webhook
// (POST of the version 4 webhook JSON on its path), warnings stay with the default receiver (no
// integration: Alertmanager's UI and API show them), and the inhibit rules mute what they should.
func TestAlertmanagerDelivers(t *testing.T) {
	requireTools(t, "prometheus-alertmanager")
	sink := &webhookSink{received: map[string][]string{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()

	dir := t.TempDir()
	configPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configPath, deliveryConfig(t, srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := proctest.FreeAddr(t)
	exited := start(t, "alertmanager.log", nil, "prometheus-alertmanager",
		"--config.file="+configPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip port: a single instance
	)
	am := "http://" + addr
	ready(t, "alertmanager ready", am+"/-/ready", exited)

	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
	}
	ns := deployNamespace(t)
	// startsAt now: an alert older than group_wait is flushed at once, before the inhibitor has
	// seen the alerts that mute it.
	now := time.Now()
	mk := func(name, severity string) alert {
		return alert{Labels: map[string]string{"alertname": name, "severity": severity, "namespace": ns},
			Annotations: map[string]string{"summary": name}, StartsAt: now}
	}
	alerts := []alert{
		mk("AdminNotification_MaxScaleHighCPU", "critical"),
		mk("FraudDetectorHighCPU", "warning"),        // muted by the admin alert
		mk("FraudDetectorSlowResponses", "critical"), // a critical and a warning of one alert:
		mk("FraudDetectorSlowResponses", "warning"),  // the warning is muted
		mk("FraudDetectorKafkaLag", "warning"),
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: HTTP %d", resp.StatusCode)
	}

	eventually(t, 30*time.Second, "notifications delivered", func() error {
		admin := sink.got(adminReceiverPath)
		for _, want := range []string{"AdminNotification_MaxScaleHighCPU/critical", "FraudDetectorSlowResponses/critical"} {
			if !contains(admin, want) {
				return fmt.Errorf("admin webhook got %v, want %s", admin, want)
			}
		}
		return nil
	})

	// The muted ones: Alertmanager reports them suppressed by inhibition, and no webhook got them.
	var states []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	code, raw, err := httpGet(am + "/api/v2/alerts")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %d %v", code, err)
	}
	if err := json.Unmarshal(raw, &states); err != nil {
		t.Fatal(err)
	}
	muted := map[string]bool{}
	for _, s := range states {
		key := s.Labels["alertname"] + "/" + s.Labels["severity"]
		if s.Status.State == "suppressed" && len(s.Status.InhibitedBy) > 0 {
			muted[key] = true
		}
	}
	for _, want := range []string{"FraudDetectorHighCPU/warning", "FraudDetectorSlowResponses/warning"} {
		if !muted[want] {
			t.Errorf("%s is not inhibited (states: %+v)", want, states)
		}
		if contains(sink.all(), want) {
			t.Errorf("%s was delivered although inhibited", want)
		}
	}
	if len(muted) != 2 {
		t.Errorf("inhibited: %v, want exactly the two warnings", muted)
	}
	active := false
	for _, s := range states {
		if s.Labels["alertname"] == "FraudDetectorKafkaLag" && s.Status.State == "active" {
			active = true
		}
	}
	if !active {
		t.Errorf("FraudDetectorKafkaLag is not active in Alertmanager (states: %+v)", states)
	}
	if got := sink.all(); contains(got, "FraudDetectorKafkaLag/warning") {
		t.Errorf("a warning reached a webhook: %v", got)
	}
	if got := sink.all(); len(got) != len(sink.got(adminReceiverPath)) {
		t.Errorf("notifications on other paths than %s: %v", adminReceiverPath, got)
	}
}
