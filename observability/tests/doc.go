// Package tests checks observability/ with the real Prometheus tools: promtool on the rules taken
// from the PrometheusRule's spec, amtool on both forms of the Alertmanager routing, and a real
// Prometheus server scraping the real function.
//
// The tool-driven tests need promtool, amtool and prometheus on PATH and run when
// OBSERVABILITY_TOOLS=1 (as `make test-observability` sets after installing them); a plain
// `go test ./...` skips them and runs the checks that need no tool.
package tests
