package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"function/internal/events"
	"function/internal/scoring"
	"function/internal/telemetry"
	"function/internal/txn"
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
//
// On both scoring routes a flagged prediction carries its top reasons; ?explain=all adds every
// feature's contribution to every prediction.
//
//	GET  /health             200 while the process serves
//	GET  /health/liveness    200 while alive
//	GET  /health/readiness   200 once the model is loaded, 503 before and while draining
//	GET  /metrics            Prometheus text, from the function's own registry
//	GET  /v2, /v2/health/{live,ready}, /v2/models/fraud-detector[/ready]
//	POST /v2/models/fraud-detector/infer   the Open Inference Protocol (KServe V2): the model
//	                         alone on a [N, 20] feature tensor (see oip.go)
//
// The scoring routes (/, /predict and the OIP infer) are bounded: at most MAX_INFLIGHT at once, and their bodies
// together hold at most MAX_BUFFERED_BYTES; past either a request gets 503 + Retry-After (which
// KafkaSource retries), counted in http_requests_shed_total{limit}. Probes and /metrics are never
// turned away. While draining every response carries Connection: close, so keep-alive clients
// reconnect elsewhere instead of being cut off when the listener closes.
func (f *Function) Handler() http.Handler {
	lim := &limiter{f: f, m: f.metrics}
	routes := []struct {
		path, method string
		h            http.HandlerFunc
	}{
		{RouteCloudEvents, http.MethodPost, lim.admit(f.serveCloudEvents)},
		{RoutePredict, http.MethodPost, lim.admit(f.servePredict)},
		{RouteHealth, http.MethodGet, f.serveHealth},
		{RouteLiveness, http.MethodGet, f.serveLiveness},
		{RouteReadiness, http.MethodGet, f.serveReadiness},
		{RouteMetrics, http.MethodGet, promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}).ServeHTTP},
		{RouteOIPServer, http.MethodGet, f.serveOIPServer},
		{RouteOIPLive, http.MethodGet, f.serveOIPLive},
		{RouteOIPReady, http.MethodGet, f.serveOIPReady},
		{RouteOIPModel, http.MethodGet, f.serveOIPModel},
		{RouteOIPModelReady, http.MethodGet, f.serveOIPReady},
		{RouteOIPInfer, http.MethodPost, lim.admit(f.serveOIPInfer)},
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		mux.ServeHTTP(w, r)
	})
}

// limiter bounds the scoring routes' in-flight requests and buffered body bytes. The limits are
// read from the configuration in effect on each request (the handler is built before Start).
type limiter struct {
	f        *Function
	m        *telemetry.Metrics
	inflight atomic.Int64
	buffered atomic.Int64
}

// budget is one request's share of the buffered-bytes bound.
type budget struct {
	lim  *limiter
	max  int64
	held int64
}

// scoringHandler is a scoring route: it reads its body within b (nil before the model is loaded).
type scoringHandler func(w http.ResponseWriter, r *http.Request, b *budget)

// budgets are reused across requests: passed as an argument, not through the request's context,
// a request's budget costs no allocation (a context value and the request copy WithContext makes
// were three per request).
var budgets = sync.Pool{New: func() any { return new(budget) }}

// admit serves h if fewer than MAX_INFLIGHT scoring requests are in flight, and gives it a body
// budget that is returned when it ends.
func (lim *limiter) admit(h scoringHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l := lim.f.live.Load()
		if l == nil {
			h(w, r, nil) // answers 503 model_unavailable without reading the body
			return
		}
		n := lim.inflight.Add(1)
		lim.m.InFlight.Set(float64(n))
		defer func() { lim.m.InFlight.Set(float64(lim.inflight.Add(-1))) }()
		if n > int64(l.cfg.MaxInflight) {
			lim.m.Shed.WithLabelValues(telemetry.ShedInFlight).Inc()
			lim.f.writeError(w, r, fmt.Errorf("%w: %d scoring requests in flight, the limit (%s) is %d",
				events.ErrOverloaded, n-1, "MAX_INFLIGHT", l.cfg.MaxInflight))
			return
		}
		b := budgets.Get().(*budget)
		*b = budget{lim: lim, max: l.cfg.MaxBufferedBytes}
		defer func() {
			b.release()
			*b = budget{}
			budgets.Put(b)
		}()
		h(w, r, b)
	}
}

