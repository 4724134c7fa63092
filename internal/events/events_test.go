package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"function/internal/scoring"
	"function/internal/txn"
)

const txJSON = `{"transaction_id":"t-1","tx_datetime":"2018-04-01 00:00:31","customer_id":596,"terminal_id":3156,"tx_amount":57.16}`

// kafkaHeaders are the headers KafkaSource sends for a plain record: binary mode, no content type.
func kafkaHeaders() http.Header {
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", "partition:3/offset:42")
	h.Set("Ce-Source", "/apis/v1/namespaces/fraud/kafkasources/transactions#transactions-input")
	h.Set("Ce-Type", TypeKafka)
	h.Set("Ce-Subject", "partition:3#42")
	h.Set("Ce-Time", "2026-11-26T10:00:00Z")
	h.Set("Ce-Key", "596")
	h.Set("Ce-Partitionkey", "596")
	return h
}

func structured(t *testing.T, typ, id, data string) []byte {
	t.Helper()
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"/test","type":%q,"datacontenttype":"application/json","data":%s}`, id, typ, data)
}

func TestReadHTTP(t *testing.T) {
	labelJSON := `{"transaction_id":"t-0","customer_id":1,"terminal_id":2,"tx_datetime":"2018-04-01 00:00:00","tx_fraud":1}`
	tests := map[string]struct {
		header   http.Header
		body     []byte
		wantMode Mode
		wantIDs  []string
		wantKind []Kind
	}{
		"kafka source binary, no content type": {
			header: kafkaHeaders(), body: []byte(txJSON), wantMode: ModeBinary,
			wantIDs: []string{"partition:3/offset:42"}, wantKind: []Kind{KindTransaction},
		},
		"structured transaction": {
			header:   http.Header{"Content-Type": {MediaStructured + "; charset=utf-8"}},
			body:     structured(t, TypeTransaction, "e1", txJSON),
			wantMode: ModeStructured, wantIDs: []string{"e1"}, wantKind: []Kind{KindTransaction},
		},
		"batch of transaction and label": {
			header: http.Header{"Content-Type": {MediaBatch}},
			body: []byte("[" + string(structured(t, TypeTransaction, "e1", txJSON)) + "," +
				string(structured(t, TypeLabel, "e2", labelJSON)) + "]"),
			wantMode: ModeBatch, wantIDs: []string{"e1", "e2"}, wantKind: []Kind{KindTransaction, KindLabel},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, mode, err := ReadHTTP(tc.header, tc.body, 10)
			if err != nil {
				t.Fatalf("ReadHTTP: %v", err)
			}
			if mode != tc.wantMode || len(evs) != len(tc.wantIDs) {
				t.Fatalf("got mode %v with %d events, want %v with %d", mode, len(evs), tc.wantMode, len(tc.wantIDs))
			}
			for i := range evs {
				if evs[i].ID() != tc.wantIDs[i] {
					t.Errorf("event %d id %q, want %q", i, evs[i].ID(), tc.wantIDs[i])
				}
				in, err := Decode(&evs[i])
				if err != nil {
					t.Fatalf("Decode %d: %v", i, err)
				}
				if in.Kind != tc.wantKind[i] {
					t.Errorf("event %d kind %v, want %v", i, in.Kind, tc.wantKind[i])
				}
			}
		})
	}
}

func TestKafkaSourceExtensions(t *testing.T) {
	evs, _, err := ReadHTTP(kafkaHeaders(), []byte(txJSON), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].Extensions()["key"]; got != "596" {
		t.Errorf("key extension %v, want 596", got)
	}
	in, err := Decode(&evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if in.Tx.ID != "t-1" || in.Tx.CustomerID != 596 || in.Tx.Amount != 57.16 {
		t.Errorf("decoded %+v", in.Tx)
	}
}

func TestReadHTTPErrors(t *testing.T) {
	batchOf := func(n int) []byte {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = string(structured(t, TypeTransaction, fmt.Sprint("e", i), txJSON))
		}
		return []byte("[" + strings.Join(parts, ",") + "]")
	}
	noID := kafkaHeaders()
	noID.Del("Ce-Id")
	tests := map[string]struct {
		header http.Header
		body   []byte
		want   error
		field  string
	}{
		"plain JSON, no CloudEvent":  {http.Header{"Content-Type": {"application/json"}}, []byte(txJSON), ErrUnsupportedMedia, ""},
		"no content type at all":     {http.Header{}, []byte(txJSON), ErrUnsupportedMedia, ""},
		"unparseable content type":   {http.Header{"Content-Type": {"a/b; ;="}}, []byte(txJSON), ErrUnsupportedMedia, ""},
		"avro structured format":     {http.Header{"Content-Type": {"application/cloudevents+avro"}}, []byte("x"), ErrUnsupportedMedia, ""},
		"binary without id":          {noID, []byte(txJSON), ErrInvalidEvent, ""},
		"structured malformed":       {http.Header{"Content-Type": {MediaStructured}}, []byte(`{"specversion":`), ErrInvalidEvent, ""},
		"structured missing type":    {http.Header{"Content-Type": {MediaStructured}}, []byte(`{"specversion":"1.0","id":"1","source":"/s"}`), ErrInvalidEvent, ""},
		"batch not an array":         {http.Header{"Content-Type": {MediaBatch}}, []byte(`{}`), ErrInvalidEvent, ""},
		"batch over the limit":       {http.Header{"Content-Type": {MediaBatch}}, batchOf(4), ErrBatchTooLarge, ""},
		"batch with an invalid item": {http.Header{"Content-Type": {MediaBatch}}, []byte(`[` + string(structured(t, TypeTransaction, "e0", txJSON)) + `,{"specversion":"1.0","id":"","source":"/s","type":"x"}]`), ErrInvalidEvent, "[1]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ReadHTTP(tc.header, tc.body, 3)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got := Field(err); got != tc.field {
				t.Errorf("field %q, want %q", got, tc.field)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string]struct {
		typ, contentType, data string
		want                   error
		field                  string
	}{
		"unknown type":           {"com.example.other", "", txJSON, ErrUnknownType, ""},
		"text data":              {TypeKafka, "text/plain", txJSON, ErrUnsupportedMedia, ""},
		"octet stream data":      {TypeTransaction, "application/octet-stream", txJSON, ErrUnsupportedMedia, ""},
		"negative amount":        {TypeKafka, "", strings.Replace(txJSON, "57.16", "-1", 1), txn.ErrInvalid, "tx_amount"},
		"malformed JSON":         {TypeTransaction, "application/json", `{"transaction_id":`, txn.ErrInvalid, ""},
		"label without verdict":  {TypeLabel, "", `{"transaction_id":"a","customer_id":1,"terminal_id":1,"tx_datetime":"2018-04-01 00:00:00"}`, txn.ErrInvalid, "tx_fraud"},
		"label with bad json ct": {TypeLabel, "application/xml", `{}`, ErrUnsupportedMedia, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := event.New()
			e.SetID("1")
			e.SetSource("/s")
			e.SetType(tc.typ)
			e.DataEncoded = []byte(tc.data)
			if tc.contentType != "" {
				e.SetDataContentType(tc.contentType)
			}
			_, err := Decode(&e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got := Field(err); got != tc.field {
				t.Errorf("field %q, want %q", got, tc.field)
			}
		})
	}
}

func TestPredictionID(t *testing.T) {
	a := PredictionID("/src", "partition:3/offset:42")
	if a != PredictionID("/src", "partition:3/offset:42") {
		t.Fatal("same input gave different ids")
	}
	others := []string{
		PredictionID("/src", "partition:3/offset:43"),
		PredictionID("/other", "partition:3/offset:42"),
		PredictionID("/src/partition:3", "/offset:42"), // the separator keeps (source, id) pairs apart
	}
	for _, o := range others {
		if o == a {
			t.Errorf("distinct inputs share id %s", a)
		}
	}
}

func TestPredictionEventRoundTrip(t *testing.T) {
	p := scoring.Prediction{TransactionID: "t-1", CustomerID: 596, TerminalID: 3156, TxDatetime: "2018-04-01 00:00:31",
		TxAmount: 57.16, FraudProbability: 0.25, Threshold: 0.5, ModelName: "m", ModelVersion: "v1",
		ScoredAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	e, err := NewPrediction("/src", "partition:3/offset:42", &p)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("invalid prediction event: %v", err)
	}
	for name, mode := range map[string]Mode{"binary": ModeBinary, "batch": ModeBatch} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := WriteHTTP(rec, []event.Event{e}, mode); err != nil {
				t.Fatal(err)
			}
			resp := rec.Result()
			var got []event.Event
			var err error
			if mode == ModeBatch {
				got, err = cehttp.NewEventsFromHTTPResponse(resp)
			} else {
				var e *event.Event
				if e, err = cehttp.NewEventFromHTTPResponse(resp); e != nil {
					got = append(got, *e)
				}
			}
			if err != nil {
				t.Fatalf("the SDK cannot read our reply: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("%d events back", len(got))
			}
			g := got[0]
			if g.ID() != PredictionID("/src", "partition:3/offset:42") || g.Type() != TypePrediction ||
				g.Source() != Source || g.Subject() != "t-1" || g.Extensions()[PartitionKey] != "596" {
				t.Errorf("attributes: %s", g.String())
			}
			var back scoring.Prediction
			if err := g.DataAs(&back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("data %+v, want %+v", back, p)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err    error
		status int
		reason string
	}{
		"field error":        {fmt.Errorf("decode: %w", &txn.FieldError{Field: "tx_amount", Reason: "bad"}), 400, ReasonInvalidInput},
		"unknown type":       {fmt.Errorf("x: %w", ErrUnknownType), 400, ReasonUnknownEventType},
		"bad event":          {ErrInvalidEvent, 400, ReasonInvalidEvent},
		"media":              {ErrUnsupportedMedia, 415, ReasonUnsupportedMedia},
		"max bytes":          {&http.MaxBytesError{Limit: 1}, 413, ReasonBodyTooLarge},
		"batch":              {ErrBatchTooLarge, 413, ReasonBatchTooLarge},
		"no model":           {fmt.Errorf("score: %w", scoring.ErrNoModel), 503, ReasonModelUnavailable},
		"store":              {fmt.Errorf("%w: redis down", scoring.ErrStore), 503, ReasonStoreUnavailable},
		"publish":            {fmt.Errorf("%w: broker gone", ErrPublish), 503, ReasonPublishFailed},
		"deadline":           {context.DeadlineExceeded, 503, ReasonTimeout},
		"item in batch":      {&ItemError{Index: 2, Err: &txn.FieldError{Field: "customer_id"}}, 400, ReasonInvalidInput},
		"anything else":      {io.ErrUnexpectedEOF, 500, ReasonInternal},
		"not found":          {ErrNotFound, 404, ReasonNotFound},
		"method not allowed": {ErrMethodNotAllowed, 405, ReasonMethodNotAllowed},
		"overloaded":         {fmt.Errorf("%w: 128 requests in flight", ErrOverloaded), 503, ReasonOverloaded},
		"client gone":        {fmt.Errorf("%w: %w", ErrClientGone, io.ErrUnexpectedEOF), 499, ReasonClientGone},
		"body timeout":       {fmt.Errorf("%w: i/o timeout", ErrBodyTimeout), 408, ReasonBodyTimeout},
	}
	seen := map[string]bool{}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, reason := Classify(tc.err)
			if status != tc.status || reason != tc.reason {
				t.Errorf("Classify = %d %s, want %d %s", status, reason, tc.status, tc.reason)
			}
		})
		seen[tc.reason] = true
	}
	for _, r := range Reasons {
		if !seen[r] {
			t.Errorf("reason %s has no case here", r)
		}
	}
}

func TestErrorBodyHidesInternals(t *testing.T) {
	b := NewErrorBody(errors.New("secret dsn redis://u:p@h"))
	if strings.Contains(b.Error, "secret") || b.Reason != ReasonInternal {
		t.Errorf("internal error leaked: %+v", b)
	}
	b = NewErrorBody(&ItemError{Index: 3, Err: &txn.FieldError{Field: "tx_amount", Reason: "NaN"}})
	if b.Field != "[3].tx_amount" || b.Reason != ReasonInvalidInput {
		t.Errorf("item error body %+v", b)
	}
}

// TestErrorBodyHidesServerDetail: a 5xx body names the reason, never the error's text, which for a
// store or broker failure carries internal addresses (the log has it).
func TestErrorBodyHidesServerDetail(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("score t1: %w: dial tcp 10.1.2.3:6379: connection refused", scoring.ErrStore),
		fmt.Errorf("%w: kafka-0.kafka.svc:9092: not leader", ErrPublish),
		fmt.Errorf("redis 10.1.2.3:6379: %w", context.DeadlineExceeded),
		fmt.Errorf("%w: 10.1.2.3", ErrOverloaded),
		fmt.Errorf("load models:/x from http://mlflow:5000: %w", scoring.ErrNoModel),
	} {
		b := NewErrorBody(err)
		for _, leak := range []string{"10.1.2.3", "kafka-0", "mlflow", "6379"} {
			if strings.Contains(b.Error, leak) || strings.Contains(b.Field, leak) {
				t.Errorf("%v: body %+v echoes %s", err, b, leak)
			}
		}
		if _, reason := Classify(err); b.Reason != reason || b.Error == "" {
			t.Errorf("%v: body %+v, want reason %s and a message", err, b, reason)
		}
	}
}

// FuzzReadHTTP feeds arbitrary bodies in each mode: decoding may fail but must not panic, and a
// failure must classify as a client error, never a 5xx.
func FuzzReadHTTP(f *testing.F) {
	f.Add(0, []byte(txJSON))
	f.Add(1, []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"fraud.transaction.v1","data":`+txJSON+`}`))
	f.Add(1, []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"fraud.transaction.v1","data_base64":"eyJ4IjoxfQ=="}`))
	f.Add(2, []byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"fraud.label.v1","data":{"tx_fraud":1}}]`))
	f.Add(2, []byte(`[null, 1, "x"]`))
	f.Fuzz(func(t *testing.T, mode int, body []byte) {
		var h http.Header
		switch ((mode % 3) + 3) % 3 {
		case 0:
			h = kafkaHeaders()
		case 1:
			h = http.Header{"Content-Type": {MediaStructured}}
		default:
			h = http.Header{"Content-Type": {MediaBatch}}
		}
		evs, _, err := ReadHTTP(h, bytes.Clone(body), 50)
		if err != nil {
			if status, _ := Classify(err); status >= 500 {
				t.Fatalf("input error classified %d: %v", status, err)
			}
			return
		}
		for i := range evs {
			if _, err := Decode(&evs[i]); err != nil {
				if status, _ := Classify(err); status >= 500 {
					t.Fatalf("decode error classified %d: %v", status, err)
				}
			}
		}
	})
}
