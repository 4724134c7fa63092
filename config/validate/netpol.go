package validate

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Selects reports whether a label selector matches a pod's labels, as the NetworkPolicy
// controller reads it (an empty selector matches every pod; an invalid one matches none).
func Selects(sel metav1.LabelSelector, podLabels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && s.Matches(labels.Set(podLabels))
}

// AdmitsPeer reports whether one rule (the from/to peers and the ports of an ingress or egress
// rule) admits TCP traffic to port with pods of the policy's own namespace that carry podLabels.
// Peers naming other namespaces or IP blocks are not followed: they never admit here.
func AdmitsPeer(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, podLabels map[string]string, port int32) bool {
	return admitsPort(ports, port) && admitsPod(peers, podLabels)
}

func admitsPod(peers []networkingv1.NetworkPolicyPeer, podLabels map[string]string) bool {
	if len(peers) == 0 {
		return true // no peers: every source or destination
	}
	for _, p := range peers {
		if p.PodSelector != nil && p.NamespaceSelector == nil && p.IPBlock == nil && Selects(*p.PodSelector, podLabels) {
			return true
		}
	}
	return false
}

func admitsPort(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	if len(ports) == 0 {
		return true // no ports: every port
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String: // a named port: not resolved here
		case p.EndPort != nil && p.Port.IntVal <= port && port <= *p.EndPort:
			return true
		case p.Port.IntVal == port:
			return true
		}
	}
	return false
}
