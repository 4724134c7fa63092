package peers

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses; the fields count from its last ')'.
	line := []byte("4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 3 0 123 456 789\n")
	pid, ppid, ticks, ok := parseStat(line)
	if !ok || pid != 4242 || ppid != 17 || ticks != 250+30+7+3 {
		t.Fatalf("parseStat: pid %d ppid %d ticks %d ok %v", pid, ppid, ticks, ok)
	}
	if _, _, _, ok := parseStat([]byte("garbage")); ok {
		t.Fatal("parsed garbage")
	}
}

func TestTreeCPUGrows(t *testing.T) {
	before, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged this process 100 ms more (the machine may be busy, so
	// wall time says nothing), then /proc must show at least most of it.
	start := rusage(t)
	for rusage(t)-start < 100*time.Millisecond {
	}
	after, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("/proc shows %v → %v over 100 ms of CPU", before, after)
	}
	if _, err := TreeCPU(1 << 30); err == nil {
		t.Fatal("a process that does not exist has a CPU time")
	}
}

func rusage(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
