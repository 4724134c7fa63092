package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KafkaSource is the part of sources.knative.dev/v1beta1 KafkaSource this dispatcher implements.
// Field names follow the CRD; the same struct reads the object from the API (JSON) or a file (YAML).
type KafkaSource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		BootstrapServers []string    `json:"bootstrapServers"`
		Topics           []string    `json:"topics"`
		ConsumerGroup    string      `json:"consumerGroup"`
		InitialOffset    string      `json:"initialOffset"`
		Ordering         string      `json:"ordering"`
		Consumers        *int        `json:"consumers"`
		Delivery         *Delivery   `json:"delivery"`
		Sink             Destination `json:"sink"`
	} `json:"spec"`
}

// Delivery is Knative's DeliverySpec.
type Delivery struct {
	Retry          *int         `json:"retry"`
	BackoffPolicy  string       `json:"backoffPolicy"`
	BackoffDelay   string       `json:"backoffDelay"`
	Timeout        string       `json:"timeout"`
	DeadLetterSink *Destination `json:"deadLetterSink"`
}

// Destination is Knative's duck Destination: a reference or a URI.
type Destination struct {
	Ref *Ref   `json:"ref"`
	URI string `json:"uri"`
}

// Ref is a KReference.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

// KafkaSink is the part of eventing.knative.dev/v1alpha1 KafkaSink the dead letter needs.
type KafkaSink struct {
	Kind string `json:"kind"`
	Spec struct {
		Topic            string   `json:"topic"`
		BootstrapServers []string `json:"bootstrapServers"`
		ContentMode      string   `json:"contentMode"`
	} `json:"spec"`
}

// decodeObject reads one Kubernetes object of kind from JSON or YAML into out (YAML is turned
// into JSON first, so that one set of json tags serves both).
func decodeObject(data []byte, kind string, out any) error {
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return fmt.Errorf("decode %s: %w", kind, err)
	}
	m, ok := generic.(map[string]any)
	if !ok {
		return fmt.Errorf("decode %s: not an object", kind)
	}
	if got, _ := m["kind"].(string); got != kind {
		return fmt.Errorf("decode %s: kind is %q", kind, got)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("decode %s: %w", kind, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s: %w", kind, err)
	}
	return nil
}

func readObject(path, kind string, out any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeObject(b, kind, out)
}

// validate refuses what this dispatcher does not implement, rather than ignoring it.
func (s *KafkaSource) validate() error {
	var errs []error
	sp := &s.Spec
	if len(sp.BootstrapServers) == 0 {
		errs = append(errs, errors.New("spec.bootstrapServers is empty"))
	}
	if len(sp.Topics) == 0 {
		errs = append(errs, errors.New("spec.topics is empty"))
	}
	if sp.ConsumerGroup == "" {
		errs = append(errs, errors.New("spec.consumerGroup is empty"))
	}
	switch sp.InitialOffset {
	case "", "earliest", "latest":
	default:
		errs = append(errs, fmt.Errorf("spec.initialOffset %q: want earliest or latest", sp.InitialOffset))
	}
	switch sp.Ordering {
	case "ordered":
	case "", "unordered":
		errs = append(errs, fmt.Errorf("spec.ordering %q: this dispatcher delivers ordered only", sp.Ordering))
	default:
		errs = append(errs, fmt.Errorf("spec.ordering %q: want ordered", sp.Ordering))
	}
	if sp.Consumers != nil && (*sp.Consumers < 1 || *sp.Consumers > 64) {
		errs = append(errs, fmt.Errorf("spec.consumers %d: want 1..64", *sp.Consumers))
	}
	if sp.Sink.Ref == nil && sp.Sink.URI == "" {
		errs = append(errs, errors.New("spec.sink has neither ref nor uri"))
	}
	if d := sp.Delivery; d != nil && d.DeadLetterSink != nil {
		if r := d.DeadLetterSink.Ref; r == nil || r.Kind != "KafkaSink" {
			errs = append(errs, errors.New("spec.delivery.deadLetterSink: only a KafkaSink ref is supported"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("KafkaSource %s/%s: %w", s.Metadata.Namespace, s.Metadata.Name, err)
	}
	return nil
}

func (s *KafkaSource) consumers() int {
	if s.Spec.Consumers == nil {
		return 1
	}
	return *s.Spec.Consumers
}

// group of a reference's apiVersion ("serving.knative.dev/v1" -> "serving.knative.dev", "v1" -> "").
func (r Ref) group() string {
	g, _, ok := strings.Cut(r.APIVersion, "/")
	if !ok {
		return ""
	}
	return g
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
