package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Media types of the CloudEvents HTTP modes.
const (
	MediaStructured = event.ApplicationCloudEventsJSON      // application/cloudevents+json
	MediaBatch      = event.ApplicationCloudEventsBatchJSON // application/cloudevents-batch+json
)

// Mode is how a request carried its events.
type Mode int

// HTTP content modes.
const (
	ModeBinary Mode = iota + 1
	ModeStructured
	ModeBatch
)

// ReadHTTP decodes the CloudEvents of a request whose body has been read already. A batch holds
// at most maxBatch events. Every event is validated against the CloudEvents spec. Errors wrap
// ErrUnsupportedMedia (not a CloudEvents request), ErrInvalidEvent or ErrBatchTooLarge.
func ReadHTTP(header http.Header, body []byte, maxBatch int) ([]event.Event, Mode, error) {
	ct := header.Get("Content-Type")
	mt := ""
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, 0, fmt.Errorf("%w: content type %q: %v", ErrUnsupportedMedia, truncate(ct, 64), err)
		}
	}
	switch {
	case mt == MediaBatch:
		var evs []event.Event
		if err := json.Unmarshal(body, &evs); err != nil {
			return nil, ModeBatch, fmt.Errorf("%w: batch: %v", ErrInvalidEvent, err)
		}
		if len(evs) > maxBatch {
			return nil, ModeBatch, fmt.Errorf("%w: %d events, the limit is %d", ErrBatchTooLarge, len(evs), maxBatch)
		}
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				return nil, ModeBatch, &ItemError{Index: i, Err: fmt.Errorf("%w: %v", ErrInvalidEvent, err)}
			}
		}
		return evs, ModeBatch, nil
	case mt == MediaStructured:
		var e event.Event
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, ModeStructured, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		if err := e.Validate(); err != nil {
			return nil, ModeStructured, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		return []event.Event{e}, ModeStructured, nil
	case strings.HasPrefix(mt, "application/cloudevents"):
		return nil, 0, fmt.Errorf("%w: %q (only JSON event formats are read)", ErrUnsupportedMedia, mt)
	case header.Get("Ce-Specversion") != "":
		msg := cehttp.NewMessage(header, nopCloser{bytes.NewReader(body)})
		e, err := binding.ToEvent(context.Background(), msg)
		if err != nil {
			return nil, ModeBinary, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		if err := e.Validate(); err != nil {
			return nil, ModeBinary, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		return []event.Event{*e}, ModeBinary, nil
	}
	return nil, 0, fmt.Errorf("%w: %q is not a CloudEvent (no ce-specversion header, not %s or %s)",
		ErrUnsupportedMedia, truncate(ct, 64), MediaStructured, MediaBatch)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// WriteHTTP writes the reply: a single event in binary mode (as the input's mode does not matter to
// KafkaSource and binary is the cheapest to read), a batch as a JSON array.
func WriteHTTP(w http.ResponseWriter, evs []event.Event, mode Mode) error {
	if mode == ModeBatch {
		// Joined by hand: json.Marshal of the slice would re-scan and compact every event's JSON,
		// a third of a 500-event batch's cost.
		body := make([]byte, 0, 512*len(evs)+2)
		body = append(body, '[')
		for i := range evs {
			b, err := evs[i].MarshalJSON()
			if err != nil {
				return fmt.Errorf("encode reply batch: %w", err)
			}
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, b...)
		}
		body = append(body, ']')
		w.Header().Set("Content-Type", MediaBatch)
		_, err := w.Write(body)
		return err
	}
	if len(evs) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	e := evs[0]
	h := w.Header()
	// Keys written already canonical: Header.Set would canonicalize each one, per request.
	h["Ce-Specversion"] = []string{e.SpecVersion()}
	h["Ce-Id"] = []string{e.ID()}
	h["Ce-Source"] = []string{e.Source()}
	h["Ce-Type"] = []string{e.Type()}
	if s := e.Subject(); s != "" {
		h["Ce-Subject"] = []string{headerValue(s)}
	}
	if !e.Time().IsZero() {
		h["Ce-Time"] = []string{e.Time().UTC().Format("2006-01-02T15:04:05.999999999Z")}
	}
	for k, v := range e.Extensions() {
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprint(v)
		}
		h.Set("Ce-"+k, headerValue(s))
	}
	h.Set("Content-Type", e.DataContentType())
	_, err := w.Write(e.Data())
	return err
}

// headerValue percent-encodes what the CloudEvents HTTP binding says must not appear raw in a
// header value (the transaction id is outside input).
func headerValue(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '%' {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
