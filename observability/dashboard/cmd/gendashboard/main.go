// Command gendashboard writes the fraud-detector Grafana dashboard (fraud-detector.json) and its
// provisioning ConfigMap (configmap.yaml) into a directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"function/observability/dashboard"
)

func main() {
	out := flag.String("out", "observability/dashboard", "directory to write fraud-detector.json and configmap.yaml into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendashboard:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	js, err := dashboard.JSON()
	if err != nil {
		return err
	}
	cm, err := dashboard.ConfigMap(js)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "fraud-detector.json"), js, 0o644); err != nil {
		return fmt.Errorf("write dashboard: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configmap.yaml"), cm, 0o644); err != nil {
		return fmt.Errorf("write configmap: %w", err)
	}
	return nil
}
