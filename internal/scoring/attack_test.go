package scoring_test

import (
	"testing"

	"github.com/fraud-detector/fraud-detector/internal/features"
	"github.com/fraud-detector/fraud-detector/internal/scoring/attacktest"
)

func TestAttacksMemory(t *testing.T) {
	attacktest.Run(t, func(*testing.T) features.Store { return features.NewMemory() })
}
