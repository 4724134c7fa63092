//go:build tools

// Package tools pins Traefik, the Gateway API implementation of the local cluster's Knative
// networking layer (config/local/build.sh).
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
