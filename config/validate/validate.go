// Package validate checks the repository's deployment manifests with the Go types and the
// validation code of the projects that own them: Kubernetes' API types and Pod Security
// Standards policy, Knative Serving's Service webhook validation, prometheus-operator's types,
// kustomize's renderer, and (where the Go module is not served) faithful typed structs.
package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of a manifest file, as JSON.
type Doc struct {
	Source string // file path (and document index)
	GVK    schema.GroupVersionKind
	Name   string
	JSON   []byte
}

// Object is a strictly decoded manifest object.
type Object struct {
	Doc
	Value any // pointer to the typed object
}

// ErrUnknownKind means no Go type is registered for a document's apiVersion and kind.
var ErrUnknownKind = errors.New("no Go type for this apiVersion/kind")

// SplitDocs splits a multi-document YAML stream into JSON documents. Duplicate keys are errors;
// empty documents are dropped; documents without apiVersion and kind (values files, promtool
// tests) are returned with an empty GVK.
func SplitDocs(source string, data []byte) ([]Doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []Doc
	for i := 0; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		js, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
			// Not an object (a list or scalar document): not a manifest.
			meta.APIVersion, meta.Kind = "", ""
		}
		gv, err := schema.ParseGroupVersion(meta.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: apiVersion %q: %w", source, i, meta.APIVersion, err)
		}
		docs = append(docs, Doc{
			Source: fmt.Sprintf("%s#%d", source, i),
			GVK:    gv.WithKind(meta.Kind),
			Name:   meta.Metadata.Name,
			JSON:   js,
		})
	}
}

// ReadFile reads and splits one manifest file.
func ReadFile(path string) ([]Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return SplitDocs(path, data)
}

// Kinds outside Kubernetes' own scheme, each with the Go type that decodes it and where that
// type comes from.
var extraKinds = map[schema.GroupVersionKind]func() any{
	servingv1.SchemeGroupVersion.WithKind("Service"):                              func() any { return new(servingv1.Service) },
	monitoringv1.SchemeGroupVersion.WithKind("PrometheusRule"):                    func() any { return new(monitoringv1.PrometheusRule) },
	monitoringv1.SchemeGroupVersion.WithKind("ServiceMonitor"):                    func() any { return new(monitoringv1.ServiceMonitor) },
	monitoringv1.SchemeGroupVersion.WithKind("PodMonitor"):                        func() any { return new(monitoringv1.PodMonitor) },
	monitoringv1.SchemeGroupVersion.WithKind("Prometheus"):                        func() any { return new(monitoringv1.Prometheus) },
	monitoringv1.SchemeGroupVersion.WithKind("Alertmanager"):                      func() any { return new(monitoringv1.Alertmanager) },
	{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}:          func() any { return new(APIService) },
	apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"):       func() any { return new(apiextensionsv1.CustomResourceDefinition) },
	monitoringv1alpha1.SchemeGroupVersion.WithKind("AlertmanagerConfig"):          func() any { return new(monitoringv1alpha1.AlertmanagerConfig) },
	{Group: "kustomize.config.k8s.io", Version: "v1beta1", Kind: "Kustomization"}: func() any { return new(types.Kustomization) },
	{Group: "kustomize.config.k8s.io", Version: "v1alpha1", Kind: "Component"}:    func() any { return new(types.Kustomization) },
	sourcesv1.SchemeGroupVersion.WithKind("SinkBinding"):                          func() any { return new(sourcesv1.SinkBinding) },
	gatewayv1.SchemeGroupVersion.WithKind("Gateway"):                              func() any { return new(gatewayv1.Gateway) },
	gatewayv1.SchemeGroupVersion.WithKind("GatewayClass"):                         func() any { return new(gatewayv1.GatewayClass) },
	{Group: "sources.knative.dev", Version: "v1beta1", Kind: "KafkaSource"}:       func() any { return new(KafkaSource) },
	{Group: "eventing.knative.dev", Version: "v1alpha1", Kind: "KafkaSink"}:       func() any { return new(KafkaSink) },
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaTopic"}:           func() any { return new(KafkaTopic) },
}

// CRDs are the custom resources checked against their CustomResourceDefinition's schema
// (ArgoCD's, see ArgoCDSchemas) rather than a Go type.
var CRDs = map[schema.GroupVersionKind]*CRDSchema{}

// Decode strictly decodes a document into the Go type registered for its kind: unknown fields,
// duplicate fields and wrongly cased field names are errors.
func Decode(d Doc) (Object, error) {
	var v any
	if mk, ok := extraKinds[d.GVK]; ok {
		v = mk()
	} else if o, err := scheme.Scheme.New(d.GVK); err == nil {
		v = o
	} else if c := CRDs[d.GVK]; c != nil {
		if err := c.Validate(d); err != nil {
			return Object{}, err
		}
		var m map[string]any
		if err := json.UnmarshalCaseSensitivePreserveInts(d.JSON, &m); err != nil {
			return Object{}, fmt.Errorf("%s: %w", d.Source, err)
		}
		return Object{Doc: d, Value: m}, nil
	} else {
		return Object{}, fmt.Errorf("%s: %s: %w", d.Source, d.GVK, ErrUnknownKind)
	}
	strict, err := json.UnmarshalStrict(d.JSON, v)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %s %q: %w", d.Source, d.GVK.Kind, d.Name, err)
	}
	if len(strict) > 0 {
		return Object{}, fmt.Errorf("%s: %s %q: %w", d.Source, d.GVK.Kind, d.Name, errors.Join(strict...))
	}
	return Object{Doc: d, Value: v}, nil
}

// Render builds a kustomization directory with kustomize's own API, as kubectl apply -k does.
func Render(dir string) ([]Doc, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return SplitDocs("kustomize build "+dir, out)
}
