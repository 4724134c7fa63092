package function

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"function/internal/config"
)

// Slow-body flood of issue 12: uploads that declare the largest body, send most of it, and stall.
const (
	slowUploads   = 160
	slowSent      = 900 << 10 // bytes each sends before stalling
	slowRSSGrowth = 48 << 20  // the resident set may grow by at most this much (measured 34-39 MiB for 160-400 uploads)
)

// TestSlowBodyFloodRSS runs the real binary (with func.yaml's GOMEMLIMIT) and opens 160 uploads
// that each declare a 1 MiB body, send 900 KiB and stall. Each used to be buffered whole,
// pre-allocated from Content-Length (150 uploads took RSS from 18 to 165 MB; ~240 pass the pod's
// 256 Mi). Now at most MAX_INFLIGHT are admitted and their bodies hold at most MAX_BUFFERED_BYTES
// together: the rest get 503 + Retry-After, and the resident set stays within 48 MiB of idle.
func TestSlowBodyFloodRSS(t *testing.T) {
	bin := buildBinary(t)
	p := startBinary(t, bin, "LISTEN_ADDRESS=127.0.0.1:0", "GOMEMLIMIT="+funcYAMLEnv(t, "GOMEMLIMIT"))
	url := "http://" + p.addr
	waitReady(t, url+"/health/readiness")
	idle, _ := procMemory(t, p.cmd.Process.Pid)

	chunk := strings.Repeat(" ", 64<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	noRetryAfter := 0
	conns := make([]net.Conn, 0, slowUploads)
	for range slowUploads {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n[", config.DefaultMaxBodyBytes)
			for sent := 0; sent < slowSent; sent += len(chunk) {
				if _, err := c.Write([]byte(chunk)); err != nil {
					return // shed: the server closed after its 503
				}
			}
		}()
	}
	wg.Wait() // every upload has sent its 900 KiB or been turned away

	// Read the replies of the shed ones; the admitted ones are still waiting for their body.
	var rg sync.WaitGroup
	for _, c := range conns {
		rg.Add(1)
		go func() {
			defer rg.Done()
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[0]++ // no reply: held (stalled upload)
				return
			}
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				noRetryAfter++
			}
		}()
	}
	rg.Wait()
	rss, hwm := procMemory(t, p.cmd.Process.Pid)
	t.Logf("%d uploads of %d KiB: replies %v (0 = still held); VmRSS idle %.1f MiB, now %.1f MiB, peak %.1f MiB",
		slowUploads, slowSent>>10, codes, mib(idle), mib(rss), mib(hwm))
	if hwm-idle > slowRSSGrowth {
		t.Errorf("peak resident set grew %.1f MiB under the flood, want at most %d MiB", mib(hwm-idle), slowRSSGrowth>>20)
	}
	if codes[http.StatusServiceUnavailable] == 0 || noRetryAfter > 0 {
		t.Errorf("replies %v, %d 503s without Retry-After: want the flood shed with 503 + Retry-After", codes, noRetryAfter)
	}
	for _, c := range conns {
		c.Close()
	}
	// Once the flood is gone the function scores again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, body := post(t, url+"/predict", "application/json", txBody("after-flood", 1, 10))
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the flood: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := scrapeSum(t, url, "http_requests_shed_total"); got == 0 {
		t.Errorf("http_requests_shed_total = 0 after shedding")
	}
}
