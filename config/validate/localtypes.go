package validate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIService is apiregistration.k8s.io/v1 APIService (config/local/system: metrics-server's),
// written field for field from k8s.io/kube-aggregator's apiregistration/v1 types, which this
// module does not otherwise need. Status is left out, as for the Kafka kinds.
type APIService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              APIServiceSpec `json:"spec"`
}

// APIServiceSpec mirrors v1.APIServiceSpec.
type APIServiceSpec struct {
	Service               *ServiceReference `json:"service,omitempty"`
	Group                 string            `json:"group,omitempty"`
	Version               string            `json:"version,omitempty"`
	InsecureSkipTLSVerify bool              `json:"insecureSkipTLSVerify,omitempty"`
	CABundle              []byte            `json:"caBundle,omitempty"`
	GroupPriorityMinimum  int32             `json:"groupPriorityMinimum"`
	VersionPriority       int32             `json:"versionPriority"`
}

// ServiceReference mirrors v1.ServiceReference.
type ServiceReference struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Port      *int32 `json:"port,omitempty"`
}
