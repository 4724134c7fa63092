package features_test

import (
	"testing"

	"github.com/fraud-detector/fraud-detector/internal/features"
	"github.com/fraud-detector/fraud-detector/internal/features/featuretest"
)

func TestGoldenMemory(t *testing.T) {
	featuretest.RunGolden(t, features.NewMemory())
}
