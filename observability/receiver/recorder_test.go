package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const admin = `{"version":"4","groupKey":"{}:{alertname=\"AdminNotification_MaxScaleHighCPU\"}","receiver":"fraud-detection/fraud-detector/admin","status":"firing",
"alerts":[{"status":"firing","labels":{"alertname":"AdminNotification_MaxScaleHighCPU","namespace":"fraud-detection","severity":"critical"},"startsAt":"2026-12-03T08:00:00Z"}]}`

func TestRecordsNotifications(t *testing.T) {
	reg := prometheus.NewRegistry()
	at := time.Date(2026, 12, 3, 8, 0, 5, 0, time.UTC)
	r := newRecorder(2, reg, func() time.Time { return at })
	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/alerts", strings.NewReader(admin)))
		if w.Code != http.StatusOK {
			t.Fatalf("POST: %d %s", w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/alerts", nil))
	var got []Received
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("kept %d notifications, want the last 2", len(got))
	}
	if !got[0].ReceivedAt.Equal(at) || got[0].Notification.Alerts[0].Labels["alertname"] != "AdminNotification_MaxScaleHighCPU" {
		t.Fatalf("recorded %+v", got[0])
	}
	c := r.received.WithLabelValues("fraud-detection/fraud-detector/admin", "firing", "AdminNotification_MaxScaleHighCPU")
	if n := testutil.ToFloat64(c); n != 3 {
		t.Fatalf("counted %v admin alerts, want 3", n)
	}
}

func TestRejectsWhatIsNoNotification(t *testing.T) {
	cases := map[string]string{
		"not json":      "hello",
		"wrong version": strings.Replace(admin, `"version":"4"`, `"version":"3"`, 1),
		"no alerts":     `{"version":"4","status":"firing","alerts":[]}`,
		"bad status":    strings.Replace(admin, `"receiver":"fraud-detection/fraud-detector/admin","status":"firing"`, `"receiver":"a","status":"x"`, 1),
		"trailing data": admin + "{}",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRecorder(10, prometheus.NewRegistry(), time.Now)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/alerts", strings.NewReader(body)))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("answered %d, want 400", w.Code)
			}
			if len(r.got) != 0 || testutil.ToFloat64(r.rejected) != 1 {
				t.Fatalf("recorded %d, rejected %v", len(r.got), testutil.ToFloat64(r.rejected))
			}
		})
	}
	r := newRecorder(10, prometheus.NewRegistry(), time.Now)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/alerts", strings.NewReader(`{"version":"`+strings.Repeat("a", maxBody)+`"}`)))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body answered %d, want 413", w.Code)
	}
}

func TestForgedAlertNamesStayBounded(t *testing.T) {
	r := newRecorder(10, prometheus.NewRegistry(), time.Now)
	body := strings.Replace(admin, "AdminNotification_MaxScaleHighCPU\",\"namespace", "x-1234\",\"namespace", 1)
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/alerts", strings.NewReader(body)))
	if n := testutil.ToFloat64(r.received.WithLabelValues("fraud-detection/fraud-detector/admin", "firing", "other")); n != 1 {
		t.Fatalf("an unknown alert name counted %v times as other, want 1", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(admin))
	f.Add([]byte(`{"version":"4"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decode(bytes.NewReader(b))
		if err == nil && (n.Version != "4" || len(n.Alerts) == 0) {
			t.Fatalf("accepted %+v", n)
		}
	})
}
