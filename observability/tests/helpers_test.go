package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"function/observability/rules"
)

const (
	ruleFile   = "../prometheusrule.yaml"
	runbook    = "../RUNBOOK.md"
	amConfig   = "../alertmanager/alertmanager.yml"
	amResource = "../alertmanager/alertmanagerconfig.yaml"
	repoRoot   = "../.."
)

// requireTools skips unless OBSERVABILITY_TOOLS is set, and then fails if a tool is missing: under
// `make test-observability` a missing tool is an error, never a skip.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	if os.Getenv("OBSERVABILITY_TOOLS") == "" {
		t.Skip("needs the Prometheus tools: run `make test-observability` (sets OBSERVABILITY_TOOLS=1)")
	}
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s not on PATH (make test-observability installs it): %v", n, err)
		}
	}
}

// runTool runs a command in dir and returns its combined output and error.
func runTool(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func loadRules(t *testing.T) *rules.File {
	t.Helper()
	f, err := rules.Load(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// writeRules writes f's spec as dir/rules.yaml, the name the promtool test files load.
func writeRules(t *testing.T, f *rules.File, dir string) string {
	t.Helper()
	out, err := f.RulesYAML()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ruleTestFiles copies the promtool test files next to a rules.yaml in dir and returns their names.
func ruleTestFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob("rules/*_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no promtool test files in rules/")
	}
	var names []string
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		// promtool evaluates rule groups in no fixed order unless told: an alert over a recording
		// rule would then see the previous tick's value now and then (a flaky "fires at 40m").
		if !strings.Contains(string(raw), "\ngroup_eval_order: [fraud-detector.recording, fraud-detector.alerts]\n") {
			t.Fatalf("%s: set group_eval_order: [fraud-detector.recording, fraud-detector.alerts]", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}
