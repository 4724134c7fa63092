package tests

// The seams between observability/ and the folders it monitors: the namespace config/ deploys to,
// the pods and Services the monitors select, the jobs the rules select on, the Kafka bootstrap
// address eventing/ uses and the admin receiver's Service. Each value is read from the folder that
// owns it (one source of truth), so a test fails when two folders drift apart.

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"function/observability/dashboard"
)

const (
	observabilityDir = ".."
	baseNamespace    = "../../config/base/namespace.yaml"
	baseKustomize    = "../../config/base/kustomization.yaml"
	kafkaSource      = "../../eventing/kafkasource.yaml"
	plainDeployment  = "../../config/kubernetes/deployment.yaml"
	knativeService   = "../../config/knative/service.yaml"
	kafkaExporter    = "../kafka-exporter/kafka-exporter.yaml"
	podMonitors      = "../podmonitor.yaml"
	// The admin receiver's Service (deployed by the local cluster, observability/receiver) and the
	// path it records Alertmanager's webhook POSTs on.
	adminReceiverService = "admin-receiver"
	adminReceiverPort    = "8080"
	adminReceiverPath    = "/alerts"
)

// objectMeta is the part of an object's metadata the tests read.
type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// manifest is one Kubernetes object of a YAML file, decoded loosely: the fields the contracts need.
type manifest struct {
	Source     string     `yaml:"-"`
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       yaml.Node  `yaml:"spec"`
}

// readManifests returns the objects (documents with a kind) of a YAML file.
func readManifests(t *testing.T, path string) []manifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []manifest
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m.Kind != "" {
			m.Source = path
			out = append(out, m)
		}
	}
}

// find returns the only object of kind and name in ms.
func find(t *testing.T, ms []manifest, kind, name string) manifest {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if m.Kind == kind && m.Metadata.Name == name {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s %q, want exactly one", len(found), kind, name)
	}
	return found[0]
}

// spec decodes an object's spec into v.
func spec(t *testing.T, m manifest, v any) {
	t.Helper()
	if err := m.Spec.Decode(v); err != nil {
		t.Fatalf("%s: %s %q: spec: %v", m.Source, m.Kind, m.Metadata.Name, err)
	}
}

// deployNamespace is the namespace config/ deploys the function to: the Namespace object of
// config/base, which its kustomization also sets on every object of both variants.
func deployNamespace(t *testing.T) string {
	t.Helper()
	nss := readManifests(t, baseNamespace)
	if len(nss) != 1 || nss[0].Kind != "Namespace" || nss[0].Metadata.Name == "" {
		t.Fatalf("%s: want one Namespace, got %+v", baseNamespace, nss)
	}
	ns := nss[0].Metadata.Name
	raw, err := os.ReadFile(baseKustomize)
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Namespace string `yaml:"namespace"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	if k.Namespace != ns {
		t.Fatalf("config/base/kustomization.yaml sets namespace %q, its Namespace object is %q", k.Namespace, ns)
	}
	return ns
}

// observabilityManifests returns every Kubernetes object under observability/ (the promtool test
// files and the plain alertmanager.yml are not objects).
func observabilityManifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir(observabilityDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(observabilityDir, "tests") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			out = append(out, readManifests(t, path)...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isGrafanaDashboard: the dashboard ConfigMap lives where Grafana's sidecar looks for it
// (observability/dashboard), not in the function's namespace.
func isGrafanaDashboard(m manifest) bool {
	return m.Kind == "ConfigMap" && m.Metadata.Labels["grafana_dashboard"] == "1"
}

// TestManifestsInDeployNamespace: every object of observability/ lives in the namespace config/
// deploys to, so that the monitors find the pods and the operator's namespace matcher on the
// AlertmanagerConfig's routes equals the alerts' namespace label.
func TestManifestsInDeployNamespace(t *testing.T) {
	ns := deployNamespace(t)
	kinds := map[string]int{}
	for _, m := range observabilityManifests(t) {
		kinds[m.Kind]++
		if m.Kind == "Kustomization" {
			continue // not an object of the cluster
		}
		want := ns
		if isGrafanaDashboard(m) {
			want = dashboard.ConfigMapNamespace
		}
		if m.Metadata.Namespace != want {
			t.Errorf("%s: %s %q in namespace %q, want %q", m.Source, m.Kind, m.Metadata.Name, m.Metadata.Namespace, want)
		}
	}
	for _, k := range []string{"PodMonitor", "ServiceMonitor", "PrometheusRule", "AlertmanagerConfig", "Deployment", "Service", "ConfigMap", "Kustomization"} {
		if kinds[k] == 0 {
			t.Errorf("no %s found under observability/", k)
		}
	}
}

// TestKustomizationListsEveryManifest: `kubectl apply -k observability` applies every object of the
// folder, and sets no namespace of its own (which would move the dashboard away from Grafana).
func TestKustomizationListsEveryManifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(observabilityDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	if k.Namespace != "" {
		t.Errorf("kustomization sets namespace %q: every file names its own", k.Namespace)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[filepath.Join(observabilityDir, r)] = true
	}
	files := map[string]bool{}
	for _, m := range observabilityManifests(t) {
		if m.Kind != "Kustomization" {
			files[m.Source] = true
		}
	}
	for f := range files {
		if !listed[f] {
			t.Errorf("%s is not in observability/kustomization.yaml", f)
		}
	}
	for f := range listed {
		if !files[f] {
			t.Errorf("observability/kustomization.yaml lists %s, which holds no object", f)
		}
	}
}

type monitorSpec struct {
	JobLabel          string `yaml:"jobLabel"`
	NamespaceSelector struct {
		Any        bool     `yaml:"any"`
		MatchNames []string `yaml:"matchNames"`
	} `yaml:"namespaceSelector"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	PodMetricsEndpoints []struct {
		Port string `yaml:"port"`
	} `yaml:"podMetricsEndpoints"`
	Endpoints []struct {
		Port string `yaml:"port"`
	} `yaml:"endpoints"`
}

