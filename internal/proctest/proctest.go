// Package proctest builds this module's commands and finds free loopback ports for the tests that
// run the real binaries (the function, the dispatcher, the load generator) as processes: one way
// to build them, as the image does, instead of one per test package.
package proctest

import (
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Module is this module's path; Build takes packages relative to it.
const Module = "function"

// Function is the function's entrypoint (what `make run` and the image run).
const Function = "function/cmd/fraud-detector"

var (
	mu    sync.Mutex
	built = map[string]string{} // package → binary, for the life of the test process
)

// Build compiles pkg (relative to the module, e.g. Function or "loadgen") as the image does
// (CGO_ENABLED=0) and returns the binary's path. Each package is built once per test process,
// into a folder under os.TempDir() named for the process: Go's build cache makes the first build
// of a run cheap, and the binary outlives the test that asked first.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	dir := filepath.Join(os.TempDir(), "fraud-detector-proctest-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, path.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, Module+"/"+pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// Run is the TestMain of a package that uses Build: it runs the tests, removes what Build wrote
// and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

// Cleanup removes what Build wrote (Run calls it after the tests).
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	_ = os.RemoveAll(filepath.Join(os.TempDir(), "fraud-detector-proctest-"+strconv.Itoa(os.Getpid())))
	built = map[string]string{}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is FreePort as host:port.
func FreeAddr(t testing.TB) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
