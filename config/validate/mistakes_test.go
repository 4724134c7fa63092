package validate

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// findDoc returns the rendered or repository document of a kind and name.
func findDoc(t *testing.T, docs []Doc, kind, name string) Doc {
	t.Helper()
	for _, d := range docs {
		if d.GVK.Kind == kind && d.Name == name {
			return d
		}
	}
	t.Fatalf("no %s %q", kind, name)
	return Doc{}
}

// mutate returns a copy of d with f applied to its JSON object.
func mutate(t *testing.T, d Doc, f func(obj map[string]any)) Doc {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(d.JSON, &obj); err != nil {
		t.Fatal(err)
	}
	f(obj)
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	d.JSON = b
	return d
}

func at(obj map[string]any, path ...string) map[string]any {
	for _, p := range path {
		obj = obj[p].(map[string]any)
	}
	return obj
}

func renderDocs(t *testing.T, dir string) []Doc {
	t.Helper()
	docs, err := Render(filepath.Join(repo, dir))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func decodeOne[T any](t *testing.T, d Doc) T {
	t.Helper()
	o, err := Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	return o.Value.(T)
}

// TestChecksCatchMistakes: each check rejects the mistake it exists for, made on a copy of the
// real rendered manifests (so a check that passes everything would fail here).
func TestChecksCatchMistakes(t *testing.T) {
	kn := renderDocs(t, "config/knative")
	k8s := renderDocs(t, "config/kubernetes")
	ksvc := findDoc(t, kn, "Service", "fraud-detector") // the knative variant's core Services are Redis'
	if ksvc.GVK.Group != "serving.knative.dev" {
		t.Fatalf("rendered Service fraud-detector is %s", ksvc.GVK)
	}
	source := findDoc(t, kn, "KafkaSource", "fraud-detector")
	topic := findDoc(t, kn, "KafkaTopic", "transactions-input")
	hpa := findDoc(t, k8s, "HorizontalPodAutoscaler", "fraud-detector")
	app, err := ReadFile(filepath.Join(repo, "config/argocd/application.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	redisSvc := decodeOne[*corev1.Service](t, findDoc(t, kn, "Service", RedisName))
	deployment := findDoc(t, k8s, "Deployment", FunctionName)
	// redisWith renders the knative variant and changes its decoded objects with f.
	redisWith := func(f func(sts *appsv1.StatefulSet, fnp *networkingv1.NetworkPolicy)) []Object {
		objs := render(t, "config/knative")
		var sts *appsv1.StatefulSet
		var fnp *networkingv1.NetworkPolicy
		for _, o := range objs {
			switch x := o.Value.(type) {
			case *appsv1.StatefulSet:
				sts = x
			case *networkingv1.NetworkPolicy:
				if x.Name == FunctionName {
					fnp = x
				}
			}
		}
		f(sts, fnp)
		return objs
	}
	setEnv := func(c *corev1.Container, name string, e corev1.EnvVar) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i] = e
			}
		}
	}
	refs := map[string]bool{}
	for _, d := range kn {
		refs[d.GVK.GroupVersion().String()+"/"+d.GVK.Kind+"/"+d.Name] = true
	}

	tests := map[string]struct {
		check func() error
		want  string // part of the error
	}{
		"unknown field in the Knative Service": {
			check: func() error {
				_, err := Decode(mutate(t, ksvc, func(o map[string]any) { at(o, "spec")["replicas"] = 3 }))
				return err
			},
			want: `unknown field "spec.replicas"`,
		},
		"wrongly cased field": {
			check: func() error {
				_, err := Decode(mutate(t, topic, func(o map[string]any) { at(o, "spec")["Partitions"] = 48 }))
				return err
			},
			want: "Partitions",
		},
		"autoscaling annotations on the Service's metadata (webhook)": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				s.Annotations = map[string]string{"autoscaling.knative.dev/max-scale": "6"}
				return CheckKnativeService(s)
			},
			want: `autoscaling annotations must be put under "spec.template.metadata.annotations"`,
		},
		"a second container port (webhook)": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				c := &s.Spec.Template.Spec.Containers[0]
				c.Ports = append(c.Ports, c.Ports[0])
				c.Ports[1].ContainerPort = 9090
				return CheckKnativeService(s)
			},
			want: "ports",
		},
		"max-scale 8": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				s.Spec.Template.Annotations["autoscaling.knative.dev/max-scale"] = "8"
				return CheckKnativeAutoscaling(s)
			},
			want: "max-scale",
		},
		"capabilities kept (Pod Security)": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				s.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities = nil
				return CheckRestricted(Pods(Object{Doc: ksvc, Value: s})[0])
			},
			want: "capabilities",
		},
		"privilege escalation allowed (Pod Security)": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				s.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
				return CheckRestricted(Pods(Object{Doc: ksvc, Value: s})[0])
			},
			want: "allowPrivilegeEscalation",
		},
		"KafkaSource from the latest offset": {
			check: func() error {
				s := decodeOne[*KafkaSource](t, source)
				s.Spec.InitialOffset = "latest"
				return CheckKafkaSource(s, refs)
			},
			want: "initialOffset",
		},
		"KafkaSource sink that is not deployed": {
			check: func() error {
				s := decodeOne[*KafkaSource](t, source)
				s.Spec.Sink.Ref.Name = "fraud-detektor"
				return CheckKafkaSource(s, refs)
			},
			want: "is not in this render",
		},
		"KafkaSource delivery without retries": {
			check: func() error {
				s := decodeOne[*KafkaSource](t, source)
				s.Spec.Delivery.Retry = nil
				return CheckKafkaSource(s, refs)
			},
			want: "retry",
		},
		"HPA without the memory metric": {
			check: func() error {
				h := decodeOne[*autoscalingv2.HorizontalPodAutoscaler](t, hpa)
				h.Spec.Metrics = h.Spec.Metrics[:1]
				v := loadVariant(t, "config/kubernetes")
				return CheckHPA(h, v.deployments)
			},
			want: "memory utilization target 0, want 70",
		},
		"FEATURE_STORE back to memory (Knative Service)": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				c := &s.Spec.Template.Spec.Containers[0]
				setEnv(c, "FEATURE_STORE", corev1.EnvVar{Name: "FEATURE_STORE", Value: "memory"})
				return CheckFeatureStore(*c, redisSvc)
			},
			want: `FEATURE_STORE="memory"`,
		},
		"FEATURE_STORE back to memory (Deployment)": {
			check: func() error {
				d := decodeOne[*appsv1.Deployment](t, deployment)
				c := &d.Spec.Template.Spec.Containers[0]
				setEnv(c, "FEATURE_STORE", corev1.EnvVar{Name: "FEATURE_STORE", Value: "memory"})
				return CheckFeatureStore(*c, redisSvc)
			},
			want: `FEATURE_STORE="memory"`,
		},
		"REDIS_PASSWORD defined after FEATURE_STORE": {
			check: func() error {
				d := decodeOne[*appsv1.Deployment](t, deployment)
				c := &d.Spec.Template.Spec.Containers[0]
				pw := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == RedisPasswordEnv })
				c.Env = append(c.Env[:pw:pw], append(c.Env[pw+1:], c.Env[pw])...)
				return CheckFeatureStore(*c, redisSvc)
			},
			want: "unexpanded",
		},
		"Redis password as a literal": {
			check: func() error {
				s := decodeOne[*servingv1.Service](t, ksvc)
				c := &s.Spec.Template.Spec.Containers[0]
				setEnv(c, RedisPasswordEnv, corev1.EnvVar{Name: RedisPasswordEnv, Value: "hunter2"})
				return CheckFeatureStore(*c, redisSvc)
			},
			want: "not taken from a Secret",
		},
		"Redis refusing writes when full": {
			check: func() error {
				return CheckRedis(redisWith(func(sts *appsv1.StatefulSet, _ *networkingv1.NetworkPolicy) {
					args := sts.Spec.Template.Spec.Containers[0].Args
					args[slices.Index(args, "allkeys-lru")] = "noeviction"
				}))
			},
			want: "want allkeys-lru",
		},
		"function egress to Redis not allowed": {
			check: func() error {
				return CheckRedis(redisWith(func(_ *appsv1.StatefulSet, fnp *networkingv1.NetworkPolicy) {
					fnp.Spec.Egress = slices.DeleteFunc(fnp.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
						return len(r.Ports) > 0 && r.Ports[0].Port.IntValue() == RedisPort
					})
				}))
			},
			want: "does not let it reach the Redis pods",
		},
		"ArgoCD Application with an unknown field (CRD pruning)": {
			check: func() error {
				_, err := Decode(mutate(t, app[0], func(o map[string]any) { at(o, "spec", "syncPolicy")["autoSync"] = true }))
				return err
			},
			want: "autoSync",
		},
		"ArgoCD Application with a wrong type (CRD schema)": {
			check: func() error {
				_, err := Decode(mutate(t, app[0], func(o map[string]any) { at(o, "spec", "syncPolicy", "automated")["prune"] = "yes" }))
				return err
			},
			want: "prune",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.check()
			if err == nil {
				t.Fatal("the mistake passed the check")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestArgoCDApplications: both Applications sync automatically with prune and self-heal, create
// the namespace, stay in the project, and point at a path that kustomize renders.
func TestArgoCDApplications(t *testing.T) {
	tests := map[string]string{"knative": "config/argocd/application.yaml", "kubernetes": "config/argocd/application-kubernetes.yaml"}
	for name, file := range tests {
		t.Run(name, func(t *testing.T) {
			docs, err := ReadFile(filepath.Join(repo, file))
			if err != nil {
				t.Fatal(err)
			}
			var app struct {
				Spec struct {
					Project string `json:"project"`
					Source  struct {
						Path string `json:"path"`
					} `json:"source"`
					Destination struct {
						Namespace string `json:"namespace"`
					} `json:"destination"`
					SyncPolicy struct {
						Automated   *struct{ Prune, SelfHeal bool } `json:"automated"`
						SyncOptions []string                        `json:"syncOptions"`
					} `json:"syncPolicy"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(docs[0].JSON, &app); err != nil {
				t.Fatal(err)
			}
			s := app.Spec
			if s.SyncPolicy.Automated == nil || !s.SyncPolicy.Automated.Prune || !s.SyncPolicy.Automated.SelfHeal {
				t.Errorf("syncPolicy.automated %+v, want prune and selfHeal", s.SyncPolicy.Automated)
			}
			if !contains(s.SyncPolicy.SyncOptions, "CreateNamespace=true") {
				t.Errorf("syncOptions %v lack CreateNamespace=true", s.SyncPolicy.SyncOptions)
			}
			if s.Project != "fraud-detector" || s.Destination.Namespace != deployNamespace(t) {
				t.Errorf("project %q, namespace %q, want fraud-detector, %q", s.Project, s.Destination.Namespace, deployNamespace(t))
			}
			if s.Source.Path != "config/"+name {
				t.Errorf("source.path %q, want config/%s", s.Source.Path, name)
			}
			if _, err := Render(filepath.Join(repo, s.Source.Path)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestArgoCDProjectAllowsEveryKind: ArgoCD refuses to sync a kind the AppProject does not
// whitelist, so every kind of both rendered variants must be listed.
func TestArgoCDProjectAllowsEveryKind(t *testing.T) {
	docs, err := ReadFile(filepath.Join(repo, "config/argocd/appproject.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type groupKind struct{ Group, Kind string }
	var p struct {
		Spec struct {
			Cluster   []groupKind `json:"clusterResourceWhitelist"`
			Namespace []groupKind `json:"namespaceResourceWhitelist"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(docs[0].JSON, &p); err != nil {
		t.Fatal(err)
	}
	allowed := map[groupKind]bool{}
	for _, gk := range append(p.Spec.Cluster, p.Spec.Namespace...) {
		allowed[gk] = true
	}
	for _, dir := range []string{"config/knative", "config/kubernetes"} {
		for _, d := range renderDocs(t, dir) {
			if gk := (groupKind{d.GVK.Group, d.GVK.Kind}); !allowed[gk] {
				t.Errorf("%s renders %s %q; AppProject fraud-detector does not allow %+v", dir, d.GVK.Kind, d.Name, gk)
			}
		}
	}
}
