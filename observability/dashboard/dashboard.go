// Package dashboard builds the fraud-detector Grafana dashboard with grafana-foundation-sdk and
// wraps it in the ConfigMap that kube-prometheus-stack's Grafana sidecar provisions.
//
// The committed fraud-detector.json and configmap.yaml are its output (go generate, or
// `go run ./observability/dashboard/cmd/gendashboard`); a golden test keeps them in step.
package dashboard

//go:generate go run ./cmd/gendashboard -out .

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	dash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"go.yaml.in/yaml/v3"
)

// UID is the dashboard's stable identifier (links and provisioning rely on it).
const UID = "fraud-detector"

// DatasourceVariable names the Prometheus datasource template variable every panel queries.
const DatasourceVariable = "datasource"

// NamespaceVariable names the template variable that picks the function's namespace; its "All"
// value is the regex .*.
const NamespaceVariable = "namespace"

// Selectors shared with observability/prometheusrule.yaml: the same jobs and the same anchored
// pod and HPA names, for the Knative and the plain Deployment variants.
const (
	nsSel      = `namespace=~"$` + NamespaceVariable + `"`
	fnSel      = `job="fraud-detector", ` + nsSel
	scoringSel = fnSel + `, route!~"/metrics|/health.*"`
	podRE      = `fraud-detector-([0-9]{5}-deployment-)?[a-z0-9]{6,10}-[a-z0-9]{5}`
	hpaSel     = `job="kube-state-metrics", ` + nsSel + `, horizontalpodautoscaler=~"fraud-detector(-[0-9]+)?"`
	cadvisor   = `job="kubelet", metrics_path="/metrics/cadvisor", ` + nsSel + `, pod=~"` + podRE + `", container!="", container!="POD", image!=""`
	// kafka-exporter may run in another namespace: the group and topic identify the lag.
	lagSel = `job="kafka-exporter", consumergroup="fraud-detector", topic="transactions-input"`
)

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + DatasourceVariable + "}")}
}

func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(datasource()).Expr(expr).LegendFormat(legend)
}

