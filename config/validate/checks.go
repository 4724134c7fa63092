package validate

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/autoscaling"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Pod is a pod template found in a manifest.
type Pod struct {
	Where string
	Meta  metav1.ObjectMeta
	Spec  corev1.PodSpec
}

// Pods returns the pod templates an object carries (Deployments, StatefulSets, DaemonSets,
// Jobs, CronJobs, Pods and Knative Services).
func Pods(o Object) []Pod {
	where := fmt.Sprintf("%s %s %q", o.Source, o.GVK.Kind, o.Name)
	switch v := o.Value.(type) {
	case *corev1.Pod:
		return []Pod{{where, v.ObjectMeta, v.Spec}}
	case *appsv1.Deployment:
		return []Pod{{where, v.Spec.Template.ObjectMeta, v.Spec.Template.Spec}}
	case *appsv1.StatefulSet:
		return []Pod{{where, v.Spec.Template.ObjectMeta, v.Spec.Template.Spec}}
	case *appsv1.DaemonSet:
		return []Pod{{where, v.Spec.Template.ObjectMeta, v.Spec.Template.Spec}}
	case *batchv1.Job:
		return []Pod{{where, v.Spec.Template.ObjectMeta, v.Spec.Template.Spec}}
	case *batchv1.CronJob:
		return []Pod{{where, v.Spec.JobTemplate.Spec.Template.ObjectMeta, v.Spec.JobTemplate.Spec.Template.Spec}}
	case *servingv1.Service:
		return []Pod{{where, v.Spec.Template.ObjectMeta, v.Spec.Template.Spec.PodSpec}}
	}
	return nil
}

var restricted = func() *policyEvaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("pod-security-admission: %v", err))
	}
	return &policyEvaluator{e}
}()

type policyEvaluator struct{ policy.Evaluator }

// CheckRestricted evaluates a pod against Pod Security Standards "restricted" (latest) with the
// admission plugin's own policy code.
func CheckRestricted(p Pod) error {
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	agg := policy.AggregateCheckResults(restricted.EvaluatePod(lv, &p.Meta, &p.Spec))
	if !agg.Allowed {
		return fmt.Errorf("%s: violates PodSecurity restricted:latest: %s: %s", p.Where, agg.ForbiddenReason(), agg.ForbiddenDetail())
	}
	return nil
}

