package function

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	ce "knative.dev/func-go/cloudevents"
)

// What func's instanced-cloudevents scaffolding serves: ce.Start(New()) with the lifecycle
// interfaces func-go looks for. make test-func builds and runs it through the func CLI.
func TestNewIsAnInstancedCloudEventsFunction(t *testing.T) {
	f := New()
	if _, ok := any(f).(interface {
		Handle(context.Context, event.Event) (*event.Event, error)
	}); !ok {
		t.Fatal("New() has no Handle(ctx, event.Event) (*event.Event, error)")
	}
	for name, ok := range map[string]bool{
		"Starter":           implements[ce.Starter](f),
		"Stopper":           implements[ce.Stopper](f),
		"ReadinessReporter": implements[ce.ReadinessReporter](f),
		"LivenessReporter":  implements[ce.LivenessReporter](f),
	} {
		if !ok {
			t.Errorf("New() is not a func-go %s", name)
		}
	}
}

func implements[I any](v any) bool { _, ok := v.(I); return ok }
