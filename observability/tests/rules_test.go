package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"function/observability/rules"
)

// designAlerts are the alerts of the design, with their severities; all hold for 5m except
// those in alertFor.
var designAlerts = map[string]string{
	"FraudDetectorFeatureDrift":         "warning", // issue 16: drift
	"FraudDetectorScoreDrift":           "warning",
	"FraudDetectorHighCPU":              "warning",
	"FraudDetectorHighErrorRate":        "critical",
	"FraudDetectorSlowResponses":        "warning",
	"FraudDetectorKafkaLag":             "warning",
	"FraudDetectorStateNearCapacity":    "warning", // issue 12: bounded state
	"AdminNotification_MaxScaleHighCPU": "critical",
}

// alertFor are the alerts whose condition must hold longer than 5 minutes.
var alertFor = map[string]string{"FraudDetectorFeatureDrift": "30m", "FraudDetectorScoreDrift": "30m"}

// runbookAnchors returns the GitHub anchors of RUNBOOK.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(runbook)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(title, ""), " ", "-")] = true
	}
	return anchors
}

func TestAlertsMatchDesign(t *testing.T) {
	f := loadRules(t)
	anchors := runbookAnchors(t)
	alerts := f.Alerts()
	if len(alerts) != len(designAlerts) {
		t.Errorf("%d alerts, want the design's %d", len(alerts), len(designAlerts))
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		t.Run(a.Alert, func(t *testing.T) {
			want, ok := designAlerts[a.Alert]
			if !ok {
				t.Fatalf("alert %s is not in the design", a.Alert)
			}
			if seen[a.Alert] {
				t.Fatalf("alert %s defined twice", a.Alert)
			}
			seen[a.Alert] = true
			wantFor := "5m"
			if f, ok := alertFor[a.Alert]; ok {
				wantFor = f
			}
			if a.For != wantFor {
				t.Errorf("for = %q, want %s", a.For, wantFor)
			}
			if got := a.Labels["severity"]; got != want {
				t.Errorf("severity = %q, want %q", got, want)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(a.Annotations[k]) == "" {
					t.Errorf("annotation %s missing", k)
				}
			}
			url := a.Annotations["runbook_url"]
			if !strings.Contains(url, "observability/RUNBOOK.md#") {
				t.Errorf("runbook_url %q does not point into observability/RUNBOOK.md", url)
			}
			anchor := url[strings.LastIndex(url, "#")+1:]
			if anchor != strings.ToLower(a.Alert) || !anchors[anchor] {
				t.Errorf("runbook_url anchor %q: want %q, a heading of RUNBOOK.md", anchor, strings.ToLower(a.Alert))
			}
		})
	}
	for name := range designAlerts {
		if !seen[name] {
			t.Errorf("alert %s of the design is missing", name)
		}
	}
}

// TestRuleQueriesUseKnownMetrics parses every rule with Prometheus's PromQL parser and holds its
// metric names to the lists of the function, kube-state-metrics, cAdvisor and kafka-exporter.
func TestRuleQueriesUseKnownMetrics(t *testing.T) {
	f := loadRules(t)
	known := rules.Known(f.Records())
	for _, l := range rules.LoadgenMetrics {
		delete(known, l) // alerts must not depend on the load generator
	}
	for _, g := range f.Spec.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			t.Run(name, func(t *testing.T) {
				names, err := rules.MetricNames(r.Expr)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if !known[n] {
						t.Errorf("uses unknown metric %s", n)
					}
				}
			})
		}
	}
}

type promtoolTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `yaml:"eval_time"`
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestRuleTestsCoverEveryAlert: every alert has a case where it fires and at least two test groups
// (just below the threshold, just short of 5 minutes) where it must not.
func TestRuleTestsCoverEveryAlert(t *testing.T) {
	paths, err := filepath.Glob("rules/*_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fires := map[string]int{}
	silentGroups := map[string]map[string]bool{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(raw, &pt); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, g := range pt.Tests {
			for _, a := range g.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname]++
					continue
				}
				if silentGroups[a.Alertname] == nil {
					silentGroups[a.Alertname] = map[string]bool{}
				}
				silentGroups[a.Alertname][g.Name] = true
			}
		}
	}
	for name := range designAlerts {
		if fires[name] == 0 {
			t.Errorf("%s: no case where it fires", name)
		}
		if len(silentGroups[name]) < 2 {
			t.Errorf("%s: must-not-fire cases in %d test groups, want at least 2", name, len(silentGroups[name]))
		}
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	requireTools(t, "promtool")
	dir := t.TempDir()
	path := writeRules(t, loadRules(t), dir)
	out, err := runTool(t, dir, "promtool", "check", "rules", path)
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
}

