package function

import (
	"encoding/json"
	"net/http"
	"testing"

	"function/internal/features"
	"function/internal/scoring"
)

// A flagged prediction carries its reasons on every way out: the /predict reply, the CloudEvent
// reply and the event published to fraud-predictions; a legit one carries none unless asked for
// with ?explain=all. The old fields are unchanged (TestPredictReply and the compatibility tests).
func TestReasonsOnEveryWayOut(t *testing.T) {
	pub := &spyPublisher{}
	_, srv := startFunction(t, WithPublisher(pub))
	cases := map[string]struct {
		query       string
		amount      float64 // 900: over the scenario-1 amount, flagged; 20: legit
		fraud       bool
		reasons     bool
		explanation bool
	}{
		"flagged":           {"", 900, true, true, false},
		"legit":             {"", 20, false, false, false},
		"legit explain=all": {"?explain=all", 20, false, false, true},
		"flagged all":       {"?explain=all", 900, true, true, true},
		"flagged, default":  {"?explain=flagged", 900, true, true, false},
	}
	off := 0
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			off++
			id := "x" + name
			check := func(where string, body []byte) {
				t.Helper()
				p := decodeJSON[scoring.Prediction](t, body)
				if p.IsFraud != tc.fraud {
					t.Fatalf("%s: is_fraud %v at amount %v, want %v", where, p.IsFraud, tc.amount, tc.fraud)
				}
				if (len(p.Reasons) > 0) != tc.reasons || (p.Explanation != nil) != tc.explanation {
					t.Fatalf("%s: %d reasons, explanation %v: %s", where, len(p.Reasons), p.Explanation != nil, body)
				}
				if tc.reasons && (p.Reasons[0].Code != "AMOUNT" || p.Reasons[0].Value != tc.amount) {
					t.Errorf("%s: top reason %+v, want AMOUNT at %v", where, p.Reasons[0], tc.amount)
				}
				if tc.explanation && len(p.Explanation.Contributions) != features.Count {
					t.Errorf("%s: %d contributions", where, len(p.Explanation.Contributions))
				}
			}
			resp, body := post(t, srv.URL+"/predict"+tc.query, "application/json", txBody(id, int64(1000+off), tc.amount))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/predict: %d %s", resp.StatusCode, body)
			}
			check("/predict", body)

			req := kafkaRequest(t, srv.URL, 1000+off, txBody(id+"-ce", int64(2000+off), tc.amount))
			req.URL.RawQuery = tc.query[min(1, len(tc.query)):]
			resp, body = do(t, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("CloudEvent: %d %s", resp.StatusCode, body)
			}
			check("CloudEvent reply", body)
			evs := pub.events()
			check("fraud-predictions", evs[len(evs)-1].Data())
		})
	}
}

func TestExplainParameterRefused(t *testing.T) {
	_, srv := startFunction(t)
	for _, route := range []string{"/predict", "/"} {
		resp, body := post(t, srv.URL+route+"?explain=everything", "application/json", txBody("e1", 1, 5))
		var e struct{ Field, Reason string }
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Field != "explain" || e.Reason != "invalid_input" {
			t.Errorf("%s?explain=everything: %d %s, want 400 naming the field explain", route, resp.StatusCode, body)
		}
	}
}
