// Package rules reads observability/prometheusrule.yaml and knows which metrics the
// fraud-detector's rules and dashboard may refer to.
//
// promtool cannot read a PrometheusRule (its maintainers declined, prometheus/prometheus#5767),
// so the tests take the rules file out of the resource's spec with [File.RulesYAML].
package rules

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// File is a monitoring.coreos.com/v1 PrometheusRule, decoded strictly (unknown fields fail).
type File struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       Spec     `yaml:"spec"`
}

// Metadata is the part of Kubernetes object metadata the resource uses.
type Metadata struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Spec is exactly a Prometheus rules file.
type Spec struct {
	Groups []Group `yaml:"groups"`
}

// Group is a rule group.
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Load reads and strictly decodes a PrometheusRule manifest.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if f.APIVersion != "monitoring.coreos.com/v1" || f.Kind != "PrometheusRule" {
		return nil, fmt.Errorf("%s: want monitoring.coreos.com/v1 PrometheusRule, got %s %s", path, f.APIVersion, f.Kind)
	}
	return &f, nil
}

// RulesYAML returns the spec as a plain Prometheus rules file, for promtool and prometheus.
func (f *File) RulesYAML() ([]byte, error) {
	out, err := yaml.Marshal(f.Spec)
	if err != nil {
		return nil, fmt.Errorf("marshal rules: %w", err)
	}
	return out, nil
}

// Alerts returns the alerting rules in file order.
func (f *File) Alerts() []Rule {
	var out []Rule
	for _, g := range f.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// Records returns the names of the recording rules.
func (f *File) Records() []string {
	var out []string
	for _, g := range f.Spec.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

// grafanaVars are the dashboard's built-in variables, replaced the way Grafana would before a
// query reaches Prometheus.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"${__rate_interval}", "5m",
	"$__interval", "1m",
	"${__interval}", "1m",
	"$__range", "1h",
)

// MetricNames parses a PromQL expression (Grafana's $__rate_interval and friends allowed) with
// Prometheus's own parser and returns the metric names it selects, sorted and unique.
func MetricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	seen := map[string]bool{}
	var walkErr error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			walkErr = fmt.Errorf("%q selects series without a metric name", expr)
			return walkErr
		}
		seen[vs.Name] = true
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
