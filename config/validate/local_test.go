package validate

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// The local cluster's overlay (config/local/app) is the shipped plain variant and observability/
// with only what this machine forces changed. These tests hold it to that, and hold the names
// it shares with the scripts (node address, images, receiver, volume claim) together.

const (
	localApp        = "config/local/app"
	localKnativeApp = "config/local/knative-app"
)

func key(o Object) string {
	var m struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(o.JSON, &m)
	return o.GVK.GroupKind().String() + "/" + m.Metadata.Namespace + "/" + o.Name
}

func byKey(objs []Object) map[string]Object {
	out := map[string]Object{}
	for _, o := range objs {
		out[key(o)] = o
	}
	return out
}

// withoutImages returns the document with every container image blanked, as generic JSON.
func withoutImages(t *testing.T, o Object) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(o.JSON, &m); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "image" {
					if _, ok := c.(string); ok {
						x[k] = ""
						continue
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(m)
	return m
}

// imagesBuilt are the names config/local/images.sh can build (its REPO_PKG, MODULE_BIN and DEBIAN tables).
func imagesBuilt(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "config/local/images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\[([a-z0-9-]+)\]=`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	return out
}

// scriptVar reads NAME=value from a shell script of config/local.
func scriptVar(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "config/local", file))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `=([0-9A-Za-z./_-]+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("config/local/%s sets no %s", file, name)
	}
	return m[1]
}

// Each local overlay and what it renders from: the shipped variant and observability/, with
// the objects the overlay adds (each named in its kustomization or in ../common's).
var localOverlays = map[string]struct {
	shipped []string
	adds    []string
}{
	localApp:        {shipped: []string{"config/kubernetes", "observability"}},
	localKnativeApp: {shipped: []string{"config/knative", "observability"}, adds: []string{"SinkBinding.sources.knative.dev/fraud-detection/kafkasource-dispatcher"}},
}

// localCommon is what config/local/common adds to either variant.
var localCommon = []string{
	"Deployment.apps/fraud-detection/admin-receiver",
	"Deployment.apps/fraud-detection/kafkasource-dispatcher",
	"EndpointSlice.discovery.k8s.io/kafka/my-cluster-kafka-bootstrap-host",
	"EndpointSlice.discovery.k8s.io/mlflow/mlflow-host",
	"Namespace//kafka", "Namespace//mlflow",
	"PersistentVolume//fraud-detector-redis-data",
	"Role.rbac.authorization.k8s.io/fraud-detection/kafkasource-dispatcher",
	"RoleBinding.rbac.authorization.k8s.io/fraud-detection/kafkasource-dispatcher",
	"Secret/fraud-detection/fraud-detector-redis",
	"Service/fraud-detection/admin-receiver",
	"Service/kafka/my-cluster-kafka-bootstrap",
	"Service/mlflow/mlflow",
	"ServiceAccount/fraud-detection/kafkasource-dispatcher",
}

func TestLocalOverlayChangesOnlyWhatTheMachineForces(t *testing.T) {
	built := imagesBuilt(t)
	image := regexp.MustCompile(`^fraud-detector\.local/([a-z0-9-]+):dev$`)
	for overlay, o := range localOverlays {
		t.Run(overlay, func(t *testing.T) {
			local := byKey(render(t, overlay))
			var shipped []Object
			for _, dir := range o.shipped {
				shipped = append(shipped, render(t, dir)...)
			}
			for _, s := range shipped {
				l, ok := local[key(s)]
				if !ok {
					t.Errorf("%s is shipped but missing from the local overlay", key(s))
					continue
				}
				delete(local, key(s))
				if !jsonEqual(withoutImages(t, s), withoutImages(t, l)) {
					t.Errorf("%s differs from the shipped one in more than its images", key(s))
				}
				checkLocalImages(t, l, built, image)
			}
			// What is left is what the overlay adds; each is named in its kustomization.
			var added []string
			for k, l := range local {
				added = append(added, k)
				checkLocalImages(t, l, built, image)
			}
			sort.Strings(added)
			want := append(append([]string{}, localCommon...), o.adds...)
			sort.Strings(want)
			if strings.Join(added, "\n") != strings.Join(want, "\n") {
				t.Errorf("the overlay adds:\n%s\nwant:\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// checkLocalImages: every container image is one images.sh builds, and none is pulled always.
func checkLocalImages(t *testing.T, l Object, built map[string]bool, image *regexp.Regexp) {
	t.Helper()
	for _, p := range Pods(l) {
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			m := image.FindStringSubmatch(c.Image)
			if m == nil || !built[m[1]] {
				t.Errorf("%s: container %s: image %q is not one config/local/images.sh builds", key(l), c.Name, c.Image)
			}
			if c.ImagePullPolicy == corev1.PullAlways {
				t.Errorf("%s: container %s pulls always; nothing can be pulled here", key(l), c.Name)
			}
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The host services' addresses: the node address of cluster.sh, which attack.sh binds Kafka
// and MLflow to, and the ports the shipped manifests dial.
func TestLocalHostServices(t *testing.T) {
	node := scriptVar(t, "cluster.sh", "NODE_IP")
	if got := scriptVar(t, "attack.sh", "NODE_IP"); got != node {
		t.Errorf("attack.sh binds the host services to %s, cluster.sh's node is %s", got, node)
	}
	objs := render(t, localApp)
	services := map[string]*corev1.Service{}
	for _, o := range objs {
		if s, ok := o.Value.(*corev1.Service); ok {
			services[s.Namespace+"/"+s.Name] = s
		}
	}
	slices := 0
	for _, o := range objs {
		es, ok := o.Value.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		slices++
		svc := services[es.Namespace+"/"+es.Labels[discoveryv1.LabelServiceName]]
		if svc == nil {
			t.Errorf("EndpointSlice %s/%s: no Service %q", es.Namespace, es.Name, es.Labels[discoveryv1.LabelServiceName])
			continue
		}
		if len(svc.Spec.Selector) != 0 {
			t.Errorf("Service %s has a selector: its EndpointSlice would be fought over", svc.Name)
		}
		for _, e := range es.Endpoints {
			if len(e.Addresses) != 1 || e.Addresses[0] != node {
				t.Errorf("EndpointSlice %s/%s names %v, want the node %s", es.Namespace, es.Name, e.Addresses, node)
			}
		}
		for _, sp := range svc.Spec.Ports {
			found := false
			for _, p := range es.Ports {
				found = found || (p.Port != nil && *p.Port == sp.TargetPort.IntVal && p.Name != nil && *p.Name == sp.Name)
			}
			if !found {
				t.Errorf("Service %s/%s port %s -> %d has no matching EndpointSlice port", svc.Namespace, svc.Name, sp.Name, sp.TargetPort.IntVal)
			}
		}
	}
	if slices != 2 {
		t.Errorf("%d EndpointSlices, want Kafka's and MLflow's", slices)
	}
	// What the function and the KafkaSource dial must be those Services.
	for _, o := range objs {
		d, ok := o.Value.(*appsv1.Deployment)
		if !ok || d.Name != "fraud-detector" {
			continue
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			switch e.Name {
			case "KAFKA_BROKERS":
				wantService(t, services, "tcp://"+e.Value, e.Name)
			case "MLFLOW_TRACKING_URI":
				wantService(t, services, e.Value, e.Name)
			}
		}
	}
	for _, o := range objs {
		if ks, ok := o.Value.(*KafkaSource); ok {
			for _, b := range ks.Spec.BootstrapServers {
				wantService(t, services, "tcp://"+b, "KafkaSource bootstrapServers")
			}
		}
	}
}

// wantService checks that rawURL's host:port is a Service of the overlay.
func wantService(t *testing.T, services map[string]*corev1.Service, rawURL, what string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Errorf("%s %q: %v", what, rawURL, err)
		return
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Errorf("%s %q: %v", what, rawURL, err)
		return
	}
	parts := strings.Split(host, ".")
	if len(parts) < 2 {
		t.Errorf("%s %q: not a Service name", what, rawURL)
		return
	}
	svc := services[parts[1]+"/"+parts[0]]
	if svc == nil {
		t.Errorf("%s %q: no Service %s/%s in the overlay", what, rawURL, parts[1], parts[0])
		return
	}
	for _, p := range svc.Spec.Ports {
		if strconv.Itoa(int(p.Port)) == port {
			return
		}
	}
	t.Errorf("%s %q: Service %s/%s has no port %s", what, rawURL, parts[1], parts[0], port)
}

// The admin route's webhook reaches the receiver the overlay deploys, on the port it listens on.
func TestLocalAdminReceiver(t *testing.T) {
	objs := render(t, localApp)
	services := map[string]*corev1.Service{}
	var receiver *appsv1.Deployment
	for _, o := range objs {
		switch x := o.Value.(type) {
		case *corev1.Service:
			services[x.Namespace+"/"+x.Name] = x
		case *appsv1.Deployment:
			if x.Name == "admin-receiver" {
				receiver = x
			}
		}
	}
	if receiver == nil {
		t.Fatal("no admin-receiver Deployment")
	}
	urls := 0
	for _, o := range objs {
		ac, ok := o.Value.(*monitoringv1alpha1.AlertmanagerConfig)
		if !ok {
			continue
		}
		for _, r := range ac.Spec.Receivers {
			for _, w := range r.WebhookConfigs {
				if w.URL == nil || r.Name != "admin" {
					continue
				}
				urls++
				wantService(t, services, string(*w.URL), "admin webhook")
				svc := services["fraud-detection/admin-receiver"]
				if svc == nil {
					continue
				}
				if !labelsMatch(svc.Spec.Selector, receiver.Spec.Template.Labels) {
					t.Errorf("Service admin-receiver selects %v, the receiver's pods are %v", svc.Spec.Selector, receiver.Spec.Template.Labels)
				}
				if p := svc.Spec.Ports[0].TargetPort.StrVal; p != receiver.Spec.Template.Spec.Containers[0].Ports[0].Name {
					t.Errorf("Service admin-receiver targets port %q, the container names %q", p, receiver.Spec.Template.Spec.Containers[0].Ports[0].Name)
				}
				if u, _ := url.Parse(string(*w.URL)); u == nil || u.Path != "/alerts" {
					t.Errorf("admin webhook %q: the receiver takes POST /alerts", *w.URL)
				}
			}
		}
	}
	if urls == 0 {
		t.Error("no admin webhook in the AlertmanagerConfig")
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Redis' claim binds to the static volume; the dispatcher may read what its KafkaSource names;
// every custom kind the overlay applies has a CRD (prometheus-operator's come from its module).
func TestLocalVolumeRBACAndCRDs(t *testing.T) {
	objs := render(t, localApp)
	var pv *corev1.PersistentVolume
	var role *rbacv1.Role
	var sts []*appsv1.StatefulSet
	var source *KafkaSource
	for _, o := range objs {
		switch x := o.Value.(type) {
		case *corev1.PersistentVolume:
			pv = x
		case *rbacv1.Role:
			role = x
		case *appsv1.StatefulSet:
			sts = append(sts, x)
		case *KafkaSource:
			source = x
		}
	}
	if pv == nil || role == nil || len(sts) != 1 || source == nil {
		t.Fatalf("want one PersistentVolume, Role, StatefulSet and KafkaSource in the overlay")
	}
	s := sts[0]
	tpl := s.Spec.VolumeClaimTemplates[0]
	claim := tpl.Name + "-" + s.Name + "-0"
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != claim || pv.Spec.ClaimRef.Namespace != s.Namespace {
		t.Errorf("the volume is reserved for %v, the StatefulSet's claim is %s/%s", pv.Spec.ClaimRef, s.Namespace, claim)
	}
	if pv.Spec.Capacity.Storage().Cmp(*tpl.Spec.Resources.Requests.Storage()) < 0 {
		t.Errorf("the volume holds %s, the claim asks %s", pv.Spec.Capacity.Storage(), tpl.Spec.Resources.Requests.Storage())
	}
	if pv.Spec.StorageClassName != ptrOr(tpl.Spec.StorageClassName) {
		t.Errorf("storage class %q vs the claim's %q: they would not bind", pv.Spec.StorageClassName, ptrOr(tpl.Spec.StorageClassName))
	}
	allowed := func(apiVersion, kind string) bool {
		gv, _ := schema.ParseGroupVersion(apiVersion)
		plural := strings.ToLower(kind) + "s"
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if g == gv.Group && res == plural {
						return true
					}
				}
			}
		}
		return false
	}
	refs := []*duckv1.Destination{&source.Spec.Sink}
	if source.Spec.Delivery != nil && source.Spec.Delivery.DeadLetterSink != nil {
		refs = append(refs, source.Spec.Delivery.DeadLetterSink)
	}
	refs = append(refs, &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "sources.knative.dev/v1beta1", Kind: "KafkaSource"}})
	for _, d := range refs {
		if d.Ref != nil && !allowed(d.Ref.APIVersion, d.Ref.Kind) {
			t.Errorf("the dispatcher's Role cannot get %s %s", d.Ref.APIVersion, d.Ref.Kind)
		}
	}
	// CRDs for every custom kind that is not prometheus-operator's.
	crds := map[schema.GroupVersionKind]bool{}
	for _, d := range readLocalCRDs(t) {
		for _, v := range d.Spec.Versions {
			if v.Served {
				crds[schema.GroupVersionKind{Group: d.Spec.Group, Version: v.Name, Kind: d.Spec.Names.Kind}] = true
			}
		}
	}
	for _, o := range objs {
		if scheme.Scheme.Recognizes(o.GVK) || o.GVK.Group == "monitoring.coreos.com" || o.GVK.Group == "kustomize.config.k8s.io" {
			continue // built in, or prometheus-operator's (stack.sh applies its CRDs)
		}
		if !crds[o.GVK] {
			t.Errorf("%s: no CRD in config/local/crds serves %s", key(o), o.GVK)
		}
	}
}

func ptrOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func readLocalCRDs(t *testing.T) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	docs, err := ReadFile(filepath.Join(repo, "config/local/crds/kafka-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, o := range decodeAll(t, docs) {
		out = append(out, o.Value.(*apiextensionsv1.CustomResourceDefinition))
	}
	return out
}

// The Knative overlay's SinkBinding resolves the KafkaSource's own sink for the dispatcher: its
// spec.sink is the KafkaSource's (so the address comes from the shipped ref, through Knative),
// its subject is the dispatcher Deployment, which takes K_SINK (--sink-binding), and it passes
// Eventing's own validation (the webhook's).
func TestLocalSinkBinding(t *testing.T) {
	objs := render(t, localKnativeApp)
	var src *KafkaSource
	var sb *sourcesv1.SinkBinding
	var dispatcher *appsv1.Deployment
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *KafkaSource:
			src = v
		case *sourcesv1.SinkBinding:
			sb = v
		case *appsv1.Deployment:
			if v.Name == "kafkasource-dispatcher" {
				dispatcher = v
			}
		}
	}
	if src == nil || sb == nil || dispatcher == nil {
		t.Fatalf("%s renders KafkaSource %v, SinkBinding %v, dispatcher %v", localKnativeApp, src != nil, sb != nil, dispatcher != nil)
	}
	if !jsonEqual(sb.Spec.Sink, src.Spec.Sink) {
		t.Errorf("SinkBinding sink %+v, KafkaSource sink %+v: want the same", sb.Spec.Sink, src.Spec.Sink)
	}
	if s := sb.Spec.Subject; s.APIVersion != "apps/v1" || s.Kind != "Deployment" || s.Name != dispatcher.Name ||
		(s.Namespace != "" && s.Namespace != dispatcher.Namespace) || sb.Namespace != dispatcher.Namespace {
		t.Errorf("SinkBinding subject %+v in %s: want the dispatcher Deployment %s/%s", s, sb.Namespace, dispatcher.Namespace, dispatcher.Name)
	}
	if args := dispatcher.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--sink-binding") {
		t.Errorf("the dispatcher's args %q lack --sink-binding: it would resolve the sink itself", args)
	}
	sb.SetDefaults(context.Background())
	if err := sb.Validate(context.Background()); err != nil {
		t.Errorf("Eventing rejects the SinkBinding: %v", err)
	}
	// The plain overlay has neither the binding nor the flag.
	for _, o := range render(t, localApp) {
		if d, ok := o.Value.(*appsv1.Deployment); ok && d.Name == "kafkasource-dispatcher" && slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--sink-binding") {
			t.Error("the plain overlay's dispatcher waits for a SinkBinding that only the Knative overlay has")
		}
	}
}

// Knative as this machine runs it (config/local/knative-system over the releases' own yaml,
// which knative.sh copies from the module cache): every image is one images.sh builds, the
// patches named in the kustomization took effect, and nothing else of the release is changed
// beyond what the kustomization names (the CRDs, roles and webhooks are the release's).
func TestLocalKnativeSystem(t *testing.T) {
	cmd := exec.Command(filepath.Join(repo, "config/local/knative.sh"), "release")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("knative.sh release: %v\n%s", err, out)
	}
	docs, err := Render(filepath.Join(repo, "config/local/knative-system"))
	if err != nil {
		t.Fatal(err)
	}
	built := imagesBuilt(t)
	image := regexp.MustCompile(`^fraud-detector\.local/([a-z0-9-]+):dev$`)
	deployments := map[string]*appsv1.Deployment{}
	configMaps := map[string]map[string]string{}
	for _, d := range docs {
		switch d.GVK.Kind {
		case "Deployment":
			var dep appsv1.Deployment
			if err := json.Unmarshal(d.JSON, &dep); err != nil {
				t.Fatal(err)
			}
			deployments[dep.Namespace+"/"+dep.Name] = &dep
			for _, c := range dep.Spec.Template.Spec.Containers {
				if m := image.FindStringSubmatch(c.Image); m == nil || !built[m[1]] {
					t.Errorf("%s/%s: container %s: image %q is not one images.sh builds", dep.Namespace, dep.Name, c.Name, c.Image)
				}
				if dep.Spec.Replicas == nil || *dep.Spec.Replicas > 0 {
					if cpu := c.Resources.Requests.Cpu().String(); cpu != "20m" {
						t.Errorf("%s/%s: requests %s CPU, want the 20m the kustomization names", dep.Namespace, dep.Name, cpu)
					}
				}
			}
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := json.Unmarshal(d.JSON, &cm); err != nil {
				t.Fatal(err)
			}
			configMaps[cm.Namespace+"/"+cm.Name] = cm.Data
		}
		if strings.Contains(string(d.JSON), "ko://") {
			t.Errorf("%s %s still names a ko:// image", d.GVK.Kind, d.Name)
		}
	}
	var names []string
	for n := range deployments {
		names = append(names, n)
	}
	sort.Strings(names)
	want := "knative-eventing/eventing-controller knative-eventing/eventing-webhook knative-serving/autoscaler-hpa " +
		"knative-serving/controller knative-serving/net-gateway-api-controller knative-serving/webhook traefik/traefik"
	if strings.Join(names, " ") != want {
		t.Errorf("Deployments %q, want %q", strings.Join(names, " "), want)
	}
	if q := configMaps["knative-serving/config-deployment"]["queue-sidecar-image"]; q != "fraud-detector.local/knative-serving-queue:dev" {
		t.Errorf("queue-sidecar-image %q", q)
	}
	if r := configMaps["knative-serving/config-deployment"]["registries-skipping-tag-resolving"]; !slices.Contains(strings.Split(r, ","), "fraud-detector.local") {
		t.Errorf("registries-skipping-tag-resolving %q: Serving would ask a registry for the function's digest", r)
	}
	if c := configMaps["knative-serving/config-network"]["ingress-class"]; c != "gateway-api.ingress.networking.knative.dev" {
		t.Errorf("ingress-class %q", c)
	}
	if g := configMaps["knative-serving/config-gateway"]["local-gateways"]; !strings.Contains(g, "gateway: traefik/knative-gateway") || !strings.Contains(g, "service: traefik/traefik") {
		t.Errorf("local-gateways %q: want the Traefik Gateway of traefik.yaml", g)
	}
}