func TestPromtoolTestRules(t *testing.T) {
	requireTools(t, "promtool")
	dir := t.TempDir()
	writeRules(t, loadRules(t), dir)
	for _, name := range ruleTestFiles(t, dir) {
		t.Run(name, func(t *testing.T) {
			out, err := runTool(t, dir, "promtool", "test", "rules", name)
			if err != nil || !strings.Contains(out, "SUCCESS") {
				t.Fatalf("promtool test rules %s: %v\n%s", name, err, out)
			}
		})
	}
}

// TestRuleMutantsFail shows the promtool tests can fail: each small change to an alert's threshold,
// duration or join must break at least one of them.
func TestRuleMutantsFail(t *testing.T) {
	requireTools(t, "promtool")
	type mutant struct {
		alert     string
		from, to  string // in the expression; empty: change `for` to 4m
		forChange bool
	}
	mutants := map[string]mutant{
		"HighCPU threshold 0.78":       {alert: "FraudDetectorHighCPU", from: "> 0.8", to: "> 0.78"},
		"HighCPU for 4m":               {alert: "FraudDetectorHighCPU", forChange: true},
		"HighErrorRate threshold 4.8%": {alert: "FraudDetectorHighErrorRate", from: "> 0.05", to: "> 0.048"},
		"HighErrorRate for 4m":         {alert: "FraudDetectorHighErrorRate", forChange: true},
		"SlowResponses threshold 1.9s": {alert: "FraudDetectorSlowResponses", from: "> 2", to: "> 1.9"},
		"SlowResponses for 4m":         {alert: "FraudDetectorSlowResponses", forChange: true},
		"KafkaLag at 1000":             {alert: "FraudDetectorKafkaLag", from: "> 1000", to: ">= 1000"},
		"KafkaLag for 4m":              {alert: "FraudDetectorKafkaLag", forChange: true},
		"Admin CPU or replicas":        {alert: "AdminNotification_MaxScaleHighCPU", from: "and on (namespace)", to: "or on (namespace)"},
		"Admin threshold 0.78":         {alert: "AdminNotification_MaxScaleHighCPU", from: "> 0.8", to: "> 0.78"},
		"Admin for 4m":                 {alert: "AdminNotification_MaxScaleHighCPU", forChange: true},
		"FeatureDrift at 0.25":         {alert: "FraudDetectorFeatureDrift", from: "> 0.25", to: ">= 0.25"},
		"FeatureDrift for 29m":         {alert: "FraudDetectorFeatureDrift", forChange: true},
		"ScoreDrift at 0.25":           {alert: "FraudDetectorScoreDrift", from: "> 0.25", to: ">= 0.25"},
		"ScoreDrift for 29m":           {alert: "FraudDetectorScoreDrift", forChange: true},
	}
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			f := loadRules(t)
			changed := false
			for gi := range f.Spec.Groups {
				for ri := range f.Spec.Groups[gi].Rules {
					r := &f.Spec.Groups[gi].Rules[ri]
					if r.Alert != m.alert {
						continue
					}
					if m.forChange {
						r.For, changed = "4m", true
						if alertFor[r.Alert] == "30m" {
							r.For = "29m"
						}
					} else if strings.Contains(r.Expr, m.from) {
						r.Expr, changed = strings.Replace(r.Expr, m.from, m.to, 1), true
					}
				}
			}
			if !changed {
				t.Fatalf("mutant did not apply to %s", m.alert)
			}
			dir := t.TempDir()
			writeRules(t, f, dir)
			args := append([]string{"test", "rules"}, ruleTestFiles(t, dir)...)
			out, err := runTool(t, dir, "promtool", args...)
			if err == nil {
				t.Fatalf("the promtool tests pass on a mutant (%s):\n%s", name, out)
			}
			if !strings.Contains(out, "FAILED") {
				t.Fatalf("promtool failed without a failed test (%v):\n%s", err, out)
			}
		})
	}
}
