package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
)

func TestShippedKafkaSource(t *testing.T) {
	var s KafkaSource
	if err := readObject("../kafkasource.yaml", "KafkaSource", &s); err != nil {
		t.Fatal(err)
	}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	p, err := deliveryPolicy(s.Spec.Delivery)
	if err != nil {
		t.Fatal(err)
	}
	// The file's own comment: 2, 4, ..., 24 s, 156 s in all.
	if p.Retries != 12 || p.Exponential || p.Backoff(0) != 2*time.Second || p.Backoff(11) != 24*time.Second || p.Window() != 156*time.Second || p.Timeout != 30*time.Second {
		t.Fatalf("policy %+v window %v", p, p.Window())
	}
	var sink KafkaSink
	if err := readObject("../kafkasink-dead-letter.yaml", "KafkaSink", &sink); err != nil || sink.Spec.Topic != "transactions-dead-letter" {
		t.Fatalf("dead-letter sink %+v: %v", sink, err)
	}
}

func TestRefusesWhatItDoesNotImplement(t *testing.T) {
	cases := map[string]string{
		"unordered":   "ordering: ordered\n",
		"offset":      "initialOffset: earliest\n",
		"no topics":   "topics:\n  - transactions-input\n",
		"retry 0":     "retry: 12\n",
		"bad backoff": "backoffDelay: PT2S\n",
	}
	repl := map[string]string{
		"unordered":   "ordering: unordered\n",
		"offset":      "initialOffset: middle\n",
		"no topics":   "topics: []\n",
		"retry 0":     "retry: 0\n",
		"bad backoff": "backoffDelay: 200ms\n",
	}
	for name, old := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := readFile("../kafkasource.yaml")
			if err != nil {
				t.Fatal(err)
			}
			y := strings.Replace(b, old, repl[name], 1)
			if y == b {
				t.Fatalf("%q not in the shipped file", old)
			}
			var s KafkaSource
			if err := decodeObject([]byte(y), "KafkaSource", &s); err != nil {
				t.Fatal(err)
			}
			if err := s.validate(); err == nil {
				if _, err := deliveryPolicy(s.Spec.Delivery); err == nil {
					t.Fatal("accepted")
				}
			}
		})
	}
}

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"PT0.2S": 200 * time.Millisecond, "PT30S": 30 * time.Second, "PT1M30S": 90 * time.Second, "P1DT2H": 26 * time.Hour} {
		if got, err := parseISODuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "30s", "PT-1S", "PT1.S"} {
		if _, err := parseISODuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestResolveSink(t *testing.T) {
	objects := map[string]string{
		"/api/v1/namespaces/fraud-detection/services/fraud-detector":                      `{"spec":{"ports":[{"name":"http","port":80}]}}`,
		"/apis/serving.knative.dev/v1/namespaces/fraud-detection/services/fraud-detector": `{"status":{"address":{"url":"http://fraud-detector.fraud-detection.svc.cluster.local"}}}`,
	}
	get := func(_ context.Context, path string) ([]byte, error) {
		if b, ok := objects[path]; ok {
			return []byte(b), nil
		}
		return nil, errors.New("404")
	}
	for ref, want := range map[Ref]string{
		{APIVersion: "v1", Kind: "Service", Name: "fraud-detector"}:                     "http://fraud-detector.fraud-detection.svc.cluster.local:80/",
		{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "fraud-detector"}: "http://fraud-detector.fraud-detection.svc.cluster.local",
	} {
		got, err := resolveSink(context.Background(), get, "fraud-detection", Destination{Ref: &ref})
		if err != nil || got != want {
			t.Errorf("%+v: %q %v, want %q", ref, got, err, want)
		}
	}
	if _, err := resolveSink(context.Background(), get, "fraud-detection", Destination{Ref: &Ref{APIVersion: "v1", Kind: "Pod", Name: "x"}}); err == nil {
		t.Error("a Pod sink was accepted")
	}
}

// With --sink-binding the sink is K_SINK as the SinkBinding injected it, and nothing else: an
// unset or relative K_SINK stops the dispatcher rather than letting it resolve the sink itself.
func TestSinkFromBinding(t *testing.T) {
	for name, tc := range map[string]struct {
		kSink string
		ok    bool
	}{
		"knative service": {"http://fraud-detector.fraud-detection.svc.cluster.local", true},
		"not injected":    {"", false},
		"relative":        {"/fraud-detector", false},
		"other scheme":    {"kafka://broker:9092/t", false},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := sinkFromBinding(tc.kSink)
			if (err == nil) != tc.ok || (tc.ok && got != tc.kSink) {
				t.Errorf("sinkFromBinding(%q) = %q, %v", tc.kSink, got, err)
			}
		})
	}
	t.Setenv("K_SINK", "http://fraud-detector.fraud-detection.svc.cluster.local")
	s, err := load(context.Background(), flags{sourceFile: "../kafkasource.yaml", sinkFile: "../kafkasink-dead-letter.yaml", sinkBinding: true})
	if err != nil || s.sinkURL != "http://fraud-detector.fraud-detection.svc.cluster.local" {
		t.Errorf("load with --sink-binding: sink %q, %v", s.sinkURL, err)
	}
}

func TestStatusOf(t *testing.T) {
	if got := statusOf(&statusError{status: http.StatusBadRequest}); got != 400 {
		t.Fatal(got)
	}
	if got := statusOf(errors.New("connection refused")); got != 503 {
		t.Fatal(got)
	}
}

func FuzzDecodeKafkaSource(f *testing.F) {
	b, _ := readFile("../kafkasource.yaml")
	f.Add([]byte(b))
	f.Add([]byte("kind: KafkaSource\nspec: {delivery: {backoffDelay: PT1S}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s KafkaSource
		if decodeObject(data, "KafkaSource", &s) != nil || s.validate() != nil {
			return
		}
		p, err := deliveryPolicy(s.Spec.Delivery)
		if err == nil && (p.Retries < 1 || p.Delay <= 0 || p.Timeout <= 0) {
			t.Fatalf("accepted policy %+v", p)
		}
	})
}

// Ordered delivery keeps one event in flight per partition: the deliverer must reuse a
// connection per in-flight event, not open one per request (net/http keeps 2 idle per host, and
// closes a connection whose response body was not read to the end).
func TestDelivererReusesConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(2 * time.Millisecond)
		// As the function does: the prediction as a binary-mode CloudEvent reply.
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Ce-Id", "p")
		w.Header().Set("Ce-Source", "fraud-detector")
		w.Header().Set("Ce-Type", "fraud.prediction.v1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"transaction_id":"t","fraud_probability":0.01,"is_fraud":false}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	d, err := newDeliverer(srv.URL, 5*time.Second, newMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	const inFlight, rounds = 48, 20
	var wg sync.WaitGroup
	for p := 0; p < inFlight; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				e := event.New()
				e.SetID(fmt.Sprintf("%d-%d", p, i))
				e.SetSource("test")
				e.SetType("dev.knative.kafka.event")
				if _, err := d.deliver(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	// A few more than inFlight: a request may start before the previous one's connection is back
	// in the pool. Without reuse it is one per event.
	if n := conns.Load(); n > 2*inFlight {
		t.Errorf("%d connections opened for %d events %d at a time, want at most %d", n, inFlight*rounds, inFlight, 2*inFlight)
	}
}