// reserve takes n more bytes of the shared bound, or reports that it would be passed.
func (b *budget) reserve(n int64) error {
	if b == nil {
		return nil
	}
	total := b.lim.buffered.Add(n)
	if total > b.max {
		b.lim.buffered.Add(-n)
		b.lim.m.Shed.WithLabelValues(telemetry.ShedBufferedBytes).Inc()
		return fmt.Errorf("%w: request bodies hold %d bytes, the limit (%s) is %d",
			events.ErrOverloaded, total-n, "MAX_BUFFERED_BYTES", b.max)
	}
	b.held += n
	b.lim.m.BufferedBytes.Set(float64(total))
	return nil
}

// give returns n bytes of this request's share.
func (b *budget) give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.held -= n
	b.lim.m.BufferedBytes.Set(float64(b.lim.buffered.Add(-n)))
}

func (b *budget) release() { b.give(b.held) }

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

func (f *Function) serveCloudEvents(w http.ResponseWriter, r *http.Request, b *budget) {
	l := f.live.Load()
	if l == nil {
		f.writeError(w, r, scoring.ErrNoModel)
		return
	}
	body, err := readBody(w, r, l.cfg.MaxBodyBytes, b)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	explain, err := explainMode(r)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	evs, mode, err := events.ReadHTTP(r.Header, body, l.cfg.MaxBatch)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	out, err := f.process(r.Context(), l, evs, mode == events.ModeBatch, explain)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	if err := events.WriteHTTP(w, out, mode); err != nil {
		f.log.Debug("write reply", "error", err)
	}
}

// jsonRequest is the start of the JSON scoring routes (/predict, the OIP infer): a JSON media
// type, a loaded model, the bounded body. On failure it has answered, and ok is false.
func (f *Function) jsonRequest(w http.ResponseWriter, r *http.Request, b *budget) (l *live, body []byte, ok bool) {
	if err := checkPredictMedia(r.Header.Get("Content-Type")); err != nil {
		f.writeError(w, r, err)
		return nil, nil, false
	}
	if l = f.live.Load(); l == nil {
		f.writeError(w, r, scoring.ErrNoModel)
		return nil, nil, false
	}
	body, err := readBody(w, r, l.cfg.MaxBodyBytes, b)
	if err != nil {
		f.writeError(w, r, err)
		return nil, nil, false
	}
	return l, body, true
}

func (f *Function) servePredict(w http.ResponseWriter, r *http.Request, b *budget) {
	l, body, ok := f.jsonRequest(w, r, b)
	if !ok {
		return
	}
	explain, err := explainMode(r)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	txs, array, err := decodeTransactions(body, l.cfg.MaxBatch)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	preds, err := f.predict(r.Context(), l, txs, explain)
	if err != nil {
		f.writeError(w, r, err)
		return
	}
	writePredictions(w, preds, array)
}

// writePredictions answers with the predictions as encoding/json would write them (an array, or
// the one object), from one buffer and without reflection (scoring.AppendJSONs).
func writePredictions(w http.ResponseWriter, preds []scoring.Prediction, array bool) {
	buf := replyBuffers.Get().(*[]byte)
	defer replyBuffers.Put(buf)
	b := (*buf)[:0]
	if array {
		b = append(b, '[')
	}
	b, err := scoring.AppendJSONs(b, preds)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, json.RawMessage(`{"error":"internal error","reason":"internal"}`))
		return
	}
	if array {
		b = append(b, ']')
	}
	b = append(b, '\n')
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledReply {
		*buf = b
	}
}

// jsonContentType is the Content-Type header value of JSON replies, shared: net/http only reads
// it, and Header.Set would allocate a new slice per reply.
var jsonContentType = []string{"application/json"}

