package validate

import (
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// repo is the repository root, seen from config/validate.
const repo = "../.."

// skipDirs are not deployment manifests: tool state, virtualenvs and the local test broker.
var skipDirs = map[string]bool{".git": true, ".venv": true, "venv": true, "node_modules": true, "eventing/local": true, ".cache": true,
	// Knative's own release yaml, copied from the module cache by config/local/knative.sh (TestLocalKnativeSystem).
	"config/local/knative-system/release": true}

// repoManifests returns every YAML document of the repository that names an apiVersion and kind.
func repoManifests(t *testing.T) []Doc {
	t.Helper()
	var docs []Doc
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		if d.IsDir() {
			if skipDirs[rel] || skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		ds, err := ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		for _, d := range ds {
			if d.GVK.Kind != "" {
				d.Source = strings.TrimPrefix(d.Source, repo+"/")
				docs = append(docs, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", repo, err)
	}
	return docs
}

// decodeAll strictly decodes every document, failing the test for each that does not decode.
func decodeAll(t *testing.T, docs []Doc) []Object {
	t.Helper()
	var objs []Object
	for _, d := range docs {
		o, err := Decode(d)
		if err != nil {
			t.Error(err)
			continue
		}
		objs = append(objs, o)
	}
	return objs
}

// render renders a kustomization of the repository and decodes its output.
func render(t *testing.T, dir string) []Object {
	t.Helper()
	docs, err := Render(filepath.Join(repo, dir))
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, docs)
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	docs := repoManifests(t)
	kinds := map[string]int{}
	for _, o := range decodeAll(t, docs) {
		kinds[o.GVK.Kind]++
	}
	// The walk must have found this part's own manifests (and the observability ones by kind).
	for _, k := range []string{"Kustomization", "Namespace", "ServiceAccount", "NetworkPolicy", "Service",
		"Deployment", "StatefulSet", "HorizontalPodAutoscaler", "KafkaSource", "KafkaSink", "KafkaTopic", "PrometheusRule"} {
		if kinds[k] == 0 {
			t.Errorf("no %s found in the repository", k)
		}
	}
	names := make([]string, 0, len(kinds))
	for k, n := range kinds {
		names = append(names, k+"="+strconv.Itoa(n))
	}
	sort.Strings(names)
	t.Logf("%d documents decoded strictly: %s", len(docs), strings.Join(names, " "))
}

// TestEveryPodIsRestricted runs Pod Security Standards "restricted" over every pod template of
// the repository and of both rendered variants.
func TestEveryPodIsRestricted(t *testing.T) {
	objs := decodeAll(t, repoManifests(t))
	objs = append(objs, render(t, "config/knative")...)
	objs = append(objs, render(t, "config/kubernetes")...)
	n := 0
	for _, o := range objs {
		for _, p := range Pods(o) {
			n++
			if err := CheckRestricted(p); err != nil {
				t.Error(err)
			}
		}
	}
	if n < 4 {
		t.Fatalf("only %d pod templates found", n)
	}
	t.Logf("%d pod templates pass restricted:latest", n)
}

// variant is one rendered deployment variant, indexed.
type variant struct {
	objs        []Object
	refs        map[string]bool // apiVersion/kind/name of every object
	ksvcs       []*servingv1.Service
	deployments map[string]*appsv1.Deployment
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	services    []*corev1.Service
	sources     []*KafkaSource
	sinks       []*KafkaSink
	topics      map[string]*KafkaTopic
}

func loadVariant(t *testing.T, dir string) variant {
	t.Helper()
	v := variant{refs: map[string]bool{}, deployments: map[string]*appsv1.Deployment{}, topics: map[string]*KafkaTopic{}}
	v.objs = render(t, dir)
	for _, o := range v.objs {
		v.refs[o.GVK.GroupVersion().String()+"/"+o.GVK.Kind+"/"+o.Name] = true
		switch x := o.Value.(type) {
		case *servingv1.Service:
			v.ksvcs = append(v.ksvcs, x)
		case *appsv1.Deployment:
			v.deployments[x.Name] = x
		case *autoscalingv2.HorizontalPodAutoscaler:
			v.hpas = append(v.hpas, x)
		case *corev1.Service:
			v.services = append(v.services, x)
		case *KafkaSource:
			v.sources = append(v.sources, x)
		case *KafkaSink:
			v.sinks = append(v.sinks, x)
		case *KafkaTopic:
			v.topics[x.Name] = x
		}
	}
	return v
}

func TestVariants(t *testing.T) {
	tests := map[string]struct {
		dir                          string
		ksvcs, deployments, hpas     int
		wantSinkKind, wantSinkAPIVer string
	}{
		"knative":    {dir: "config/knative", ksvcs: 1, wantSinkKind: "Service", wantSinkAPIVer: "serving.knative.dev/v1"},
		"kubernetes": {dir: "config/kubernetes", deployments: 1, hpas: 1, wantSinkKind: "Service", wantSinkAPIVer: "v1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := loadVariant(t, tc.dir)
			if len(v.ksvcs) != tc.ksvcs || len(v.deployments) != tc.deployments || len(v.hpas) != tc.hpas {
				t.Fatalf("rendered %d Knative Services, %d Deployments, %d HPAs; want %d, %d, %d",
					len(v.ksvcs), len(v.deployments), len(v.hpas), tc.ksvcs, tc.deployments, tc.hpas)
			}
			for _, s := range v.ksvcs {
				if err := CheckKnativeService(s); err != nil {
					t.Error(err)
				}
				if err := CheckKnativeAutoscaling(s); err != nil {
					t.Error(err)
				}
			}
			for _, h := range v.hpas {
				if err := CheckHPA(h, v.deployments); err != nil {
					t.Error(err)
				}
			}
			if len(v.sources) != 1 {
				t.Fatalf("%d KafkaSources rendered, want 1", len(v.sources))
			}
			src := v.sources[0]
			if err := CheckKafkaSource(src, v.refs); err != nil {
				t.Error(err)
			}
			if r := src.Spec.Sink.Ref; r == nil || r.Kind != tc.wantSinkKind || r.APIVersion != tc.wantSinkAPIVer {
				t.Errorf("KafkaSource sink %+v, want %s %s", r, tc.wantSinkAPIVer, tc.wantSinkKind)
			}
			if err := CheckRedis(v.objs); err != nil {
				t.Error(err)
			}
			checkTopics(t, v)
			checkNamespaces(t, v)
			checkNetworkPolicies(t, v)
		})
	}
}

// checkTopics: the topics the source reads and the dead-letter sink writes are declared, in
// the Kafka cluster's namespace, with the partitions that ordered delivery needs.
func checkTopics(t *testing.T, v variant) {
	t.Helper()
	for _, name := range []string{"transactions-input", "fraud-predictions", "transactions-dead-letter"} {
		if v.topics[name] == nil {
			t.Errorf("no KafkaTopic %q", name)
		}
	}
	for _, s := range v.sources {
		for _, name := range s.Spec.Topics {
			tp := v.topics[name]
			if tp == nil {
				continue
			}
			if got := tp.Spec.Partitions; float64(got) < MinPartitions {
				t.Errorf("topic %s has %d partitions; ordered delivery of %d TPS at %v ms per event needs %.0f",
					name, got, AttackTPS, EventLatencyMillis, MinPartitions)
			}
		}
	}
	for _, s := range v.sinks {
		if v.topics[s.Spec.Topic] == nil {
			t.Errorf("KafkaSink %q writes topic %q, which no KafkaTopic declares", s.Name, s.Spec.Topic)
		}
	}
	for _, tp := range v.topics {
		if tp.Namespace != "kafka" || tp.Labels["strimzi.io/cluster"] == "" {
			t.Errorf("KafkaTopic %q: namespace %q, labels %v; want namespace kafka and a strimzi.io/cluster label", tp.Name, tp.Namespace, tp.Labels)
		}
		if tp.Spec.Replicas < 3 {
			t.Errorf("KafkaTopic %q: %d replicas, want >= 3", tp.Name, tp.Spec.Replicas)
		}
	}
}

func checkNamespaces(t *testing.T, v variant) {
	t.Helper()
	want := deployNamespace(t)
	for _, o := range v.objs {
		var ns string
		switch x := o.Value.(type) {
		case *KafkaTopic:
			continue
		case *corev1.Namespace:
			if x.Name != want {
				t.Errorf("namespace %q rendered, want %q", x.Name, want)
			}
			continue
		case interface{ GetNamespace() string }:
			ns = x.GetNamespace()
		}
		if ns != want {
			t.Errorf("%s %q in namespace %q, want %q", o.GVK.Kind, o.Name, ns, want)
		}
	}
}

// checkNetworkPolicies: a NetworkPolicy that selects no pod protects nothing, and every pod of
// the render (the function's, Redis') is selected by one.
func checkNetworkPolicies(t *testing.T, v variant) {
	t.Helper()
	var pods []Pod
	for _, o := range v.objs {
		pods = append(pods, Pods(o)...)
	}
	covered := make([]bool, len(pods))
	found := false
	for _, o := range v.objs {
		np, ok := o.Value.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		found = true
		selects := false
		for i, p := range pods {
			if Selects(np.Spec.PodSelector, p.Meta.Labels) {
				selects, covered[i] = true, true
			}
		}
		if !selects {
			t.Errorf("NetworkPolicy %q selects %v: no pod of the render", np.Name, np.Spec.PodSelector.MatchLabels)
		}
	}
	if !found {
		t.Error("no NetworkPolicy rendered")
	}
	for i, p := range pods {
		if !covered[i] {
			t.Errorf("no NetworkPolicy selects the pods of %s (labels %v)", p.Where, p.Meta.Labels)
		}
	}
}

// functionContainer returns a variant's function container and the Redis Service of its render.
func functionContainer(t *testing.T, v variant) (corev1.Container, *corev1.Service) {
	t.Helper()
	var cs []corev1.Container
	for _, s := range v.ksvcs {
		cs = append(cs, s.Spec.Template.Spec.Containers...)
	}
	if d := v.deployments[FunctionName]; d != nil {
		cs = append(cs, d.Spec.Template.Spec.Containers...)
	}
	if len(cs) != 1 {
		t.Fatalf("%d function containers rendered, want 1", len(cs))
	}
	for _, s := range v.services {
		if s.Name == RedisName {
			return cs[0], s
		}
	}
	t.Fatalf("no Service %s rendered", RedisName)
	return corev1.Container{}, nil
}

// TestFunctionSharesRedis: in both variants the function keeps its features in config/redis,
// with the password from the Secret; FEATURE_STORE=memory (a history per pod) fails.
func TestFunctionSharesRedis(t *testing.T) {
	for _, dir := range []string{"config/knative", "config/kubernetes"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, svc := functionContainer(t, loadVariant(t, dir))
			if err := CheckFeatureStore(c, svc); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSamePodInBothVariants: the plain-Kubernetes variant runs the Knative one's container; the
// only differences are the port's name (Knative requires http1/h2c), the probes' port (Knative
// fills it in) and the plain variant's preStop sleep (Knative's queue-proxy drains in front of
// the user container, which may not set a lifecycle), whose grace period must cover the sleep, the
// function's DRAIN_DELAY (5 s) and SHUTDOWN_TIMEOUT (30 s).
func TestSamePodInBothVariants(t *testing.T) {
	kn := loadVariant(t, "config/knative")
	k8s := loadVariant(t, "config/kubernetes")
	if len(kn.ksvcs) != 1 || len(k8s.deployments) != 1 {
		t.Fatalf("want one Knative Service and one Deployment")
	}
	a := kn.ksvcs[0].Spec.Template.Spec.PodSpec.Containers
	var b []corev1.Container
	for _, d := range k8s.deployments {
		b = d.Spec.Template.Spec.Containers
	}
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("containers: %d and %d, want 1 and 1", len(a), len(b))
	}
	ca, cb := *a[0].DeepCopy(), *b[0].DeepCopy()
	if len(cb.Ports) != 1 || cb.Ports[0].ContainerPort != ca.Ports[0].ContainerPort {
		t.Fatalf("ports differ: %+v vs %+v", ca.Ports, cb.Ports)
	}
	cb.Ports[0].Name = ca.Ports[0].Name
	if ca.Lifecycle != nil {
		t.Errorf("the Knative container sets a lifecycle: %+v", ca.Lifecycle)
	}
	if cb.Lifecycle == nil || cb.Lifecycle.PreStop == nil || cb.Lifecycle.PreStop.Sleep == nil || cb.Lifecycle.PreStop.Sleep.Seconds < 5 {
		t.Errorf("the plain variant needs a preStop sleep of at least 5 s (the time to leave every Service): %+v", cb.Lifecycle)
	} else {
		for _, d := range k8s.deployments {
			const drainDelay, shutdownTimeout = 5, 30
			need := cb.Lifecycle.PreStop.Sleep.Seconds + drainDelay + shutdownTimeout
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < need {
				t.Errorf("terminationGracePeriodSeconds %v, want at least %d (preStop + DRAIN_DELAY + SHUTDOWN_TIMEOUT)", g, need)
			}
		}
	}
	cb.Lifecycle = nil
	for _, p := range []*corev1.Probe{cb.LivenessProbe, cb.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port != intstr.FromString("http") {
			t.Fatalf("plain variant probe %+v must use the named port http", p)
		}
		p.HTTPGet.Port = intstr.IntOrString{}
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("containers differ:\nknative:    %+v\nkubernetes: %+v", ca, cb)
	}
	ka, kb := kn.ksvcs[0].Spec.Template.Spec.PodSpec, corev1.PodSpec{}
	for _, d := range k8s.deployments {
		kb = d.Spec.Template.Spec
	}
	if ka.ServiceAccountName != kb.ServiceAccountName || !reflect.DeepEqual(ka.AutomountServiceAccountToken, kb.AutomountServiceAccountToken) {
		t.Errorf("service accounts differ: %q vs %q", ka.ServiceAccountName, kb.ServiceAccountName)
	}
}

// TestFunctionContract: the container speaks the function's contract (port 8080, the probe
// paths, the environment it reads) and its resources are the ones SIZING.md derives.
func TestFunctionContract(t *testing.T) {
	v := loadVariant(t, "config/knative")
	if len(v.ksvcs) != 1 {
		t.Fatal("want one Knative Service")
	}
	c := v.ksvcs[0].Spec.Template.Spec.PodSpec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want the single port 8080", c.Ports)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/health/liveness" {
		t.Errorf("liveness probe %+v, want GET /health/liveness", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/health/readiness" {
		t.Errorf("readiness probe %+v, want GET /health/readiness", c.ReadinessProbe)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for _, k := range []string{"LISTEN_ADDRESS", "MODEL_URI", "MLFLOW_TRACKING_URI", "KAFKA_BROKERS", "PREDICTIONS_TOPIC", "FEATURE_STORE", "FRAUD_THRESHOLD"} {
		if _, ok := env[k]; !ok {
			t.Errorf("env %s not set", k)
		}
	}
	if env["LISTEN_ADDRESS"] != "[::]:8080" || env["PREDICTIONS_TOPIC"] != "fraud-predictions" {
		t.Errorf("LISTEN_ADDRESS=%q PREDICTIONS_TOPIC=%q", env["LISTEN_ADDRESS"], env["PREDICTIONS_TOPIC"])
	}
	req := c.Resources.Requests.Cpu().MilliValue()
	if req != UserCPURequestMilli {
		t.Errorf("CPU request %dm, SIZING.md derives %dm", req, UserCPURequestMilli)
	}
	// Knative adds queue-proxy to every pod; its request counts in the HPA's utilization, so the
	// Service sets it (config-deployment's cluster default, 25m, is not what SIZING.md derives).
	qp := v.ksvcs[0].Spec.Template.Annotations["queue.sidecar.serving.knative.dev/cpu-resource-request"]
	if q, err := resource.ParseQuantity(qp); err != nil || q.MilliValue() != QueueProxyCPURequestMilli {
		t.Errorf("queue-proxy CPU request %q (queue.sidecar.serving.knative.dev/cpu-resource-request), SIZING.md derives %dm", qp, QueueProxyCPURequestMilli)
	}
	if lim := c.Resources.Limits.Cpu().MilliValue(); lim <= req {
		t.Errorf("CPU limit %dm <= request %dm: utilization could never pass 100 %%", lim, req)
	}
	// SIZING.md's costs were measured with one P per core of the limit (Go's own choice has a
	// floor of 2): GOMAXPROCS follows limits.cpu, rounded up.
	if want := strconv.FormatInt(c.Resources.Limits.Cpu().Value(), 10); env["GOMAXPROCS"] != want {
		t.Errorf("GOMAXPROCS=%q, want %s (the CPU limit %s in whole cores)", env["GOMAXPROCS"], want, c.Resources.Limits.Cpu())
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceMemory} {
		if c.Resources.Requests.Name(r, "").IsZero() || c.Resources.Limits.Name(r, "").IsZero() {
			t.Errorf("%s request and limit must both be set", r)
		}
	}
}
