//go:build tools

// Package conformance pins the CloudEvents conformance tool (github.com/cloudevents/conformance),
// which make test-conformance builds and runs against the function: `go install` of the command by
// name fails here (the module proxy refuses the version list it reads), so this module's go.sum
// is the check.
package conformance

import _ "github.com/cloudevents/conformance/cmd/cloudevents"