// TestMonitorsSelectDeployNamespace: every PodMonitor and ServiceMonitor names the deploy namespace
// explicitly and carries the label kube-prometheus-stack's Prometheus selects monitors by.
func TestMonitorsSelectDeployNamespace(t *testing.T) {
	ns := deployNamespace(t)
	n := 0
	for _, m := range observabilityManifests(t) {
		if m.Kind != "PodMonitor" && m.Kind != "ServiceMonitor" {
			continue
		}
		n++
		var s monitorSpec
		spec(t, m, &s)
		if s.NamespaceSelector.Any || !slices.Equal(s.NamespaceSelector.MatchNames, []string{ns}) {
			t.Errorf("%s %q: namespaceSelector %+v, want matchNames [%s]", m.Kind, m.Metadata.Name, s.NamespaceSelector, ns)
		}
		if m.Metadata.Labels["release"] != "kube-prometheus-stack" {
			t.Errorf("%s %q: label release=%q, want kube-prometheus-stack", m.Kind, m.Metadata.Name, m.Metadata.Labels["release"])
		}
	}
	if n < 3 {
		t.Fatalf("%d monitors found, want the function's, loadgen's and kafka-exporter's", n)
	}
}

// selects reports whether matchLabels selects an object with these labels.
func selects(matchLabels, objLabels map[string]string) bool {
	if len(matchLabels) == 0 {
		return false
	}
	for k, v := range matchLabels {
		if objLabels[k] != v {
			return false
		}
	}
	return true
}

// ruleJobs returns, for each metric the PrometheusRule selects, the job="..." values it asks for.
func ruleJobs(t *testing.T) map[string][]string {
	t.Helper()
	jobs := map[string][]string{}
	for _, g := range loadRules(t).Spec.Groups {
		for _, r := range g.Rules {
			e, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s%s: %v", r.Record, r.Alert, err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				for _, m := range vs.LabelMatchers {
					if m.Name == "job" && m.Type == labels.MatchEqual && !slices.Contains(jobs[vs.Name], m.Value) {
						jobs[vs.Name] = append(jobs[vs.Name], m.Value)
					}
				}
				return nil
			})
		}
	}
	return jobs
}