// CheckKnativeService runs Knative Serving's webhook defaulting and validation on a copy of s
// (as on create) and fails on errors and warnings alike.
func CheckKnativeService(s *servingv1.Service) error {
	s = s.DeepCopy()
	ctx := apis.WithinCreate(context.Background())
	s.SetDefaults(ctx)
	if fe := s.Validate(ctx); fe != nil {
		var errs []error
		if e := fe.Filter(apis.ErrorLevel); e != nil {
			errs = append(errs, fmt.Errorf("error: %w", e))
		}
		if w := fe.Filter(apis.WarningLevel); w != nil {
			errs = append(errs, fmt.Errorf("warning: %w", w))
		}
		return fmt.Errorf("knative Service %q: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// WantScale is the autoscaling every variant must have.
const (
	WantMinScale = 4
	WantMaxScale = 6
	WantCPU      = 80
	WantMemory   = 70
)

// CheckKnativeAutoscaling requires the HPA class, cpu 80, 4-6 on the revision template and no
// autoscaling annotation on the Service's own metadata.
func CheckKnativeAutoscaling(s *servingv1.Service) error {
	var errs []error
	for k := range s.Annotations {
		if len(k) > len(autoscaling.GroupName) && k[:len(autoscaling.GroupName)] == autoscaling.GroupName {
			errs = append(errs, fmt.Errorf("annotation %s on the Service's metadata: it belongs on spec.template.metadata", k))
		}
	}
	want := map[string]string{
		autoscaling.ClassAnnotationKey:    autoscaling.HPA,
		autoscaling.MetricAnnotationKey:   autoscaling.CPU,
		autoscaling.TargetAnnotationKey:   fmt.Sprint(WantCPU),
		autoscaling.MinScaleAnnotationKey: fmt.Sprint(WantMinScale),
		autoscaling.MaxScaleAnnotationKey: fmt.Sprint(WantMaxScale),
	}
	got := s.Spec.Template.Annotations
	for k, v := range want {
		if got[k] != v {
			errs = append(errs, fmt.Errorf("spec.template.metadata.annotations[%s] = %q, want %q", k, got[k], v))
		}
	}
	return errors.Join(errs...)
}

// CheckHPA requires min 4, max 6, CPU 80 % and memory 70 % utilization, and a scale target
// among the given Deployments.
func CheckHPA(h *autoscalingv2.HorizontalPodAutoscaler, deployments map[string]*appsv1.Deployment) error {
	var errs []error
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != WantMinScale {
		errs = append(errs, fmt.Errorf("minReplicas %v, want %d", h.Spec.MinReplicas, WantMinScale))
	}
	if h.Spec.MaxReplicas != WantMaxScale {
		errs = append(errs, fmt.Errorf("maxReplicas %d, want %d", h.Spec.MaxReplicas, WantMaxScale))
	}
	want := map[corev1.ResourceName]int32{corev1.ResourceCPU: WantCPU, corev1.ResourceMemory: WantMemory}
	got := map[corev1.ResourceName]int32{}
	for _, m := range h.Spec.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil ||
			m.Resource.Target.Type != autoscalingv2.UtilizationMetricType || m.Resource.Target.AverageUtilization == nil {
			errs = append(errs, fmt.Errorf("metric %+v: want a Resource metric with a Utilization target", m))
			continue
		}
		got[m.Resource.Name] = *m.Resource.Target.AverageUtilization
	}
	for r, u := range want {
		if got[r] != u {
			errs = append(errs, fmt.Errorf("%s utilization target %d, want %d", r, got[r], u))
		}
	}
	ref := h.Spec.ScaleTargetRef
	d, ok := deployments[ref.Name]
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !ok {
		errs = append(errs, fmt.Errorf("scaleTargetRef %+v is not a Deployment of this variant", ref))
	} else {
		if d.Spec.Replicas != nil {
			errs = append(errs, fmt.Errorf("deployment %q sets replicas: it would fight the HPA", d.Name))
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					errs = append(errs, fmt.Errorf("container %q has no %s request: the HPA cannot compute utilization", c.Name, r))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("HPA %q: %w", h.Name, errors.Join(errs...))
	}
	return nil
}

// iso8601 accepts the durations Knative's delivery fields take (PnDTnHnMn.nS forms).
var iso8601 = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$`)

// CheckKafkaSource checks what the CRD's webhook checks and what this system relies on: the
// topic, group, ordered delivery from the oldest record, retries with backoff, and that the sink
// and dead-letter sink name objects of the same render (found by kind/name in refs).
func CheckKafkaSource(s *KafkaSource, refs map[string]bool) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(s.Spec.BootstrapServers) == 0 {
		add("spec.bootstrapServers is empty")
	}
	if len(s.Spec.Topics) != 1 || s.Spec.Topics[0] != "transactions-input" {
		add("spec.topics %v, want [transactions-input]", s.Spec.Topics)
	}
	if s.Spec.ConsumerGroup != "fraud-detector" {
		add("spec.consumerGroup %q, want fraud-detector", s.Spec.ConsumerGroup)
	}
	if s.Spec.InitialOffset != "earliest" {
		add("spec.initialOffset %q, want earliest (latest skips records produced before the group exists)", s.Spec.InitialOffset)
	}
	if s.Spec.Ordering == nil || *s.Spec.Ordering != "ordered" {
		add("spec.ordering must be ordered (per-customer order of features)")
	}
	d := s.Spec.Delivery
	switch {
	case d == nil:
		add("spec.delivery is missing")
	default:
		if d.Retry == nil || *d.Retry < 1 {
			add("spec.delivery.retry must be >= 1: with delivery set, an unset retry means none")
		}
		if d.BackoffPolicy == nil || (*d.BackoffPolicy != "linear" && *d.BackoffPolicy != "exponential") {
			add("spec.delivery.backoffPolicy must be linear or exponential")
		}
		for name, v := range map[string]*string{"backoffDelay": d.BackoffDelay, "timeout": d.Timeout} {
			if v == nil || !iso8601.MatchString(*v) || *v == "P" || *v == "PT" {
				add("spec.delivery.%s %v is not an ISO 8601 duration", name, deref(v))
			}
		}
		if d.DeadLetterSink == nil || d.DeadLetterSink.Ref == nil {
			add("spec.delivery.deadLetterSink.ref is missing")
		} else if r := d.DeadLetterSink.Ref; !refs[r.APIVersion+"/"+r.Kind+"/"+r.Name] {
			add("dead-letter sink %s %s %q is not in this render", r.APIVersion, r.Kind, r.Name)
		}
	}
	if r := s.Spec.Sink.Ref; r == nil {
		add("spec.sink.ref is missing")
	} else if !refs[r.APIVersion+"/"+r.Kind+"/"+r.Name] {
		add("sink %s %s %q is not in this render", r.APIVersion, r.Kind, r.Name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("KafkaSource %q: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return "<unset>"
	}
	return *p
}
