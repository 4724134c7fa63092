package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxBody bounds one notification; Alertmanager's are a few kilobytes.
const maxBody = 1 << 20

// The design's alert names: the only alertname label values the metrics carry.
var knownAlerts = map[string]bool{
	"FraudDetectorHighCPU":              true,
	"FraudDetectorHighErrorRate":        true,
	"FraudDetectorSlowResponses":        true,
	"FraudDetectorKafkaLag":             true,
	"AdminNotification_MaxScaleHighCPU": true,
}

// Alert is one alert of a notification, as Alertmanager's webhook sends it.
type Alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// Notification is Alertmanager's webhook payload (version 4).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// Received is a notification with the time it arrived here.
type Received struct {
	ReceivedAt   time.Time    `json:"received_at"`
	Notification Notification `json:"notification"`
}

// decode reads one webhook notification; anything that is not one is an error.
func decode(r io.Reader) (Notification, error) {
	var n Notification
	dec := json.NewDecoder(r)
	if err := dec.Decode(&n); err != nil {
		return n, fmt.Errorf("not a webhook notification: %w", err)
	}
	if dec.More() {
		return n, errors.New("not a webhook notification: data after the JSON object")
	}
	switch {
	case n.Version != "4":
		return n, fmt.Errorf("webhook version %q, want 4", n.Version)
	case n.Status != "firing" && n.Status != "resolved":
		return n, fmt.Errorf("status %q, want firing or resolved", n.Status)
	case len(n.Alerts) == 0:
		return n, errors.New("a notification without alerts")
	}
	return n, nil
}

type recorder struct {
	mu       sync.Mutex
	keep     int
	got      []Received
	now      func() time.Time
	received *prometheus.CounterVec
	rejected prometheus.Counter
}

func newRecorder(keep int, reg prometheus.Registerer, now func() time.Time) *recorder {
	r := &recorder{
		keep: keep,
		now:  now,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_receiver_notifications_total",
			Help: "Alerts received in webhook notifications, by receiver, status and alert name (the design's five, else other).",
		}, []string{"receiver", "status", "alertname"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "admin_receiver_rejected_total",
			Help: "Posts that were not webhook notifications (answered 400) or too large (413).",
		}),
	}
	reg.MustRegister(r.received, r.rejected)
	return r
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet:
		r.mu.Lock()
		out := append([]Received(nil), r.got...)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case http.MethodPost:
		n, err := decode(http.MaxBytesReader(w, req.Body, maxBody))
		if err != nil {
			r.rejected.Inc()
			code := http.StatusBadRequest
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				code = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), code)
			return
		}
		r.add(n)
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
	}
}

func (r *recorder) add(n Notification) {
	receiver := n.Receiver
	if len(receiver) > 64 {
		receiver = "other"
	}
	for _, a := range n.Alerts {
		name := a.Labels["alertname"]
		if !knownAlerts[name] {
			name = "other"
		}
		status := a.Status
		if status != "firing" && status != "resolved" {
			status = "other"
		}
		r.received.WithLabelValues(receiver, status, name).Inc()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, Received{ReceivedAt: r.now().UTC(), Notification: n})
	if over := len(r.got) - r.keep; over > 0 {
		r.got = append(r.got[:0], r.got[over:]...)
	}
}
