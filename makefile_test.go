package function

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notInMakeTest are the test targets make test leaves out, each for a reason the README gives.
var notInMakeTest = map[string]string{
	"test-knative": "issue 13: Knative's path needs more than this 2-core node (make test-knative)",
}

// make test runs every test-* target the Makefile and its .mk files define (a target added to
// TEST_TARGETS after the test rule is read would silently not run), lint and test-go first and
// test-cluster last, alone.
func TestMakeTestRunsEveryTarget(t *testing.T) {
	files, err := filepath.Glob("*/*.mk")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("*/*/*.mk")
	files = append(append([]string{"Makefile"}, files...), more...)
	defined := map[string]bool{}
	re := regexp.MustCompile(`(?m)^(test-[a-z0-9-]+):`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			defined[m[1]] = true
		}
	}
	if len(defined) < 10 {
		t.Fatalf("only %d test targets found in %v", len(defined), files)
	}

	// make's database (-p) without running anything (-q, and a goal that does not exist).
	out, _ := exec.Command("make", "-pq", "__no_such_goal__").Output()
	var prereqs []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "test: "); ok {
			prereqs = strings.Fields(rest)
			break
		}
	}
	if len(prereqs) == 0 {
		t.Fatalf("make's database has no rule for test:\n%.2000s", out)
	}
	if prereqs[0] != "lint" || prereqs[1] != "test-go" || prereqs[len(prereqs)-1] != "test-cluster" {
		t.Errorf("make test runs %v: want lint and test-go first and test-cluster last", prereqs)
	}
	for target := range defined {
		_, left := notInMakeTest[target]
		if in := slices.Contains(prereqs, target); in == left {
			t.Errorf("%s: in make test = %v, want %v (make test runs %v)", target, in, !left, prereqs)
		}
	}
}
