package scoring_test

import (
	"testing"

	"function/internal/features"
	"function/internal/scoring/attacktest"
)

func TestAttacksMemory(t *testing.T) {
	attacktest.Run(t, func(*testing.T) features.Store { return features.NewMemory() })
}
