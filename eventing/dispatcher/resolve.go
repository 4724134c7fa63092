package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// getter reads one object by API path (kube.get, or a test's fake).
type getter func(ctx context.Context, path string) ([]byte, error)

// resolveSink turns a KafkaSource's sink into a URL as Knative's resolver does: a URI as given;
// a v1 Service to http://NAME.NS.svc.cluster.local:PORT/ (its first port); a Knative Service to
// its status.address.url.
func resolveSink(ctx context.Context, get getter, ns string, d Destination) (string, error) {
	if d.Ref == nil {
		u, err := url.Parse(d.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("sink uri %q: want an absolute http(s) URL", d.URI)
		}
		return d.URI, nil
	}
	r := *d.Ref
	if r.Namespace != "" {
		ns = r.Namespace
	}
	switch {
	case r.APIVersion == "v1" && r.Kind == "Service":
		b, err := get(ctx, objectPath("v1", "services", ns, r.Name))
		if err != nil {
			return "", fmt.Errorf("sink Service %s/%s: %w", ns, r.Name, err)
		}
		var svc struct {
			Spec struct {
				Ports []struct {
					Port int `json:"port"`
				} `json:"ports"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(b, &svc); err != nil || len(svc.Spec.Ports) == 0 {
			return "", fmt.Errorf("sink Service %s/%s has no port", ns, r.Name)
		}
		return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/", r.Name, ns, svc.Spec.Ports[0].Port), nil
	case r.group() == "serving.knative.dev" && r.Kind == "Service":
		b, err := get(ctx, objectPath(r.APIVersion, "services", ns, r.Name))
		if err != nil {
			return "", fmt.Errorf("sink Knative Service %s/%s: %w", ns, r.Name, err)
		}
		var ksvc struct {
			Status struct {
				Address struct {
					URL string `json:"url"`
				} `json:"address"`
			} `json:"status"`
		}
		if err := json.Unmarshal(b, &ksvc); err != nil || ksvc.Status.Address.URL == "" {
			return "", fmt.Errorf("sink Knative Service %s/%s has no address yet", ns, r.Name)
		}
		return ksvc.Status.Address.URL, nil
	}
	return "", fmt.Errorf("sink ref %s %s: only v1 Service and serving.knative.dev Service are supported", r.APIVersion, r.Kind)
}

// sinkFromBinding checks the K_SINK a SinkBinding injected. Empty means the binding has not
// resolved its sink yet: its controller patches the Deployment when it has, which replaces this
// pod, so the dispatcher stops instead of guessing an address.
func sinkFromBinding(kSink string) (string, error) {
	if kSink == "" {
		return "", errors.New("--sink-binding: K_SINK is not set (the SinkBinding has not resolved its sink yet)")
	}
	u, err := url.Parse(kSink)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--sink-binding: K_SINK %q: want an absolute http(s) URL", kSink)
	}
	return kSink, nil
}

// deadLetterTopic reads the KafkaSink a deadLetterSink names and returns its topic.
func deadLetterTopic(ctx context.Context, get getter, ns string, r Ref) (string, error) {
	if r.Namespace != "" {
		ns = r.Namespace
	}
	b, err := get(ctx, objectPath(r.APIVersion, "kafkasinks", ns, r.Name))
	if err != nil {
		return "", fmt.Errorf("dead-letter KafkaSink %s/%s: %w", ns, r.Name, err)
	}
	var sink KafkaSink
	if err := decodeObject(b, "KafkaSink", &sink); err != nil {
		return "", err
	}
	if sink.Spec.Topic == "" {
		return "", fmt.Errorf("dead-letter KafkaSink %s/%s has no spec.topic", ns, r.Name)
	}
	return sink.Spec.Topic, nil
}
