// Package peers drives HTTP model servers, this function's and the Python ones users would pick
// instead, with the same requests, and measures what each costs: requests per second at
// saturation, latency at a fixed rate, and server CPU per request from /proc (make bench-peers).
package peers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on every Linux
// architecture Go builds for.
const clockTicks = 100

// TreeCPU is the user+system CPU time used so far by pid and every live process below it (a
// server's workers). Children that have exited and been reaped count through their parent's
// cutime/cstime.
func TreeCPU(pid int) (time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	type proc struct {
		ppid int
		cpu  int64
	}
	procs := map[int]proc{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone since the glob
		}
		id, pp, cpu, ok := parseStat(b)
		if ok {
			procs[id] = proc{pp, cpu}
		}
	}
	if _, ok := procs[pid]; !ok {
		return 0, fmt.Errorf("peers: no process %d", pid)
	}
	children := map[int][]int{}
	for id, p := range procs {
		children[p.ppid] = append(children[p.ppid], id)
	}
	var ticks int64
	queue := []int{pid}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		ticks += procs[id].cpu
		queue = append(queue, children[id]...)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStat reads pid, ppid and utime+stime+cutime+cstime from a /proc/<pid>/stat line. The
// command name (field 2) may hold spaces and parentheses: fields are counted from its last ')'.
func parseStat(b []byte) (pid, ppid int, ticks int64, ok bool) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, 0, 0, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	if ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, 0, 0, false
	}
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		ticks += n
	}
	return pid, ppid, ticks, true
}
