package function

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"function/internal/events"
	"function/internal/features"
	"function/internal/scoring"
	"function/internal/simulate"
	"function/internal/txn"
)

// RSS goal from the issue: after 1 M scored events with the state of 5,000 customers.
const (
	rssEvents = 1_000_000
	rssLimit  = 64 << 20
	rssBudget = 60 * time.Second
)

// TestResidentSet runs the real binary, streams 1 M simulated transactions (5,000 customers,
// 10,000 terminals, with their fraud labels released after the label delay and signed with LABEL_HMAC_KEY) as CloudEvents
// batches, and reads the process's resident set from /proc. The binary runs with the GOMEMLIMIT
// func.yaml deploys it with (without it, Go's default GOGC lets the heap reach twice the ~30 MiB of
// live feature state and the resident set ends near 90 MiB). It needs a quiet machine and no race
// detector, so `make test-function` runs it with FRAUD_RSS_TEST=1.
func TestResidentSet(t *testing.T) {
	if os.Getenv("FRAUD_RSS_TEST") != "1" {
		t.Skip("set FRAUD_RSS_TEST=1 to run (make test-function does)")
	}
	bin := buildBinary(t)
	p := startBinary(t, bin, "LISTEN_ADDRESS=127.0.0.1:0", "GOMEMLIMIT="+funcYAMLEnv(t, "GOMEMLIMIT"),
		"LABEL_HMAC_KEY="+testLabelKey)
	url := "http://" + p.addr
	waitReady(t, url+"/health/readiness")

	ctx, cancel := context.WithTimeout(context.Background(), rssBudget)
	defer cancel()
	start := time.Now()
	bodies := make(chan []byte, 4)
	genErr := make(chan error, 1)
	go func() { genErr <- generateBatches(ctx, bodies, rssEvents, 500) }()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				if err := postBatch(ctx, client, url, body); err != nil {
					errs <- err
					cancel()
					for range bodies { // let the generator finish
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select { // a failed post cancels the generator: its error is the cause
	case err := <-errs:
		t.Fatalf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	default:
	}
	if err := <-genErr; err != nil {
		t.Fatalf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	took := time.Since(start)

	scored := scrapeSum(t, url, "ml_model_predictions_total")
	if scored != rssEvents {
		t.Fatalf("ml_model_predictions_total = %v, want %d", scored, rssEvents)
	}
	rss, hwm := procMemory(t, p.cmd.Process.Pid)
	t.Logf("heap in use %.1f MiB, Go runtime total %.1f MiB", mib(int64(scrapeSum(t, url, "go_memstats_heap_inuse_bytes"))),
		mib(int64(scrapeSum(t, url, "go_memstats_sys_bytes"))))
	t.Logf("%d events scored in %v (%.0f/s); VmRSS %.1f MiB, VmHWM (peak) %.1f MiB; limit %d MiB",
		rssEvents, took.Round(time.Millisecond), rssEvents/took.Seconds(), mib(rss), mib(hwm), rssLimit>>20)
	if rss >= rssLimit {
		t.Errorf("resident set %.1f MiB, want < %d MiB", mib(rss), rssLimit>>20)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// generateBatches sends batch bodies of up to size events: n transactions in time order, plus the
// fraud labels that come due along the way.
func generateBatches(ctx context.Context, out chan<- []byte, n, size int) error {
	defer close(out)
	cfg := simulate.DefaultConfig(7)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		return err
	}
	var labels features.LabelQueue
	key := []byte(testLabelKey)
	var buf bytes.Buffer
	count, inBatch, offset := 0, 0, 0
	add := func(typ, sig string, data []byte) {
		if inBatch == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"specversion":"1.0","id":"partition:0/offset:`)
		buf.WriteString(strconv.Itoa(offset))
		buf.WriteString(`","source":"/rss","type":"`)
		buf.WriteString(typ)
		if sig != "" {
			buf.WriteString(`","` + scoring.LabelSignatureExtension + `":"`)
			buf.WriteString(sig)
		}
		buf.WriteString(`","data":`)
		buf.Write(data)
		buf.WriteByte('}')
		offset++
		inBatch++
	}
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		buf.WriteByte(']')
		select {
		case out <- bytes.Clone(buf.Bytes()):
		case <-ctx.Done():
			return fmt.Errorf("generating: %w", ctx.Err())
		}
		buf.Reset()
		inBatch = 0
		return nil
	}
	var data []byte
	for count < n {
		tx, ok := sim.Next()
		if !ok {
			return fmt.Errorf("simulator ended after %d transactions", count)
		}
		err := labels.Due(tx.Time, func(l txn.Label) error {
			b, err := l.MarshalJSON()
			if err != nil {
				return err
			}
			add(events.TypeLabel, scoring.SignLabel(key, &l), b)
			return nil
		})
		if err != nil {
			return err
		}
		labels.Push(&tx)
		data = txn.AppendJSON(data[:0], &tx)
		add(events.TypeKafka, "", data)
		count++
		if inBatch >= size-1 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func postBatch(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", events.MediaBatch)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post batch: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("batch: status %d: %.300s", resp.StatusCode, reply)
	}
	return nil
}

// scrapeSum adds up every sample of a metric on /metrics.
func scrapeSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, body := do(t, mustRequest(t, "GET", url+"/metrics"))
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	sum := 0.0
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// procMemory reads VmRSS and VmHWM (peak resident set) of pid, in bytes.
func procMemory(t *testing.T, pid int) (rss, hwm int64) {
	anon, file := int64(0), int64(0)
	defer func() { t.Logf("RssAnon %.1f MiB, RssFile %.1f MiB", mib(anon), mib(file)) }()
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	if rss == 0 {
		t.Fatal("no VmRSS in /proc status")
	}
	return rss, hwm
}
