//go:build tools

// Package tools pins the Knative commands the local cluster runs (config/local/build.sh).
package tools

import (
	_ "knative.dev/eventing/cmd/controller"
	_ "knative.dev/eventing/cmd/webhook"
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/autoscaler-hpa"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
