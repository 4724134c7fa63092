// Package function is the project root as Knative Functions sees it: func's Go scaffolding
// (knative.dev/func templates/go/scaffolding/instanced-cloudevents) requires module `function`,
// imports this package and serves what New returns through knative.dev/func-go. The
// implementation, its lifecycle and its routes are in ./function.
package function

import impl "function/function"

// New returns the instance func-go serves (Start, Handle, Ready, Alive, Stop).
func New() *impl.Function { return impl.New() }