func series(title, description, unit string, span uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(span).
		Height(8).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

// threshold draws a dashed red line at an alert's threshold.
func threshold(panel *timeseries.PanelBuilder, value float64) *timeseries.PanelBuilder {
	return panel.
		Thresholds(dash.NewThresholdsConfigBuilder().
			Mode(dash.ThresholdsModeAbsolute).
			Steps([]dash.Threshold{{Color: "green"}, {Value: cog.ToPtr(value), Color: "red"}})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

func quantile(q float64, selector string) string {
	return fmt.Sprintf(`histogram_quantile(%g, sum by (le) (rate(http_request_duration_seconds_bucket{%s}[$__rate_interval])))`, q, selector)
}

// Build returns the dashboard.
func Build() (dash.Dashboard, error) {
	b := dash.NewDashboardBuilder("Fraud detector").
		Uid(UID).
		Description("Real-time fraud scoring: traffic, latency, errors, autoscaling, Kafka lag, the load generator, the model in service and its drift.").
		Tags([]string{"fraud-detector", "knative", "generated"}).
		Editable().
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dash.DashboardCursorSyncCrosshair).
		WithVariable(dash.NewDatasourceVariableBuilder(DatasourceVariable).
			Label("Data source").
			Type("prometheus")).
		WithVariable(dash.NewQueryVariableBuilder(NamespaceVariable).
			Label("Namespace").
			Datasource(datasource()).
			Query(dash.StringOrMap{String: cog.ToPtr(`label_values(ml_model_info{job="fraud-detector"}, namespace)`)}).
			Refresh(dash.VariableRefreshOnTimeRangeChanged).
			Sort(dash.VariableSortAlphabeticalAsc).
			IncludeAll(true).
			AllValue(".*")).
		WithRow(dash.NewRowBuilder("Traffic and decisions")).
		WithPanel(series("Scored transactions per second",
			"Predictions per second split by decision (ml_model_predictions_total by outcome).", "ops", 12).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			FillOpacity(20).
			WithTarget(query(`sum by (outcome) (rate(ml_model_predictions_total{`+fnSel+`}[$__rate_interval]))`, "{{outcome}}"))).
		WithPanel(series("Fraud rate", "Share of scored transactions flagged as fraud.", "percentunit", 6).
			Min(0).
			WithTarget(query(`sum(rate(ml_model_predictions_total{`+fnSel+`, outcome="fraud"}[$__rate_interval])) / sum(rate(ml_model_predictions_total{`+fnSel+`}[$__rate_interval]))`, "fraud rate"))).
		WithPanel(series("HTTP responses by code", "Scoring requests (probes and scrapes left out) by status code.", "reqps", 6).
			WithTarget(query(`sum by (code) (rate(http_requests_total{`+scoringSel+`}[$__rate_interval]))`, "{{code}}"))).
		WithRow(dash.NewRowBuilder("Latency and errors")).
		WithPanel(threshold(series("Response time p50 / p95 / p99",
			"http_request_duration_seconds of scoring requests; FraudDetectorSlowResponses fires when p95 > 2 s for 5 minutes.", "s", 12), 2).
			WithTarget(query(quantile(0.5, scoringSel), "p50")).
			WithTarget(query(quantile(0.95, scoringSel), "p95")).
			WithTarget(query(quantile(0.99, scoringSel), "p99")).
			WithTarget(query(`histogram_quantile(0.95, sum by (le) (rate(ml_model_prediction_duration_seconds_bucket{`+fnSel+`}[$__rate_interval])))`, "model p95"))).
		WithPanel(series("Errors by reason", "ml_model_errors_total by reason.", "ops", 6).
			WithTarget(query(`sum by (reason) (rate(ml_model_errors_total{`+fnSel+`}[$__rate_interval]))`, "{{reason}}"))).
		WithPanel(threshold(series("Error ratio", "Errors over scoring requests, as FraudDetectorHighErrorRate sees it (> 5 % for 5 minutes).", "percentunit", 6), 0.05).
			Min(0).
			WithTarget(query(`namespace:fraud_detector_errors:ratio_rate5m{`+nsSel+`}`, "{{namespace}}"))).
		WithRow(dash.NewRowBuilder("Autoscaling and resources")).
		WithPanel(series("Replicas: current / desired / max", "The HPA's view (kube-state-metrics); the admin alert needs current >= max.", "short", 8).
			Min(0).
			WithTarget(query(`max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{`+hpaSel+`})`, "current {{horizontalpodautoscaler}}")).
			WithTarget(query(`max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{`+hpaSel+`})`, "desired {{horizontalpodautoscaler}}")).
			WithTarget(query(`max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{`+hpaSel+`})`, "max {{horizontalpodautoscaler}}"))).
		WithPanel(threshold(series("CPU % of request per pod",
			"Usage over requests, all containers of each pod; the thick line is the HPA's ratio of sums that both CPU alerts use (80 %).", "percentunit", 8), 0.8).
			Min(0).
			WithTarget(query(`namespace_pod:fraud_detector_cpu_usage_seconds:rate2m{`+nsSel+`} / namespace_pod:fraud_detector_cpu_requests:sum{`+nsSel+`}`, "{{pod}}")).
			WithTarget(query(`namespace:fraud_detector_cpu_utilisation:ratio{`+nsSel+`}`, "all pods ({{namespace}})"))).
		WithPanel(series("Memory working set per pod", "container_memory_working_set_bytes summed over each pod's containers.", "bytes", 8).
			Min(0).
			WithTarget(query(`sum by (pod) (container_memory_working_set_bytes{`+cadvisor+`})`, "{{pod}}"))).
		WithRow(dash.NewRowBuilder("Kafka and load generator")).
		WithPanel(threshold(series("Kafka consumer lag", "kafka_consumergroup_lag of group fraud-detector on transactions-input, summed over partitions (alert: > 1000 for 5 minutes).", "short", 8), 1000).
			Min(0).
			WithTarget(query(`sum by (topic) (kafka_consumergroup_lag{`+lagSel+`})`, "{{topic}}"))).
		WithPanel(series("Load generator: target vs achieved TPS", "What loadgen aims at and what it achieves, and its send errors.", "ops", 10).
			Min(0).
			WithTarget(query(`sum(loadgen_target_tps)`, "target")).
			WithTarget(query(`sum(loadgen_achieved_tps)`, "achieved")).
			WithTarget(query(`sum(rate(loadgen_sent_total[$__rate_interval]))`, "sent")).
			WithTarget(query(`sum(rate(loadgen_errors_total[$__rate_interval]))`, "errors"))).
		WithPanel(stat.NewPanelBuilder().
			Title("Attack phase").
			Description("Index of the load generator's current phase, from 1 (1 = 50 TPS, 2 = 200, 3 = 500, 4 = 1500 by default); 0 before and after a run.").
			Datasource(datasource()).
			Span(6).
			Height(8).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(query(`max(loadgen_phase)`, "phase"))).
		WithRow(dash.NewRowBuilder("Model")).
		WithPanel(stat.NewPanelBuilder().
			Title("Model in service").
			Description("ml_model_info of the running pods: name and version of the model each serves.").
			Datasource(datasource()).
			Span(8).
			Height(6).
			TextMode(common.BigValueTextModeName).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(query(`count by (model_name, model_version) (ml_model_info{`+fnSel+`})`, "{{model_name}} {{model_version}}").Instant())).
		WithPanel(series("Predictions by model version", "Shows a promoted model taking over.", "ops", 8).
			WithTarget(query(`sum by (model_version) (rate(ml_model_predictions_total{`+fnSel+`}[$__rate_interval]))`, "{{model_version}}"))).
		WithPanel(series("Fraud probability p50 / p95", "Quantiles of the scores (ml_model_fraud_probability): a shift hints at drift.", "percentunit", 8).
			Min(0).
			WithTarget(query(`histogram_quantile(0.5, sum by (le) (rate(ml_model_fraud_probability_bucket{`+fnSel+`}[$__rate_interval])))`, "p50")).
			WithTarget(query(`histogram_quantile(0.95, sum by (le) (rate(ml_model_fraud_probability_bucket{`+fnSel+`}[$__rate_interval])))`, "p95"))).
		WithRow(dash.NewRowBuilder("Drift")).
		WithPanel(threshold(series("Feature drift (PSI per input)",
			"Population stability index of each model input over the last scored transactions against the model's training window, max over pods (ml_model_feature_psi). < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant: FraudDetectorFeatureDrift fires after 30 minutes (weekend and night are clock-driven and not alerted on).", "short", 12), 0.25).
			Min(0).
			WithTarget(query(`max by (feature) (ml_model_feature_psi{`+fnSel+`})`, "{{feature}}"))).
		WithPanel(threshold(series("Score drift (PSI)",
			"PSI of the fraud probability against the scores of the training window, max over pods, by model version (ml_model_score_psi); FraudDetectorScoreDrift fires above 0.25 for 30 minutes.", "short", 12), 0.25).
			Min(0).
			WithTarget(query(`max by (model_version) (ml_model_score_psi{`+fnSel+`})`, "{{model_version}}")))
	d, err := b.Build()
	if err != nil {
		return dash.Dashboard{}, fmt.Errorf("build dashboard: %w", err)
	}
	setRefIDs(d.Panels)
	return d, nil
}

// setRefIDs names each panel's queries A, B, C… as Grafana's editor would, so that the provisioned
// JSON needs no fixing up on load.
func setRefIDs(panels []dash.PanelOrRowPanel) {
	for _, p := range panels {
		if p.Panel == nil {
			continue
		}
		for i, t := range p.Panel.Targets {
			if q, ok := t.(prometheus.Dataquery); ok {
				q.RefId = cog.ToPtr(string(rune('A' + i)))
				p.Panel.Targets[i] = q
			}
		}
	}
}

// JSON returns the dashboard as indented JSON with a trailing newline.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal dashboard: %w", err)
	}
	return append(out, '\n'), nil
}

