package redisstore_test

import (
	"os"
	"testing"

	"function/internal/proctest"
)

// TestMain removes what outlives single tests: the function binary and the benchmarks' servers.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, kill := range benchKills {
		kill()
	}
	proctest.Cleanup()
	os.Exit(code)
}
