package validate

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// The shared feature store of config/redis, as both variants render it.
const (
	// RedisName names the StatefulSet, its Service and NetworkPolicy, and the Secret that holds
	// the password (created out of band, never in git).
	RedisName        = "fraud-detector-redis"
	RedisSecretKey   = "password"
	RedisPasswordEnv = "REDIS_PASSWORD"
	RedisPort        = 6379
	// FunctionName names the function's Knative Service or Deployment and its NetworkPolicy.
	FunctionName    = "fraud-detector"
	featureStoreEnv = "FEATURE_STORE"
)

// CheckFeatureStore requires the function's container to keep its features in the Redis behind
// svc: REDIS_PASSWORD from the Secret, defined before FEATURE_STORE (Kubernetes expands $(VAR)
// only from variables defined earlier), and FEATURE_STORE a redis:// URL with that password and
// svc's DNS name and port. FEATURE_STORE=memory fails: each pod would score with its own history.
func CheckFeatureStore(c corev1.Container, svc *corev1.Service) error {
	at := map[string][]int{}
	for i, e := range c.Env {
		at[e.Name] = append(at[e.Name], i)
	}
	pw, store := at[RedisPasswordEnv], at[featureStoreEnv]
	var errs []error
	switch {
	case len(store) != 1:
		errs = append(errs, fmt.Errorf("%s is set %d times, want once", featureStoreEnv, len(store)))
	case len(pw) != 1:
		errs = append(errs, fmt.Errorf("%s is set %d times, want once, from Secret %s", RedisPasswordEnv, len(pw), RedisName))
		errs = append(errs, checkStoreURL(c.Env[store[0]], svc))
	default:
		if pw[0] > store[0] {
			errs = append(errs, fmt.Errorf("%s is defined after %s: $(%s) would reach Redis unexpanded", RedisPasswordEnv, featureStoreEnv, RedisPasswordEnv))
		}
		errs = append(errs, checkSecretEnv(c.Env[pw[0]]), checkStoreURL(c.Env[store[0]], svc))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %q: %w", c.Name, err)
	}
	return nil
}

// checkSecretEnv: the variable takes the password key of the Redis Secret, not optionally (a
// missing Secret must keep the pod from starting, not start it without a password).
func checkSecretEnv(e corev1.EnvVar) error {
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		return fmt.Errorf("%s is not taken from a Secret (a literal value would put the password in git)", e.Name)
	}
	r := e.ValueFrom.SecretKeyRef
	if r.Name != RedisName || r.Key != RedisSecretKey {
		return fmt.Errorf("%s from Secret %q key %q, want %q key %q", e.Name, r.Name, r.Key, RedisName, RedisSecretKey)
	}
	if r.Optional != nil && *r.Optional {
		return fmt.Errorf("%s: the Secret key is optional; without it the store would run without a password", e.Name)
	}
	return nil
}

func checkStoreURL(e corev1.EnvVar, svc *corev1.Service) error {
	want := fmt.Sprintf("redis://:$(%s)@%s.%s.svc.cluster.local:%d/0", RedisPasswordEnv, svc.Name, svc.Namespace, RedisPort)
	u, err := url.Parse(e.Value)
	if e.ValueFrom != nil || err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("%s=%q, want %s (the Redis shared by every pod)", featureStoreEnv, e.Value, want)
	}
	var errs []error
	if p, _ := u.User.Password(); p != "$("+RedisPasswordEnv+")" {
		errs = append(errs, fmt.Errorf("%s=%s: the password must be $(%s)", featureStoreEnv, u.Redacted(), RedisPasswordEnv))
	}
	hosts := []string{svc.Name, svc.Name + "." + svc.Namespace}
	hosts = append(hosts, hosts[1]+".svc", hosts[1]+".svc.cluster.local")
	if !slices.Contains(hosts, u.Hostname()) {
		errs = append(errs, fmt.Errorf("%s=%s: host %q is not Service %s/%s", featureStoreEnv, u.Redacted(), u.Hostname(), svc.Namespace, svc.Name))
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == u.Port() }) {
		errs = append(errs, fmt.Errorf("%s=%s: port %q is not a port of Service %s", featureStoreEnv, u.Redacted(), u.Port(), svc.Name))
	}
	return errors.Join(errs...)
}