// maxPooledReply is the largest reply buffer kept for reuse: a 500-row reply fits.
const maxPooledReply = 256 << 10

// replyBuffers keep reply buffers between requests, so that a reply costs no allocation.
var replyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// checkPredictMedia accepts JSON, no content type, and curl's default form type (curl -d sends
// that unless told otherwise; the body is still JSON).
func checkPredictMedia(ct string) error {
	if ct == "" || ct == "application/json" { // the common cases, without ParseMediaType's map
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
	n, ok := txn.ArrayLen(trimmed)
	if !ok {
		return nil, true, &txn.FieldError{Reason: "malformed JSON array"}
	}
	if n > maxBatch {
		return nil, true, fmt.Errorf("%w: %d transactions, the limit is %d", events.ErrBatchTooLarge, n, maxBatch)
	}
	txs = make([]txn.Transaction, n)
	if i, err := txn.DecodeJSONElements(trimmed, txs); err != nil {
		return nil, true, &events.ItemError{Index: i, Err: err}
	}
	return txs, true, nil
}

// initialBodyBuffer is where a body's buffer starts; it doubles as bytes arrive. Content-Length is
// only compared with the limit, never used to size an allocation: a client could declare 1 MiB
// and send nothing.
const initialBodyBuffer = 4 << 10

// readBody reads at most MAX_BODY_BYTES into a buffer that grows with what has arrived, each
// growth reserved against the request's share of MAX_BUFFERED_BYTES (returned when the request
// ends). A client that goes away or stalls past the read timeout is told apart from bad input.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, b *budget) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", events.ErrBodyTooLarge, r.ContentLength, limit)
	}
	size := int64(initialBodyBuffer)
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength + 1 // +1 lets the read see EOF without growing
	}
	if err := b.reserve(size); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, size)
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			// Double, but never past what the client declared (+1 to see EOF): Content-Length
			// caps the growth, it never sizes an allocation ahead of the bytes.
			grown := min(2*int64(cap(buf)), limit+1)
			if r.ContentLength >= int64(cap(buf)) {
				grown = min(grown, r.ContentLength+1)
			}
			if err := b.reserve(grown); err != nil {
				return nil, err
			}
			old := int64(cap(buf))
			buf = append(make([]byte, 0, grown), buf...)
			b.give(old) // the old buffer is garbage now
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, bodyError(r, err, limit)
		}
	}
}

// bodyError classifies a failed body read.
func bodyError(r *http.Request, err error, limit int64) error {
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("%w: the limit is %d bytes", events.ErrBodyTooLarge, limit)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %w", events.ErrBodyTimeout, err)
	case r.Context().Err() != nil, errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%w: %w", events.ErrClientGone, err)
	}
	return fmt.Errorf("%w: reading the body: %v", events.ErrInvalidEvent, err)
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
//
// A request whose client has gone is not a failure of the service: it is counted as client_gone
// whatever error the cancellation caused. Unknown routes and methods (scanners) are answered but
// not counted in ml_model_errors_total: they are http_requests_total{route="other"} only.
func (f *Function) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", events.ErrClientGone, err)
	}
	status, reason := events.Classify(err)
	if reason != events.ReasonNotFound && reason != events.ReasonMethodNotAllowed {
		f.metrics.Error(reason)
	}
	switch reason {
	case events.ReasonOverloaded, events.ReasonBodyTooLarge, events.ReasonBodyTimeout, events.ReasonClientGone:
		// The body may be unread: closing beats the server waiting for the rest of it to keep
		// the connection alive (a slow upload would hold the reply back).
		w.Header().Set("Connection", "close")
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	f.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path,
		"status", status, "reason", reason, "error", err)
	writeJSON(w, status, events.NewErrorBody(err))
}

// retryAfterSeconds is the Retry-After of every 503: long enough for a shed burst to drain, short
// against KafkaSource's backoff.
const retryAfterSeconds = 1

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
