package function

import (
	"net/http"

	"function/internal/oip"
	"function/internal/scoring"
)

// Open Inference Protocol (KServe V2) routes: the model alone, for the clients of KServe, Seldon
// and Triton (see internal/oip).
const (
	RouteOIPServer     = "/v2"
	RouteOIPLive       = "/v2/health/live"
	RouteOIPReady      = "/v2/health/ready"
	RouteOIPModel      = "/v2/models/" + OIPModelName
	RouteOIPModelReady = RouteOIPModel + "/ready"
	RouteOIPInfer      = RouteOIPModel + "/infer"
	OIPModelName       = "fraud-detector"
	oipServerName      = "fraud-detector"
	oipServerVersion   = "1"
)

func (f *Function) serveOIPServer(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, oip.ServerMetadata{Name: oipServerName, Version: oipServerVersion, Extensions: []string{}})
}

// serveOIPLive and serveOIPReady answer with an empty 200, or 503 before the model is loaded
// and while draining, as the protocol's health API does.
func (f *Function) serveOIPLive(w http.ResponseWriter, r *http.Request) {
	alive, _ := f.Alive(r.Context())
	oipStatus(w, alive)
}

func (f *Function) serveOIPReady(w http.ResponseWriter, r *http.Request) {
	ready, _ := f.Ready(r.Context())
	oipStatus(w, ready)
}

func oipStatus(w http.ResponseWriter, ok bool) {
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *Function) serveOIPModel(w http.ResponseWriter, r *http.Request) {
	l := f.live.Load()
	if l == nil {
		f.writeError(w, r, scoring.ErrNoModel)
		return
	}
	writeJSON(w, http.StatusOK, oip.Metadata(OIPModelName, l.scorer.Model().Meta.Version))
}

// serveOIPInfer scores a [N, 20] feature tensor with the current model: no state is read or
// written, so the answer depends on the features and the model only.
func (f *Function) serveOIPInfer(w http.ResponseWriter, r *http.Request, b *budget) {
	l, body, ok := f.jsonRequest(w, r, b)
	if !ok {
		return
	}
	id, rows, err := oip.DecodeInfer(body, l.cfg.MaxBatch) // rows per request: MAX_BATCH, as /predict
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	probs := make([]float64, len(rows))
	m, thr, err := l.scorer.ScoreFeatures(rows, probs)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	out := oip.AppendInferResponse(make([]byte, 0, 128+len(rows)*32), OIPModelName, m.Meta.Version, id, probs, thr)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
