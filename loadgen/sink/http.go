package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// ErrOverloaded is the outcome of a record that found every request slot busy: it is counted as
// an error, never queued, so slow responses cannot slow the schedule.
var ErrOverloaded = errors.New("sink: too many requests in flight")

// HTTP POSTs each record to a URL: binary-mode CloudEvents (ce- headers) or the plain JSON body.
type HTTP struct {
	url    string
	client *http.Client
	slots  chan struct{}
	wg     sync.WaitGroup
}

// NewHTTP posts to url with at most maxInFlight requests open.
func NewHTTP(url string, maxInFlight int, timeout time.Duration) *HTTP {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxInFlight
	tr.MaxIdleConnsPerHost = maxInFlight
	return &HTTP{url: url, client: &http.Client{Transport: tr, Timeout: timeout}, slots: make(chan struct{}, maxInFlight)}
}

// Send starts the request and returns.
func (h *HTTP) Send(ctx context.Context, r Record, done func(error)) error {
	select {
	case h.slots <- struct{}{}:
	default:
		done(ErrOverloaded)
		return nil
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { <-h.slots }()
		done(h.post(context.WithoutCancel(ctx), r))
	}()
	return nil
}

func (h *HTTP) post(ctx context.Context, r Record) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(r.Value))
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.CE != nil {
		e := r.Event()
		if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("sink: post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sink: post: status %d", resp.StatusCode)
	}
	return nil
}

// Close waits for the requests in flight.
func (h *HTTP) Close() error {
	h.wg.Wait()
	h.client.CloseIdleConnections()
	return nil
}