// ConfigMapName is the name of the provisioning ConfigMap.
const ConfigMapName = "fraud-detector-dashboard"

// ConfigMapNamespace is where the ConfigMap lives: Grafana's, not the function's. The dashboard
// sidecar of kube-prometheus-stack's Grafana watches its own release namespace unless
// sidecar.dashboards.searchNamespace says otherwise; Grafana, not the fraud detector, owns it.
const ConfigMapNamespace = "monitoring"

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type configMap struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
}

// ConfigMap wraps the dashboard JSON in a ConfigMap that kube-prometheus-stack's Grafana sidecar
// picks up by its grafana_dashboard label.
func ConfigMap(dashboardJSON []byte) ([]byte, error) {
	cm := configMap{
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Metadata: objectMeta{
			Name:      ConfigMapName,
			Namespace: ConfigMapNamespace,
			Labels: map[string]string{
				"grafana_dashboard":         "1",
				"app.kubernetes.io/name":    "fraud-detector",
				"app.kubernetes.io/part-of": "fraud-detector",
			},
			Annotations: map[string]string{
				// the sidecar's folder annotation (kube-prometheus-stack: sidecar.dashboards.folderAnnotation)
				"grafana_folder": "fraud-detector",
			},
		},
		Data: map[string]string{"fraud-detector.json": string(dashboardJSON)},
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by observability/dashboard/cmd/gendashboard; do not edit.\n")
	buf.WriteString("# Namespace " + ConfigMapNamespace + ", not the function's: Grafana's dashboard sidecar (kube-prometheus-stack)\n")
	buf.WriteString("# reads the ConfigMaps of its own release namespace unless sidecar.dashboards.searchNamespace is set.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cm); err != nil {
		return nil, fmt.Errorf("marshal configmap: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal configmap: %w", err)
	}
	return buf.Bytes(), nil
}
