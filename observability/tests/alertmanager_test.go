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

type amcReceiver struct {
	Name           string `yaml:"name"`
	WebhookConfigs []struct {
		URL          string `yaml:"url"`
		SendResolved bool   `yaml:"sendResolved"`
	} `yaml:"webhookConfigs,omitempty"`
}

type alertmanagerConfig struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Route        amcRoute `yaml:"route"`
		InhibitRules []struct {
			SourceMatch []amcMatcher `yaml:"sourceMatch"`
			TargetMatch []amcMatcher `yaml:"targetMatch"`
			Equal       []string     `yaml:"equal"`
		} `yaml:"inhibitRules"`
		Receivers []amcReceiver `yaml:"receivers"`
	} `yaml:"spec"`
}

// decodeAlertmanagerConfig strictly decodes the AlertmanagerConfig resource.
func decodeAlertmanagerConfig(t *testing.T, path string) alertmanagerConfig {
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
	return c
}

// matchers renders AlertmanagerConfig matchers as Alertmanager's v2 matchers (the operator's
// Matcher.String: name, operator, quoted value).
func matchers(ms []amcMatcher) []string {
	var out []string
	for _, m := range ms {
		op := m.MatchType
		if op == "" {
			op = "="
		}
		out = append(out, fmt.Sprintf("%s%s%q", m.Name, op, m.Value))
	}
	return out
}

// scoped is what prometheus-operator's namespaceEnforcer (the default matcher strategy
// OnNamespace) appends to the resource's top route and to both sides of its inhibit rules.
func scoped(ms []string, namespace string) []string {
	return append(ms, fmt.Sprintf("namespace=%q", namespace))
}

// operatorReceiver is the name the operator gives a receiver of the resource: <namespace>/<name>/<receiver>.
func operatorReceiver(namespace, name, receiver string) string {
	return namespace + "/" + name + "/" + receiver
}

func convertRoute(r amcRoute, prefix func(string) string) map[string]any {
	out := map[string]any{"receiver": prefix(r.Receiver)}
	if ms := matchers(r.Matchers); len(ms) > 0 {
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
		children = append(children, convertRoute(c, prefix))
	}
	if len(children) > 0 {
		out["routes"] = children
	}
	return out
}

// renderAlertmanagerConfig turns the resource into a plain alertmanager.yml the way
// prometheus-operator's ConfigBuilder does (pkg/alertmanager/amcfg.go), under the root of
// kube-prometheus-stack's default configuration (receiver "null", a Watchdog route): the resource's
// top route gains the matcher namespace="<the resource's namespace>" and `continue: true` and comes
// first; its inhibit rules gain the namespace matcher on both sides; receivers are renamed
// <namespace>/<name>/<receiver>.
func renderAlertmanagerConfig(t *testing.T, path string) []byte {
	t.Helper()
	c := decodeAlertmanagerConfig(t, path)
	ns, name := c.Metadata.Namespace, c.Metadata.Name
	prefix := func(r string) string { return operatorReceiver(ns, name, r) }
	var inhibit []map[string]any
	for _, ir := range c.Spec.InhibitRules {
		inhibit = append(inhibit, map[string]any{
			"source_matchers": scoped(matchers(ir.SourceMatch), ns),
			"target_matchers": scoped(matchers(ir.TargetMatch), ns),
			"equal":           ir.Equal,
		})
	}
	receivers := []map[string]any{{"name": "null"}}
	for _, r := range c.Spec.Receivers {
		out := map[string]any{"name": prefix(r.Name)}
		var hooks []map[string]any
		for _, w := range r.WebhookConfigs {
			hooks = append(hooks, map[string]any{"url": w.URL, "send_resolved": w.SendResolved})
		}
		if hooks != nil {
			out["webhook_configs"] = hooks
		}
		receivers = append(receivers, out)
	}
	top := convertRoute(c.Spec.Route, prefix)
	top["matchers"] = scoped(matchers(c.Spec.Route.Matchers), ns)
	top["continue"] = true
	cfg := map[string]any{
		"route": map[string]any{
			"receiver": "null",
			"routes": []map[string]any{top,
				{"receiver": "null", "matchers": []string{`alertname="Watchdog"`}}},
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

// routeCases: which receiver an alert reaches. The rules' alerts carry the namespace of the
// function's pods (and kafka-exporter's), the deploy namespace, which the test adds.
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

// routesTest asks amtool which receivers the labels reach and returns an error unless they are
// exactly want.
func routesTest(t *testing.T, path, want string, labels []string) error {
	t.Helper()
	args := append([]string{"config", "routes", "test", "--config.file=" + path, "--verify.receivers=" + want}, labels...)
	out, err := runTool(t, ".", "amtool", args...)
	if err != nil {
		return fmt.Errorf("amtool %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func TestAlertmanagerYAML(t *testing.T) {
	requireTools(t, "amtool")
	ns := deployNamespace(t)
	checkConfig(t, amConfig)
	for name, c := range routeCases {
		t.Run(name, func(t *testing.T) {
			if err := routesTest(t, amConfig, c.receiver, append(c.labels, "namespace="+ns)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// the check bites: a wrong expectation fails
	if err := routesTest(t, amConfig, "admin", []string{"alertname=FraudDetectorHighCPU", "severity=warning", "namespace=" + ns}); err == nil {
		t.Fatal("amtool accepted a warning routed to admin")
	}
}

// writeRendered renders the resource (optionally changed first) as the operator would and writes it.
func writeRendered(t *testing.T, change func(string) string) string {
	t.Helper()
	src := amResource
	if change != nil {
		raw, err := os.ReadFile(amResource)
		if err != nil {
			t.Fatal(err)
		}
		src = filepath.Join(t.TempDir(), "alertmanagerconfig.yaml")
		if err := os.WriteFile(src, []byte(change(string(raw))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, renderAlertmanagerConfig(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAlertmanagerConfigResource routes the rules' alerts, labelled with the deploy namespace of
// config/base, through the AlertmanagerConfig as prometheus-operator scopes it.
func TestAlertmanagerConfigResource(t *testing.T) {
	requireTools(t, "amtool")
	ns := deployNamespace(t)
	c := decodeAlertmanagerConfig(t, amResource)
	path := writeRendered(t, nil)
	checkConfig(t, path)
	for name, rc := range routeCases {
		t.Run(name, func(t *testing.T) {
			want := operatorReceiver(ns, c.Metadata.Name, rc.receiver)
			if err := routesTest(t, path, want, append(rc.labels, "namespace="+ns)); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("other namespaces are not ours", func(t *testing.T) {
		if err := routesTest(t, path, "null", []string{"alertname=AdminNotification_MaxScaleHighCPU", "severity=critical", "namespace=elsewhere"}); err != nil {
			t.Fatal(err)
		}
	})
	// The seam of issue 11: the resource in another namespace than the pods scopes its routes to
	// that namespace, and the admin alert falls through to "null".
	t.Run("a resource in another namespace misses the admin alert", func(t *testing.T) {
		moved := writeRendered(t, func(s string) string {
			return strings.Replace(s, "namespace: "+ns, "namespace: fraud-detector", 1)
		})
		labels := []string{"alertname=AdminNotification_MaxScaleHighCPU", "severity=critical", "namespace=" + ns}
		if err := routesTest(t, moved, "null", labels); err != nil {
			t.Fatal(err)
		}
	})
}
