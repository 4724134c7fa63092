package function

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"function/internal/features"
	"function/internal/oip"
	"function/internal/txn"
)

type inferReply struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name     string            `json:"name"`
		Datatype string            `json:"datatype"`
		Shape    []int             `json:"shape"`
		Data     []json.RawMessage `json:"data"`
	} `json:"outputs"`
}

func inferBody(id string, rows []features.Vector, datatype string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%q,"inputs":[{"name":"features","datatype":%q,"shape":[%d,%d],"data":[`, id, datatype, len(rows), features.Count)
	for i := range rows {
		for j, v := range rows[i] {
			if i+j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(fmt.Sprint(v))
		}
	}
	b.WriteString(`]}]}`)
	return b.String()
}

// The OIP infer's probabilities are /predict's for the same features: the transactions go to
// /predict, their feature vectors are rebuilt by replaying them in a fresh store (the one
// implementation, features.Compute), and the vectors go to /v2/models/fraud-detector/infer.
func TestOIPInferMatchesPredict(t *testing.T) {
	f, srv := startFunction(t)
	start := time.Date(2018, 4, 1, 8, 0, 0, 0, time.UTC)
	var txs []txn.Transaction
	for i := range 40 {
		txs = append(txs, txn.Transaction{ID: fmt.Sprintf("oip-%d", i), Time: start.Add(time.Duration(i) * 7 * time.Minute),
			CustomerID: int64(i % 4), TerminalID: int64(i % 3), Amount: 10 + float64(i*i%97)})
	}
	var want []float64
	var decisions []bool
	for i := range txs {
		resp, body := post(t, srv.URL+RoutePredict, "application/json", string(txn.AppendJSON(nil, &txs[i])))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/predict %s: %d %s", txs[i].ID, resp.StatusCode, body)
		}
		p := decodeJSON[struct {
			P float64 `json:"fraud_probability"`
			D bool    `json:"is_fraud"`
		}](t, body)
		want, decisions = append(want, p.P), append(decisions, p.D)
	}
	store := features.NewMemory()
	rows := make([]features.Vector, len(txs))
	for i := range txs {
		if err := store.Record(context.Background(), &txs[i], func(c *features.CustomerHistory, th *features.TerminalHistory) {
			features.Compute(&rows[i], &txs[i], c, th)
		}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.cfg
	for lo := 0; lo < len(rows); lo += cfg.MaxBatch {
		hi := min(lo+cfg.MaxBatch, len(rows))
		resp, body := post(t, srv.URL+RouteOIPInfer, "application/json", inferBody("req-1", rows[lo:hi], oip.DatatypeFP64))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("infer: %d %s", resp.StatusCode, body)
		}
		r := decodeJSON[inferReply](t, body)
		if r.ModelName != OIPModelName || r.ModelVersion != builtinVersion(t) || r.ID != "req-1" || len(r.Outputs) != 2 ||
			r.Outputs[0].Name != oip.OutputScore || r.Outputs[1].Name != oip.OutputDecision || r.Outputs[0].Shape[0] != hi-lo {
			t.Fatalf("infer reply %s", body)
		}
		for i := range hi - lo {
			var p float64
			var d bool
			if json.Unmarshal(r.Outputs[0].Data[i], &p) != nil || json.Unmarshal(r.Outputs[1].Data[i], &d) != nil {
				t.Fatalf("row %d: %s", lo+i, body)
			}
			if math.Abs(p-want[lo+i]) > 1e-9 || d != decisions[lo+i] {
				t.Errorf("row %d: infer %v %v, /predict %v %v", lo+i, p, d, want[lo+i], decisions[lo+i])
			}
		}
	}
}

func TestOIPRoutes(t *testing.T) {
	_, srv := startFunction(t)
	for _, path := range []string{RouteOIPLive, RouteOIPReady, RouteOIPModelReady} {
		if resp, body := do(t, mustRequest(t, "GET", srv.URL+path)); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := do(t, mustRequest(t, "GET", srv.URL+RouteOIPModel))
	md := decodeJSON[oip.ModelMetadata](t, body)
	if resp.StatusCode != http.StatusOK || md.Name != OIPModelName || len(md.Inputs) != 1 || md.Inputs[0].Shape[1] != features.Count ||
		len(md.Versions) != 1 || md.Versions[0] != builtinVersion(t) {
		t.Errorf("metadata: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, mustRequest(t, "GET", srv.URL+RouteOIPServer)); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"fraud-detector"`) {
		t.Errorf("server metadata: %d %s", resp.StatusCode, body)
	}
	// Errors in the protocol's shape: {"error": "..."}, 400 for what can never succeed.
	for name, body := range map[string]string{
		"not json":      `{"inputs":`,
		"wrong shape":   `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,14],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14]}]}`,
		"too many rows": inferBody("x", make([]features.Vector, 6), oip.DatatypeFP32),
		"int tensor":    `{"inputs":[{"name":"features","datatype":"INT32","shape":[1,20],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}]}`,
	} {
		resp, reply := post(t, srv.URL+RouteOIPInfer, "application/json", body)
		e := decodeJSON[struct {
			Error string `json:"error"`
		}](t, reply)
		if resp.StatusCode != http.StatusBadRequest || e.Error == "" {
			t.Errorf("%s: %d %s, want 400 with an error", name, resp.StatusCode, reply)
		}
	}
	if resp, _ := do(t, mustRequest(t, "GET", srv.URL+RouteOIPInfer)); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET infer: %d, want 405", resp.StatusCode)
	}
}

// Before a model is loaded the protocol's readiness is 503 and liveness 200.
func TestOIPReadyOnlyWithAModel(t *testing.T) {
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()))
	url := newServer(t, f)
	if resp, _ := do(t, mustRequest(t, "GET", url+RouteOIPReady)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("ready before Start: %d, want 503", resp.StatusCode)
	}
	if resp, _ := post(t, url+RouteOIPInfer, "application/json", inferBody("x", make([]features.Vector, 1), oip.DatatypeFP32)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("infer before Start: %d, want 503", resp.StatusCode)
	}
}
