package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fraud-detector/fraud-detector/internal/events"
	"github.com/fraud-detector/fraud-detector/internal/scoring"
	"github.com/fraud-detector/fraud-detector/internal/txn"
)

// Routes served by Handler.
const (
	RouteCloudEvents = "/"
	RoutePredict     = "/predict"
	RouteHealth      = "/health"
	RouteLiveness    = "/health/liveness"
	RouteReadiness   = "/health/readiness"
	RouteMetrics     = "/metrics"
	routeOther       = "other" // the metric label of unknown paths
)

// Handler is the function's HTTP surface:
//
//	POST /                   CloudEvents (binary, structured, batch)
//	POST /predict            a transaction object → a prediction; an array (≤ MAX_BATCH) → an array
//	GET  /health             200 while the process serves
//	GET  /health/liveness    200 while alive
//	GET  /health/readiness   200 once the model is loaded, 503 before and while draining
//	GET  /metrics            Prometheus text, from the function's own registry
func (f *Function) Handler() http.Handler {
	routes := []struct {
		path, method string
		h            http.HandlerFunc
	}{
		{RouteCloudEvents, http.MethodPost, f.serveCloudEvents},
		{RoutePredict, http.MethodPost, f.servePredict},
		{RouteHealth, http.MethodGet, f.serveHealth},
		{RouteLiveness, http.MethodGet, f.serveLiveness},
		{RouteReadiness, http.MethodGet, f.serveReadiness},
		{RouteMetrics, http.MethodGet, promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}).ServeHTTP},
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		pattern := r.path
		if pattern == RouteCloudEvents {
			pattern = "/{$}" // only the root itself; other paths are 404
		}
		mux.Handle(pattern, f.metrics.Instrument(r.path, f.recovering(f.onlyMethod(r.method, r.h))))
	}
	mux.Handle("/", f.metrics.Instrument(routeOther, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.writeError(w, r, fmt.Errorf("%w: %s", events.ErrNotFound, r.URL.Path))
	})))
	return mux
}

// onlyMethod answers 405 to other methods (HEAD is allowed where GET is).
func (f *Function) onlyMethod(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			f.writeError(w, r, fmt.Errorf("%w: %s %s (use %s)", events.ErrMethodNotAllowed, r.Method, r.URL.Path, method))
			return
		}
		h(w, r)
	}
}

// recovering turns a panic into a counted 500 instead of a dropped connection. Nothing is known
// to panic; this is the last line of "never a panic".
func (f *Function) recovering(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				f.log.Error("handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v))
				f.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func (f *Function) serveCloudEvents(w http.ResponseWriter, r *http.Request) {
	l := f.live.Load()
	if l == nil {
		f.writeError(w, r, scoring.ErrNoModel)
		return
	}
	body, err := readBody(w, r, l.cfg.MaxBodyBytes)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	evs, mode, err := events.ReadHTTP(r.Header, body, l.cfg.MaxBatch)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	out, err := f.process(r.Context(), l, evs, mode == events.ModeBatch)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	if err := events.WriteHTTP(w, out, mode); err != nil {
		f.log.Debug("write reply", "error", err)
	}
}

func (f *Function) servePredict(w http.ResponseWriter, r *http.Request) {
	if err := checkPredictMedia(r.Header.Get("Content-Type")); err != nil {
		f.writeError(w, r, err)
		return
	}
	l := f.live.Load()
	if l == nil {
		f.writeError(w, r, scoring.ErrNoModel)
		return
	}
	body, err := readBody(w, r, l.cfg.MaxBodyBytes)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	txs, array, err := decodeTransactions(body, l.cfg.MaxBatch)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	preds, err := f.predict(r.Context(), l, txs)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	var reply any = preds
	if !array {
		reply = preds[0]
	}
	writeJSON(w, http.StatusOK, reply)
}

// checkPredictMedia accepts JSON, no content type, and curl's default form type (curl -d sends
// that unless told otherwise; the body is still JSON).
func checkPredictMedia(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "text/json" || mt == "application/x-www-form-urlencoded") {
		return nil
	}
	return fmt.Errorf("%w: %q, want application/json", events.ErrUnsupportedMedia, ct)
}

// decodeTransactions reads one transaction object or an array of at most maxBatch. An element's
// error names its index.
func decodeTransactions(body []byte, maxBatch int) (txs []txn.Transaction, array bool, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		tx, err := txn.DecodeJSON(trimmed)
		if err != nil {
			return nil, false, err
		}
		return []txn.Transaction{tx}, false, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, true, &txn.FieldError{Reason: "malformed JSON array"}
	}
	if len(raw) > maxBatch {
		return nil, true, fmt.Errorf("%w: %d transactions, the limit is %d", events.ErrBatchTooLarge, len(raw), maxBatch)
	}
	txs = make([]txn.Transaction, len(raw))
	for i, r := range raw {
		if txs[i], err = txn.DecodeJSON(r); err != nil {
			return nil, true, &events.ItemError{Index: i, Err: err}
		}
	}
	return txs, true, nil
}

// readBody reads at most MAX_BODY_BYTES.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", events.ErrBodyTooLarge, r.ContentLength, limit)
	}
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength) + 1 // +1 lets ReadFrom see EOF without growing
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: the limit is %d bytes", events.ErrBodyTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: reading the body: %v", events.ErrInvalidEvent, err)
	}
	return buf.Bytes(), nil
}

func (f *Function) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (f *Function) serveLiveness(w http.ResponseWriter, r *http.Request) {
	alive, _ := f.Alive(r.Context())
	writeProbe(w, alive, "ALIVE", "not alive")
}

func (f *Function) serveReadiness(w http.ResponseWriter, r *http.Request) {
	ready, _ := f.Ready(r.Context())
	writeProbe(w, ready, "READY", "model not loaded or shutting down")
}

func writeProbe(w http.ResponseWriter, ok bool, yes, no string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, no+"\n")
		return
	}
	_, _ = io.WriteString(w, yes+"\n")
}

// writeError answers with the status and reason Classify gives err, counts it, and logs server-side
// faults.
func (f *Function) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, reason := events.Classify(err)
	f.metrics.Error(reason)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
		w.Header().Set("Retry-After", "1")
	}
	f.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path,
		"status", status, "reason", reason, "error", err)
	writeJSON(w, status, events.NewErrorBody(err))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error","reason":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
