package validate

import (
	"path/filepath"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// deployNamespace is the one namespace both variants deploy to: the Namespace object of
// config/base (its kustomization sets it on every object too). Every check reads it from there.
func deployNamespace(t *testing.T) string {
	t.Helper()
	docs, err := ReadFile(filepath.Join(repo, "config/base/namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, docs)
	if len(objs) != 1 {
		t.Fatalf("config/base/namespace.yaml: %d objects, want one Namespace", len(objs))
	}
	ns, ok := objs[0].Value.(*corev1.Namespace)
	if !ok || ns.Name == "" {
		t.Fatalf("config/base/namespace.yaml: %s %q, want a Namespace", objs[0].GVK.Kind, objs[0].Name)
	}
	return ns.Name
}

// TestObservabilityInDeployNamespace renders `kubectl apply -k observability` and decodes it with
// prometheus-operator's own types: the monitors, rules and routing live in the deploy namespace
// and the monitors select it explicitly (an AlertmanagerConfig elsewhere would be scoped by the
// operator to alerts of that other namespace). The Grafana dashboard ConfigMap is Grafana's.
func TestObservabilityInDeployNamespace(t *testing.T) {
	want := deployNamespace(t)
	kinds := map[string]int{}
	for _, o := range render(t, "observability") {
		kinds[o.GVK.Kind]++
		var ns string
		var sel *monitoringv1.NamespaceSelector
		switch x := o.Value.(type) {
		case *corev1.ConfigMap:
			if x.Labels["grafana_dashboard"] == "1" {
				continue
			}
			ns = x.Namespace
		case *monitoringv1.PodMonitor:
			ns, sel = x.Namespace, &x.Spec.NamespaceSelector
		case *monitoringv1.ServiceMonitor:
			ns, sel = x.Namespace, &x.Spec.NamespaceSelector
		case *monitoringv1alpha1.AlertmanagerConfig:
			ns = x.Namespace
		case interface{ GetNamespace() string }:
			ns = x.GetNamespace()
		}
		if ns != want {
			t.Errorf("%s %q in namespace %q, want %q", o.GVK.Kind, o.Name, ns, want)
		}
		if sel != nil && (sel.Any || !slices.Equal(sel.MatchNames, []string{want})) {
			t.Errorf("%s %q: namespaceSelector %+v, want matchNames [%s]", o.GVK.Kind, o.Name, *sel, want)
		}
	}
	for _, k := range []string{"PodMonitor", "ServiceMonitor", "PrometheusRule", "AlertmanagerConfig", "Deployment", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("observability renders no %s", k)
		}
	}
}
