package validate

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	s, err := ArgoCDSchemas()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load ArgoCD CRDs:", err)
		os.Exit(1)
	}
	CRDs = s
	os.Exit(m.Run())
}
