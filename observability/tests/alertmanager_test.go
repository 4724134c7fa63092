package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The AlertmanagerConfig resource, as far as observability/alertmanager uses it. Decoding is strict,
// so a field outside this subset fails here (config/ also decodes it with the operator's types).
type amcMatcher struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	MatchType string `yaml:"matchType"`
}

type amcRoute struct {
	Receiver       string       `yaml:"receiver"`
	GroupBy        []string     `yaml:"groupBy,omitempty"`
	GroupWait      string       `yaml:"groupWait,omitempty"`
	GroupInterval  string       `yaml:"groupInterval,omitempty"`
	RepeatInterval string       `yaml:"repeatInterval,omitempty"`
	Matchers       []amcMatcher `yaml:"matchers,omitempty"`
	Continue       bool         `yaml:"continue,omitempty"`
	Routes         []amcRoute   `yaml:"routes,omitempty"`
}

type secretRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type amcReceiver struct {
	Name           string `yaml:"name"`
	WebhookConfigs []struct {
		URL          string `yaml:"url"`
		SendResolved bool   `yaml:"sendResolved"`
		HTTPConfig   struct {
			Authorization struct {
				Type        string    `yaml:"type"`
				Credentials secretRef `yaml:"credentials"`
			} `yaml:"authorization"`
		} `yaml:"httpConfig"`
	} `yaml:"webhookConfigs,omitempty"`
	EmailConfigs []struct {
		To           string    `yaml:"to"`
		From         string    `yaml:"from"`
		Smarthost    string    `yaml:"smarthost"`
		AuthUsername string    `yaml:"authUsername"`
		AuthPassword secretRef `yaml:"authPassword"`
		SendResolved bool      `yaml:"sendResolved"`
	} `yaml:"emailConfigs,omitempty"`
}

type alertmanagerConfig struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Route        amcRoute `yaml:"route"`
		InhibitRules []struct {
			SourceMatch []amcMatcher `yaml:"sourceMatch"`
			TargetMatch []amcMatcher `yaml:"targetMatch"`
			Equal       []string     `yaml:"equal"`
		} `yaml:"inhibitRules"`
		Receivers []amcReceiver `yaml:"receivers"`
	} `yaml:"spec"`
}

func matchers(ms []amcMatcher, namespace string) []string {
	out := []string{fmt.Sprintf("namespace=%q", namespace)}
	for _, m := range ms {
		op := m.MatchType
		if op == "" {
			op = "="
		}
		out = append(out, fmt.Sprintf("%s%s%q", m.Name, op, m.Value))
	}
	return out
}

func convertRoute(r amcRoute, namespace string, top bool) map[string]any {
	out := map[string]any{"receiver": r.Receiver}
	ms := matchers(r.Matchers, namespace)
	if !top {
		ms = ms[1:] // the operator adds the namespace matcher to the top route only
	}
	if len(ms) > 0 {
		out["matchers"] = ms
	}
	for k, v := range map[string]string{"group_wait": r.GroupWait, "group_interval": r.GroupInterval, "repeat_interval": r.RepeatInterval} {
		if v != "" {
			out[k] = v
		}
	}
	if len(r.GroupBy) > 0 {
		out["group_by"] = r.GroupBy
	}
	if r.Continue {
		out["continue"] = true
	}
	var children []map[string]any
	for _, c := range r.Routes {
		children = append(children, convertRoute(c, namespace, false))
	}
	if len(children) > 0 {
		out["routes"] = children
	}
	return out
}

