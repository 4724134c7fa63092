package main

import (
	"os"
	"testing"

	"function/internal/proctest"
)

// TestMain removes the binaries proctest built for this package's tests.
func TestMain(m *testing.M) { os.Exit(proctest.Run(m)) }
