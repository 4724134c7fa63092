//go:build tools

// Package tools pins net-gateway-api, Knative's networking layer over the Gateway API
// (config/local/build.sh).
package tools

import _ "knative.dev/net-gateway-api/cmd/controller"
