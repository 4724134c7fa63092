package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"function/internal/scoring"
	"function/internal/txn"
)

// Errors of the transport. Those that can never succeed on retry are answered with a 4xx (the
// KafkaSource dead-letters them); transient ones with a 503 (it retries them).
var (
	ErrUnsupportedMedia = errors.New("unsupported media type")
	ErrUnknownType      = errors.New("unknown event type")
	ErrInvalidEvent     = errors.New("invalid CloudEvent")
	ErrBatchTooLarge    = errors.New("batch too large")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrPublish          = errors.New("publishing predictions failed")
	ErrNotFound         = errors.New("not found")
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrOverloaded: a limit on in-flight requests or buffered bytes is reached (503, retried).
	ErrOverloaded = errors.New("overloaded")
	// ErrClientGone: the client went away before its request was read or answered (499, nobody
	// is left to read a reply; never counted as bad input).
	ErrClientGone = errors.New("client closed the request")
	// ErrBodyTimeout: the body did not arrive within the server's read timeout (408, which
	// KafkaSource retries).
	ErrBodyTimeout = errors.New("request body read timed out")
)

// StatusClientClosedRequest is the status recorded (nginx's convention) when the client has gone.
const StatusClientClosedRequest = 499

// Reasons: the bounded label values of ml_model_errors_total{reason}.
const (
	ReasonInvalidInput     = "invalid_input"
	ReasonInvalidEvent     = "invalid_event"
	ReasonUnknownEventType = "unknown_event_type"
	ReasonUnsupportedMedia = "unsupported_media"
	ReasonBodyTooLarge     = "body_too_large"
	ReasonBatchTooLarge    = "batch_too_large"
	ReasonNotFound         = "not_found"
	ReasonMethodNotAllowed = "method_not_allowed"
	ReasonModelUnavailable = "model_unavailable"
	ReasonStoreUnavailable = "store_unavailable"
	ReasonPublishFailed    = "publish_failed"
	ReasonTimeout          = "timeout"
	ReasonOverloaded       = "overloaded"
	ReasonClientGone       = "client_gone"
	ReasonBodyTimeout      = "body_timeout"
	ReasonInternal         = "internal"
)

// Reasons lists every reason Classify returns.
var Reasons = []string{
	ReasonInvalidInput, ReasonInvalidEvent, ReasonUnknownEventType, ReasonUnsupportedMedia,
	ReasonBodyTooLarge, ReasonBatchTooLarge, ReasonNotFound, ReasonMethodNotAllowed,
	ReasonModelUnavailable, ReasonStoreUnavailable, ReasonPublishFailed, ReasonTimeout,
	ReasonOverloaded, ReasonClientGone, ReasonBodyTimeout, ReasonInternal,
}

// Classify maps an error to its HTTP status and reason: the one place that decides between
// "never retry" (4xx) and "retry" (5xx). The Kafka consumer dead-letters what gets a 4xx here.
func Classify(err error) (status int, reason string) {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, ErrClientGone):
		return StatusClientClosedRequest, ReasonClientGone
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout, ReasonBodyTimeout
	case errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable, ReasonOverloaded
	case errors.Is(err, ErrBodyTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, ReasonBodyTooLarge
	case errors.Is(err, ErrBatchTooLarge):
		return http.StatusRequestEntityTooLarge, ReasonBatchTooLarge
	case errors.Is(err, ErrUnsupportedMedia):
		return http.StatusUnsupportedMediaType, ReasonUnsupportedMedia
	case errors.Is(err, ErrUnknownType):
		return http.StatusBadRequest, ReasonUnknownEventType
	case errors.Is(err, ErrInvalidEvent):
		return http.StatusBadRequest, ReasonInvalidEvent
	case errors.Is(err, txn.ErrInvalid):
		return http.StatusBadRequest, ReasonInvalidInput
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, ReasonNotFound
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, ReasonMethodNotAllowed
	case errors.Is(err, scoring.ErrNoModel):
		return http.StatusServiceUnavailable, ReasonModelUnavailable
	case errors.Is(err, scoring.ErrStore):
		return http.StatusServiceUnavailable, ReasonStoreUnavailable
	case errors.Is(err, ErrPublish):
		return http.StatusServiceUnavailable, ReasonPublishFailed
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, ReasonTimeout
	}
	return http.StatusInternalServerError, ReasonInternal
}

// ItemError places an error at one element of a batch or array.
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap exposes the element's error to errors.Is and errors.As.
func (e *ItemError) Unwrap() error { return e.Err }

// Field names the offending field of err, as "[3].tx_amount" inside a batch; "" when none.
func Field(err error) string {
	var fe *txn.FieldError
	field := ""
	if errors.As(err, &fe) {
		field = fe.Field
	}
	var ie *ItemError
	if errors.As(err, &ie) {
		if field == "" {
			return "[" + strconv.Itoa(ie.Index) + "]"
		}
		return "[" + strconv.Itoa(ie.Index) + "]." + field
	}
	return field
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// serverMessages are what a client reads for a server-side failure: the error itself (which may
// name a Redis or broker address) goes to the log only.
var serverMessages = map[string]string{
	ReasonModelUnavailable: "no model loaded yet",
	ReasonStoreUnavailable: "feature store unavailable",
	ReasonPublishFailed:    "publishing predictions failed",
	ReasonTimeout:          "timed out",
	ReasonOverloaded:       "too many requests in flight",
	ReasonInternal:         "internal error",
}

// NewErrorBody describes err for a client. A client's own mistake (4xx) is explained in full; a
// server-side failure (5xx) gets a fixed message per reason, never the error's text.
func NewErrorBody(err error) ErrorBody {
	status, reason := Classify(err)
	msg := err.Error()
	if status >= 500 {
		if m, ok := serverMessages[reason]; ok {
			msg = m
		} else {
			msg = http.StatusText(status)
		}
		return ErrorBody{Error: msg, Reason: reason}
	}
	return ErrorBody{Error: msg, Field: Field(err), Reason: reason}
}
