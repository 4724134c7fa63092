package dashboard_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	dash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"

	"function/observability/dashboard"
	"function/observability/rules"
)

var update = flag.Bool("update", false, "rewrite fraud-detector.json and configmap.yaml from the generator")

const (
	jsonFile      = "fraud-detector.json"
	configMapFile = "configmap.yaml"
)

// TestGolden holds the committed JSON and ConfigMap to what the generator produces.
func TestGolden(t *testing.T) {
	js, err := dashboard.JSON()
	if err != nil {
		t.Fatal(err)
	}
	cm, err := dashboard.ConfigMap(js)
	if err != nil {
		t.Fatal(err)
	}
	golden := map[string][]byte{jsonFile: js, configMapFile: cm}
	for name, want := range golden {
		t.Run(name, func(t *testing.T) {
			if *update {
				if err := os.WriteFile(name, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: run `go generate ./observability/dashboard` (or this test with -update)", name)
			}
		})
	}
}

// loadCommitted decodes the committed JSON with the SDK's schema types (dashboard, panels and the
// Prometheus query variant registered by the plugins) and holds it to a lossless round trip: a
// field the schema does not know, or a value of the wrong type, fails. (The SDK's own
// UnmarshalJSONStrict cannot be used in v0.0.22: it returns its empty error list as a non-nil
// error, a typed nil, from every nested panel.)
func loadCommitted(t *testing.T) dash.Dashboard {
	t.Helper()
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	var d dash.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s does not decode by the dashboard schema: %v", jsonFile, err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("%s fails the schema's validation: %v", jsonFile, err)
	}
	again, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var before, after any
	if err := json.Unmarshal(raw, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &after); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s does not survive a round trip through the schema types: some field is unknown to it or mistyped", jsonFile)
	}
	return d
}

type target struct {
	panel, refID, expr string
	datasourceUID      string
}

func targets(t *testing.T, d dash.Dashboard) []target {
	t.Helper()
	var out []target
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		title := ""
		if p.Panel.Title != nil {
			title = *p.Panel.Title
		}
		if len(p.Panel.Targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, q := range p.Panel.Targets {
			// re-decode each query generically: the check must not depend on the SDK's variant types
			raw, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			var generic struct {
				RefID      string `json:"refId"`
				Expr       string `json:"expr"`
				Datasource struct {
					Type string `json:"type"`
					UID  string `json:"uid"`
				} `json:"datasource"`
			}
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if generic.Datasource.Type != "prometheus" {
				t.Errorf("panel %q query %s: datasource type %q, want prometheus", title, generic.RefID, generic.Datasource.Type)
			}
			out = append(out, target{panel: title, refID: generic.RefID, expr: generic.Expr, datasourceUID: generic.Datasource.UID})
		}
	}
	return out
}

// TestImport checks the dashboard as Grafana will load it: schema, datasource variable, and every
// query parsed by Prometheus's PromQL parser with every metric name known.
func TestImport(t *testing.T) {
	d := loadCommitted(t)
	if d.Uid == nil || *d.Uid != dashboard.UID {
		t.Errorf("uid = %v, want %q", d.Uid, dashboard.UID)
	}

	vars := map[string]dash.VariableType{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars[dashboard.DatasourceVariable] != dash.VariableTypeDatasource {
		t.Errorf("no datasource variable %q", dashboard.DatasourceVariable)
	}
	if vars[dashboard.NamespaceVariable] != dash.VariableTypeQuery {
		t.Errorf("no query variable %q", dashboard.NamespaceVariable)
	}

	f, err := rules.Load("../prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := rules.Known(f.Records())
	used := map[string]bool{}
	queries := targets(t, d)
	if len(queries) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(queries))
	}
	for _, q := range queries {
		t.Run(q.panel+"/"+q.refID, func(t *testing.T) {
			if q.datasourceUID != "${"+dashboard.DatasourceVariable+"}" {
				t.Errorf("datasource uid %q, want the ${%s} variable", q.datasourceUID, dashboard.DatasourceVariable)
			}
			names, err := rules.MetricNames(q.expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				used[n] = true
				if !known[n] {
					t.Errorf("%q uses %s, which is neither a function, loadgen or cluster metric nor a recording rule", q.expr, n)
				}
			}
		})
	}

	// The list of what the dashboard shows, by the metric that carries it.
	for _, want := range []string{
		"ml_model_predictions_total", "http_request_duration_seconds_bucket", "ml_model_errors_total",
		"kube_horizontalpodautoscaler_status_current_replicas", "kube_horizontalpodautoscaler_status_desired_replicas",
		"kube_horizontalpodautoscaler_spec_max_replicas", "namespace_pod:fraud_detector_cpu_usage_seconds:rate2m",
		"container_memory_working_set_bytes", "kafka_consumergroup_lag", "loadgen_target_tps", "loadgen_achieved_tps",
		"ml_model_info",
	} {
		if !used[want] {
			t.Errorf("no panel queries %s", want)
		}
	}
}

// TestConfigMap checks the provisioning ConfigMap carries the sidecar label and the same JSON.
func TestConfigMap(t *testing.T) {
	raw, err := os.ReadFile(configMapFile)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" {
		t.Errorf("got %s %s, want v1 ConfigMap", cm.APIVersion, cm.Kind)
	}
	if cm.Metadata.Labels["grafana_dashboard"] != "1" {
		t.Errorf("label grafana_dashboard = %q, want \"1\"", cm.Metadata.Labels["grafana_dashboard"])
	}
	js, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data[jsonFile]; got != string(js) {
		t.Errorf("data[%s] differs from %s", jsonFile, jsonFile)
	}
	if strings.Contains(string(js), "DS_PROMETHEUS") {
		t.Error("the JSON uses __inputs-style ${DS_PROMETHEUS}, which provisioning cannot resolve")
	}
}
