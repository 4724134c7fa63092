package features_test

import (
	"testing"

	"function/internal/features"
	"function/internal/features/featuretest"
)

func TestGoldenMemory(t *testing.T) {
	featuretest.RunGolden(t, features.NewMemory())
}
