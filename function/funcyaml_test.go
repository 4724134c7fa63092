package function

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"function/internal/config"
)

type funcYAML struct {
	SpecVersion string `yaml:"specVersion"`
	Name        string `yaml:"name"`
	Runtime     string `yaml:"runtime"`
	Invoke      string `yaml:"invoke"`
	Namespace   string `yaml:"namespace"`
	Run         struct {
		Envs []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"envs"`
	} `yaml:"run"`
	Deploy struct {
		HealthEndpoints struct {
			Liveness  string `yaml:"liveness"`
			Readiness string `yaml:"readiness"`
		} `yaml:"healthEndpoints"`
	} `yaml:"deploy"`
}

func readFuncYAML(t *testing.T) funcYAML {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fy funcYAML
	if err := yaml.Unmarshal(data, &fy); err != nil {
		t.Fatalf("func.yaml: %v", err)
	}
	return fy
}

func funcYAMLEnv(t *testing.T, name string) string {
	t.Helper()
	for _, e := range readFuncYAML(t).Run.Envs {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("func.yaml sets no %s", name)
	return ""
}

// TestFuncYAML: func.yaml describes this entrypoint: the spec version and runtime the func CLI
// expects, CloudEvents invocation, the health routes Handler serves, and envs the config accepts.
func TestFuncYAML(t *testing.T) {
	fy := readFuncYAML(t)
	if fy.SpecVersion != "0.36.0" || fy.Runtime != "go" || fy.Invoke != "cloudevent" || fy.Name != "fraud-detector" {
		t.Errorf("header: %+v", fy)
	}
	// func deploy goes to the namespace the manifests use (config/base sets it for both variants).
	base, err := os.ReadFile(filepath.Join("..", "config", "base", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		Namespace string `yaml:"namespace"`
	}
	if err := yaml.Unmarshal(base, &kust); err != nil || kust.Namespace == "" {
		t.Fatalf("config/base/kustomization.yaml: namespace %q, %v", kust.Namespace, err)
	}
	if fy.Namespace != kust.Namespace {
		t.Errorf("func.yaml namespace %q, the manifests use %q", fy.Namespace, kust.Namespace)
	}
	if fy.Deploy.HealthEndpoints.Liveness != RouteLiveness || fy.Deploy.HealthEndpoints.Readiness != RouteReadiness {
		t.Errorf("health endpoints %+v, want %s and %s", fy.Deploy.HealthEndpoints, RouteLiveness, RouteReadiness)
	}
	env := map[string]string{}
	known := map[string]bool{"GOMEMLIMIT": true}
	for _, n := range []string{config.EnvListenAddress, config.EnvModelURI, config.EnvMLflowTrackingURI, config.EnvModelPollInterval,
		config.EnvKafkaBrokers, config.EnvPredictionsTopic, config.EnvFeatureStore, config.EnvFraudThreshold,
		config.EnvMaxBatch, config.EnvMaxBodyBytes, config.EnvShutdownTimeout} {
		known[n] = true
	}
	for _, e := range fy.Run.Envs {
		if !known[e.Name] {
			t.Errorf("func.yaml sets %s, which nothing reads", e.Name)
		}
		env[e.Name] = e.Value
	}
	cfg, err := config.FromEnv(config.MapLookup(env))
	if err != nil {
		t.Fatalf("func.yaml envs do not configure the function: %v", err)
	}
	if cfg.ListenAddress != config.DefaultListenAddress {
		t.Errorf("LISTEN_ADDRESS %s, want the Knative default %s", cfg.ListenAddress, config.DefaultListenAddress)
	}
}