// CheckRedis checks config/redis as a variant renders it: one StatefulSet, its Service on 6379,
// the password from the Secret, allkeys-lru with maxmemory under the memory limit (a full Redis
// evicts the least recently active histories rather than being OOM-killed or, with noeviction,
// refusing every write so that every transaction gets a 503; issue 12), a NetworkPolicy that lets the function's pods in, and the function's own policy
// that lets them out to it.
func CheckRedis(objs []Object) error {
	var (
		sts     *appsv1.StatefulSet
		svc     *corev1.Service
		np, fnp *networkingv1.NetworkPolicy
		fn      []Pod
	)
	for _, o := range objs {
		switch x := o.Value.(type) {
		case *appsv1.StatefulSet:
			if x.Name == RedisName {
				sts = x
			}
		case *corev1.Service:
			if x.Name == RedisName {
				svc = x
			}
		case *networkingv1.NetworkPolicy:
			switch x.Name {
			case RedisName:
				np = x
			case FunctionName:
				fnp = x
			}
		case *appsv1.Deployment, *servingv1.Service:
			if o.Name == FunctionName {
				fn = append(fn, Pods(o)...)
			}
		}
	}
	if sts == nil || svc == nil || np == nil || fnp == nil || len(fn) != 1 {
		return fmt.Errorf("want StatefulSet, Service and NetworkPolicy %s, NetworkPolicy %s and one function pod; rendered: %t, %t, %t, %t, %d",
			RedisName, FunctionName, sts != nil, svc != nil, np != nil, fnp != nil, len(fn))
	}
	pod := sts.Spec.Template
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		add("StatefulSet %s: want one replica, the single primary (Redis Cluster is not supported)", sts.Name)
	}
	if sts.Spec.ServiceName != svc.Name {
		add("StatefulSet %s: serviceName %q, want %q", sts.Name, sts.Spec.ServiceName, svc.Name)
	}
	if len(svc.Spec.Selector) == 0 || !Selects(metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels) {
		add("Service %s selects %v; the Redis pods have labels %v", svc.Name, svc.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		return errors.Join(append(errs, fmt.Errorf("StatefulSet %s: %d containers, want 1", sts.Name, len(pod.Spec.Containers)))...)
	}
	c := pod.Spec.Containers[0]
	servesPort := false
	for _, sp := range svc.Spec.Ports {
		for _, cp := range c.Ports {
			if sp.Port == RedisPort && cp.ContainerPort == RedisPort && (sp.TargetPort.String() == cp.Name || sp.TargetPort.IntValue() == RedisPort || sp.TargetPort == intstr.IntOrString{}) {
				servesPort = true
			}
		}
	}
	if !servesPort {
		add("Service %s: no port %d reaching the container's port %d", svc.Name, RedisPort, RedisPort)
	}
	errs = append(errs, checkRedisContainer(c))

	if !Selects(np.Spec.PodSelector, pod.Labels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		add("NetworkPolicy %s does not restrict ingress to the Redis pods", np.Name)
	}
	if !slices.ContainsFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
		return AdmitsPeer(r.From, r.Ports, fn[0].Meta.Labels, RedisPort)
	}) {
		add("NetworkPolicy %s does not let the function's pods (%v) in on %d", np.Name, fn[0].Meta.Labels, RedisPort)
	}
	if Selects(fnp.Spec.PodSelector, fn[0].Meta.Labels) && slices.Contains(fnp.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
		!slices.ContainsFunc(fnp.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
			return AdmitsPeer(r.To, r.Ports, pod.Labels, RedisPort)
		}) {
		add("NetworkPolicy %s restricts the function's egress and does not let it reach the Redis pods on %d", fnp.Name, RedisPort)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// checkRedisContainer: requirepass from the Secret, allkeys-lru, maxmemory under the limit.
func checkRedisContainer(c corev1.Container) error {
	var errs []error
	pw := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == RedisPasswordEnv })
	if pw < 0 {
		errs = append(errs, fmt.Errorf("container %q has no %s", c.Name, RedisPasswordEnv))
	} else {
		errs = append(errs, checkSecretEnv(c.Env[pw]))
	}
	arg := func(flag string) string {
		if i := slices.Index(c.Args, flag); i >= 0 && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
		return ""
	}
	if got := arg("--requirepass"); got != "$("+RedisPasswordEnv+")" {
		errs = append(errs, fmt.Errorf("container %q: --requirepass must be $(%s)", c.Name, RedisPasswordEnv))
	}
	if got := arg("--maxmemory-policy"); got != "allkeys-lru" {
		errs = append(errs, fmt.Errorf("container %q: --maxmemory-policy %q, want allkeys-lru (noeviction stops all scoring once Redis is full)", c.Name, got))
	}
	limit := c.Resources.Limits.Memory().Value()
	if mm, err := redisBytes(arg("--maxmemory")); err != nil || mm <= 0 || limit <= 0 || mm >= limit {
		errs = append(errs, fmt.Errorf("container %q: --maxmemory %q must be set below the memory limit %s", c.Name, arg("--maxmemory"), c.Resources.Limits.Memory()))
	}
	return errors.Join(errs...)
}

// redisBytes parses a Redis memory size as redis.conf does: 1k = 1000, 1kb = 1024, any case.
func redisBytes(s string) (int64, error) {
	s = strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