// podTemplate is the part of a workload's pod template the monitors look at.
type podTemplate struct {
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Containers []struct {
				Name  string   `yaml:"name"`
				Image string   `yaml:"image"`
				Args  []string `yaml:"args"`
				Env   []struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				} `yaml:"env"`
				Ports []struct {
					Name string `yaml:"name"`
				} `yaml:"ports"`
			} `yaml:"containers"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

// TestFunctionPodMonitorFindsBothVariants: the function's PodMonitor selects the pods of the plain
// Deployment and of the Knative Service by their labels, scrapes a port each names, and gives them
// the job the rules select the function's metrics on.
func TestFunctionPodMonitorFindsBothVariants(t *testing.T) {
	pm := find(t, readManifests(t, podMonitors), "PodMonitor", "fraud-detector")
	var s monitorSpec
	spec(t, pm, &s)
	jobs := ruleJobs(t)
	variants := map[string]manifest{
		"plain Deployment": find(t, readManifests(t, plainDeployment), "Deployment", "fraud-detector"),
		"Knative Service":  find(t, readManifests(t, knativeService), "Service", "fraud-detector"),
	}
	for name, w := range variants {
		t.Run(name, func(t *testing.T) {
			var p podTemplate
			spec(t, w, &p)
			podLabels := p.Template.Metadata.Labels
			if !selects(s.Selector.MatchLabels, podLabels) {
				t.Fatalf("selector %v does not select the pods (labels %v)", s.Selector.MatchLabels, podLabels)
			}
			job := podLabels[s.JobLabel]
			for _, metric := range []string{"http_requests_total", "http_request_duration_seconds_bucket"} {
				if !slices.Equal(jobs[metric], []string{job}) {
					t.Errorf("the rules select %s on job %v, the PodMonitor makes job=%q", metric, jobs[metric], job)
				}
			}
			ports := map[string]bool{}
			for _, c := range p.Template.Spec.Containers {
				for _, port := range c.Ports {
					ports[port.Name] = true
				}
			}
			if name == "Knative Service" {
				ports["user-port"] = true // Knative names the user container's port user-port
			}
			scraped := 0
			for _, e := range s.PodMetricsEndpoints {
				if ports[e.Port] {
					scraped++
				}
			}
			if scraped != 1 {
				t.Errorf("%d of the PodMonitor's endpoints %+v name a port of the pods (%v), want exactly 1", scraped, s.PodMetricsEndpoints, ports)
			}
		})
	}
}

// flagValues returns the values of --name=value arguments.
func flagValues(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestKafkaExporterContract: kafka-exporter reads the Kafka cluster the KafkaSource consumes from
// (eventing/kafkasource.yaml) with the real danielqsj/kafka_exporter flags, exports the
// KafkaSource's consumer group and topic, and is scraped under the job the lag rule selects on.
func TestKafkaExporterContract(t *testing.T) {
	ms := readManifests(t, kafkaExporter)
	var source struct {
		BootstrapServers []string `yaml:"bootstrapServers"`
		Topics           []string `yaml:"topics"`
		ConsumerGroup    string   `yaml:"consumerGroup"`
	}
	spec(t, find(t, readManifests(t, kafkaSource), "KafkaSource", "fraud-detector"), &source)
	if len(source.BootstrapServers) == 0 || len(source.Topics) == 0 || source.ConsumerGroup == "" {
		t.Fatalf("KafkaSource spec incomplete: %+v", source)
	}

	dep := find(t, ms, "Deployment", "kafka-exporter")
	var p podTemplate
	spec(t, dep, &p)
	if len(p.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Template.Spec.Containers))
	}
	c := p.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "docker.io/danielqsj/kafka-exporter:v") {
		t.Errorf("image %q, want docker.io/danielqsj/kafka-exporter:v…", c.Image)
	}
	// the flags kafka_exporter v1.9.0 defines (kingpin rejects any other)
	known := []string{"kafka.server", "group.filter", "topic.filter", "web.listen-address", "web.telemetry-path", "kafka.version", "refresh.metadata"}
	for _, a := range c.Args {
		name, _, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok || !slices.Contains(known, name) {
			t.Errorf("argument %q is not one of kafka_exporter's --flag=value (%v)", a, known)
		}
	}
	servers := flagValues(c.Args, "kafka.server")
	want := slices.Clone(source.BootstrapServers)
	sort.Strings(servers)
	sort.Strings(want)
	if !slices.Equal(servers, want) {
		t.Errorf("--kafka.server %v, the KafkaSource's bootstrapServers %v", servers, want)
	}
	// the plain Deployment publishes predictions to the same cluster
	var fn podTemplate
	spec(t, find(t, readManifests(t, plainDeployment), "Deployment", "fraud-detector"), &fn)
	for _, e := range fn.Template.Spec.Containers[0].Env {
		if e.Name == "KAFKA_BROKERS" && e.Value != strings.Join(source.BootstrapServers, ",") {
			t.Errorf("the function's KAFKA_BROKERS %q, the KafkaSource's bootstrapServers %v", e.Value, source.BootstrapServers)
		}
	}
	groups, topics := flagValues(c.Args, "group.filter"), flagValues(c.Args, "topic.filter")
	if len(groups) != 1 || len(topics) != 1 {
		t.Fatalf("want one --group.filter and one --topic.filter, got %v %v", groups, topics)
	}
	for _, tp := range source.Topics {
		if !regexpMatches(t, topics[0], tp) {
			t.Errorf("--topic.filter %q drops the KafkaSource's topic %q", topics[0], tp)
		}
	}
	if !regexpMatches(t, groups[0], source.ConsumerGroup) {
		t.Errorf("--group.filter %q drops the KafkaSource's group %q", groups[0], source.ConsumerGroup)
	}

	// scraped: a monitor selects the exporter and gives it the lag rule's job
	jobs := ruleJobs(t)["kafka_consumergroup_lag"]
	if len(jobs) != 1 {
		t.Fatalf("the rules select kafka_consumergroup_lag on jobs %v, want one", jobs)
	}
	svc := find(t, ms, "Service", "kafka-exporter")
	var svcSpec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name string `yaml:"name"`
		} `yaml:"ports"`
	}
	spec(t, svc, &svcSpec)
	if !selects(svcSpec.Selector, p.Template.Metadata.Labels) {
		t.Errorf("Service selector %v does not select the exporter's pods %v", svcSpec.Selector, p.Template.Metadata.Labels)
	}
	sm := find(t, ms, "ServiceMonitor", "kafka-exporter")
	var s monitorSpec
	spec(t, sm, &s)
	if !selects(s.Selector.MatchLabels, svc.Metadata.Labels) {
		t.Fatalf("ServiceMonitor selector %v does not select the Service (labels %v)", s.Selector.MatchLabels, svc.Metadata.Labels)
	}
	job := svc.Metadata.Labels[s.JobLabel]
	if job == "" {
		job = svc.Metadata.Name // the operator's default: the Service's name
	}
	if job != jobs[0] {
		t.Errorf("kafka-exporter is scraped as job=%q, the lag rule selects job=%q", job, jobs[0])
	}
	if len(s.Endpoints) != 1 || len(svcSpec.Ports) != 1 || s.Endpoints[0].Port != svcSpec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoints %+v do not name the Service's port %+v", s.Endpoints, svcSpec.Ports)
	}
}

// adminReceiverURL is the webhook the admin route must deliver to: the receiver's Service in the
// deploy namespace.
func adminReceiverURL(ns string) string {
	return (&url.URL{Scheme: "http", Host: adminReceiverService + "." + ns + ".svc:" + adminReceiverPort, Path: adminReceiverPath}).String()
}

// TestAdminWebhookTargetsReceiverService: both forms of the routing send the admin receiver's
// notifications to the admin-receiver Service of the deploy namespace.
func TestAdminWebhookTargetsReceiverService(t *testing.T) {
	want := adminReceiverURL(deployNamespace(t))
	c := decodeAlertmanagerConfig(t, amResource)
	var resource []string
	for _, r := range c.Spec.Receivers {
		if r.Name == "admin" {
			for _, w := range r.WebhookConfigs {
				resource = append(resource, w.URL)
			}
		}
	}
	if !slices.Equal(resource, []string{want}) {
		t.Errorf("AlertmanagerConfig admin webhooks %v, want [%s]", resource, want)
	}
	raw, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	var plain struct {
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				URL string `yaml:"url"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range plain.Receivers {
		if r.Name == "admin" {
			for _, w := range r.WebhookConfigs {
				got = append(got, w.URL)
			}
		}
	}
	if !slices.Equal(got, []string{want}) {
		t.Errorf("alertmanager.yml admin webhooks %v, want [%s]", got, want)
	}
}

// regexpMatches matches as kafka_exporter's filters do: regexp.MatchString, unanchored.
func regexpMatches(t *testing.T, re, s string) bool {
	t.Helper()
	m, err := regexp.Compile(re)
	if err != nil {
		t.Fatalf("regex %q: %v", re, err)
	}
	return m.MatchString(s)
}