// renderAlertmanagerConfig turns the resource into a plain alertmanager.yml the way the operator
// scopes it: under a catch-all root, its route gains a namespace matcher, its inhibit rules too,
// and secrets become files.
func renderAlertmanagerConfig(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c alertmanagerConfig
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if c.APIVersion != "monitoring.coreos.com/v1alpha1" || c.Kind != "AlertmanagerConfig" {
		t.Fatalf("%s: got %s %s", path, c.APIVersion, c.Kind)
	}
	ns := c.Metadata.Namespace
	secretFile := func(s secretRef) string {
		if s.Name == "" || s.Key == "" {
			t.Fatalf("secret reference %+v incomplete", s)
		}
		return "/etc/alertmanager/secrets/" + s.Name + "/" + s.Key
	}
	var inhibit []map[string]any
	for _, ir := range c.Spec.InhibitRules {
		inhibit = append(inhibit, map[string]any{
			"source_matchers": matchers(ir.SourceMatch, ns),
			"target_matchers": matchers(ir.TargetMatch, ns),
			"equal":           ir.Equal,
		})
	}
	receivers := []map[string]any{{"name": "null"}}
	for _, r := range c.Spec.Receivers {
		out := map[string]any{"name": r.Name}
		var hooks, mails []map[string]any
		for _, w := range r.WebhookConfigs {
			hooks = append(hooks, map[string]any{
				"url":           w.URL,
				"send_resolved": w.SendResolved,
				"http_config": map[string]any{"authorization": map[string]any{
					"type": w.HTTPConfig.Authorization.Type, "credentials_file": secretFile(w.HTTPConfig.Authorization.Credentials)}},
			})
		}
		for _, e := range r.EmailConfigs {
			mails = append(mails, map[string]any{
				"to": e.To, "from": e.From, "smarthost": e.Smarthost, "auth_username": e.AuthUsername,
				"auth_password_file": secretFile(e.AuthPassword), "send_resolved": e.SendResolved,
			})
		}
		if hooks != nil {
			out["webhook_configs"] = hooks
		}
		if mails != nil {
			out["email_configs"] = mails
		}
		receivers = append(receivers, out)
	}
	cfg := map[string]any{
		"route": map[string]any{
			"receiver": "null",
			"routes":   []map[string]any{convertRoute(c.Spec.Route, ns, true)},
		},
		"inhibit_rules": inhibit,
		"receivers":     receivers,
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// routeCases: which receiver an alert reaches (in the resource's namespace for the CR form).
var routeCases = map[string]struct {
	labels   []string
	receiver string
}{
	"admin alert reaches admin":              {[]string{"alertname=AdminNotification_MaxScaleHighCPU", "severity=critical"}, "admin"},
	"admin alert reaches admin by its name":  {[]string{"alertname=AdminNotification_MaxScaleHighCPU", "severity=warning"}, "admin"},
	"critical error rate reaches admin":      {[]string{"alertname=FraudDetectorHighErrorRate", "severity=critical"}, "admin"},
	"CPU warning reaches default":            {[]string{"alertname=FraudDetectorHighCPU", "severity=warning"}, "default"},
	"slow responses warning reaches default": {[]string{"alertname=FraudDetectorSlowResponses", "severity=warning"}, "default"},
	"Kafka lag warning reaches default":      {[]string{"alertname=FraudDetectorKafkaLag", "severity=warning"}, "default"},
}

func checkConfig(t *testing.T, path string) {
	t.Helper()
	out, err := runTool(t, ".", "amtool", "check-config", path)
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("amtool check-config %s: %v\n%s", path, err, out)
	}
	t.Log(strings.TrimSpace(out))
}

// routesTest asks amtool which receivers the labels reach and checks they are exactly want.
func routesTest(t *testing.T, path, want string, labels []string) {
	t.Helper()
	args := append([]string{"config", "routes", "test", "--config.file=" + path, "--verify.receivers=" + want}, labels...)
	out, err := runTool(t, ".", "amtool", args...)
	if err != nil {
		t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertmanagerYAML(t *testing.T) {
	requireTools(t, "amtool")
	checkConfig(t, amConfig)
	for name, c := range routeCases {
		t.Run(name, func(t *testing.T) {
			routesTest(t, amConfig, c.receiver, append(c.labels, "namespace=fraud-detector"))
		})
	}
	// the check bites: a wrong expectation fails
	args := []string{"config", "routes", "test", "--config.file=" + amConfig, "--verify.receivers=admin",
		"alertname=FraudDetectorHighCPU", "severity=warning", "namespace=fraud-detector"}
	if out, err := runTool(t, ".", "amtool", args...); err == nil {
		t.Fatalf("amtool accepted a warning routed to admin:\n%s", out)
	}
}

func TestAlertmanagerConfigResource(t *testing.T) {
	requireTools(t, "amtool")
	rendered := renderAlertmanagerConfig(t, amResource)
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	checkConfig(t, path)
	for name, c := range routeCases {
		t.Run(name, func(t *testing.T) {
			routesTest(t, path, c.receiver, append(c.labels, "namespace=fraud-detector"))
		})
	}
	t.Run("other namespaces are not ours", func(t *testing.T) {
		routesTest(t, path, "null", []string{"alertname=AdminNotification_MaxScaleHighCPU", "severity=critical", "namespace=elsewhere"})
	})
}
