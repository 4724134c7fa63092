package txn

// The decoder as it was before issue 15 made it allocation-free, kept as the reference that
// FuzzDecodeJSONReference holds the new one to: the same transaction or the same error for every
// input. Test code only.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"function/internal/jsonscan"
)

// refWire is the JSON shape of a transaction. Numbers stay raw so that every field gets its own
// error message, and ids may be strings or numbers as they are in the wild.
type refWire struct {
	TransactionID json.RawMessage
	TranactionID  json.RawMessage // the dataset's spelling
	TxDatetime    json.RawMessage
	CustomerID    json.RawMessage
	TerminalID    json.RawMessage
	TxAmount      json.RawMessage
	TxTimeSeconds json.RawMessage
	TxTimeDays    json.RawMessage
}

func (w *refWire) fields() []refObjectField {
	return []refObjectField{{"transaction_id", &w.TransactionID}, {"tranaction_id", &w.TranactionID},
		{"tx_datetime", &w.TxDatetime}, {"customer_id", &w.CustomerID}, {"terminal_id", &w.TerminalID},
		{"tx_amount", &w.TxAmount}, {"tx_time_seconds", &w.TxTimeSeconds}, {"tx_time_days", &w.TxTimeDays}}
}

// refDecodeJSON decodes one transaction object and validates it. Every error it returns wraps
// ErrInvalid and, where one field is at fault, is a *FieldError naming it.
func refDecodeJSON(data []byte) (Transaction, error) {
	var w refWire
	var t Transaction
	if err := refDecodeObject(data, w.fields()); err != nil {
		return t, err
	}
	id := w.TransactionID
	if refIsAbsent(id) {
		id = w.TranactionID
	}
	var err error
	if t.ID, err = refIDField("transaction_id", id); err != nil {
		return t, err
	}
	if refIsAbsent(w.TxDatetime) {
		return t, invalid("tx_datetime", "missing")
	}
	var s string
	if json.Unmarshal(w.TxDatetime, &s) != nil {
		return t, invalid("tx_datetime", "must be a string")
	}
	if t.Time, err = refParseDatetime(s); err != nil {
		return t, invalid("tx_datetime", "%v", err)
	}
	if t.CustomerID, err = refIntField("customer_id", w.CustomerID, true); err != nil {
		return t, err
	}
	if t.TerminalID, err = refIntField("terminal_id", w.TerminalID, true); err != nil {
		return t, err
	}
	if t.Amount, err = refFloatField("tx_amount", w.TxAmount); err != nil {
		return t, err
	}
	if t.TimeSeconds, err = refIntField("tx_time_seconds", w.TxTimeSeconds, false); err != nil {
		return t, err
	}
	if t.TimeDays, err = refIntField("tx_time_days", w.TxTimeDays, false); err != nil {
		return t, err
	}
	return t, t.Validate()
}

func refIsAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// refIDField takes a string or an integer.
func refIDField(name string, raw json.RawMessage) (string, error) {
	if refIsAbsent(raw) {
		return "", invalid(name, "missing")
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return "", invalid(name, "must be a non-empty string or an integer")
		}
		if !validID(string(raw), s) {
			return "", invalid(name, "must be valid UTF-8 (no invalid bytes, lone surrogates or U+FFFD)")
		}
		return s, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return "", invalid(name, "must be a non-empty string or an integer")
	}
	return strconv.FormatInt(n, 10), nil // -0 is 0
}

// refNumberText returns the text of a JSON number, or of a string holding exactly one (no spaces,
// signs, underscores, hex, NaN or Inf: "1_000" is not a thousand).
func refNumberText(raw json.RawMessage) (string, bool) {
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || !isNumber(s) {
			return "", false
		}
		return s, true
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return string(raw), true
	}
	return "", false
}

func refIntField(name string, raw json.RawMessage, required bool) (int64, error) {
	if refIsAbsent(raw) {
		if required {
			return 0, invalid(name, "missing")
		}
		return 0, nil
	}
	s, ok := refNumberText(raw)
	if !ok {
		return 0, invalid(name, "must be an integer")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Integers written as 12.0 by float-minded producers are still integers.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, invalid(name, "must be an integer")
		}
		n = int64(f)
	}
	return n, nil
}

func refFloatField(name string, raw json.RawMessage) (float64, error) {
	if refIsAbsent(raw) {
		return 0, invalid(name, "missing")
	}
	s, ok := refNumberText(raw)
	if !ok {
		return 0, invalid(name, "must be a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, invalid(name, "out of range")
		}
		return 0, invalid(name, "must be a number")
	}
	return f, nil
}

// refObjectField is one key a decoder wants from a JSON object, matched exactly (case-sensitive).
type refObjectField struct {
	name string
	raw  *json.RawMessage
}

// refDecodeObject reads one JSON object into fields. Unlike encoding/json it matches keys exactly
// and refuses a repeated key (encoding/json folds case and lets the last one win, so
// {"tx_amount":1,"TX_AMOUNT":9000} would score 9000 while a log or a proxy reads 1). A key equal
// to a wanted one except for case is refused too: it is a mistake, never another field. Other
// keys are ignored (datasets carry tx_fraud and tx_fraud_scenario).
func refDecodeObject(data []byte, fields []refObjectField) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return &FieldError{Reason: "empty body"}
	}
	if trimmed[0] != '{' {
		return &FieldError{Reason: "expected a JSON object"}
	}
	if !json.Valid(trimmed) {
		// json.Valid first: a syntax error is reported at its byte, and the walk below only
		// ever sees one well-formed object.
		var v any
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(trimmed, &v), &se) {
			return &FieldError{Reason: "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)}
		}
		return &FieldError{Reason: "malformed JSON"}
	}
	// trimmed is one valid object: walk its top-level members without a second tokenizer.
	i := jsonscan.SkipSpace(trimmed, 1)
	var seen map[string]struct{}
	for trimmed[i] != '}' {
		end := jsonscan.StringEnd(trimmed, i)
		key := string(trimmed[i+1 : end-1])
		if strings.IndexByte(key, '\\') >= 0 || !utf8.ValidString(key) { // as encoding/json reads it
			if err := json.Unmarshal(trimmed[i:end], &key); err != nil {
				return &FieldError{Reason: "malformed JSON"}
			}
		}
		i = jsonscan.SkipSpace(trimmed, end)
		i = jsonscan.SkipSpace(trimmed, i+1) // ':'
		vend := jsonscan.ValueEnd(trimmed, i)
		raw := json.RawMessage(trimmed[i:vend])
		i = jsonscan.SkipSpace(trimmed, vend)
		if trimmed[i] == ',' {
			i = jsonscan.SkipSpace(trimmed, i+1)
		}
		if seen == nil {
			seen = make(map[string]struct{}, len(fields))
		}
		if _, dup := seen[key]; dup {
			return &FieldError{Field: refFieldName(key, fields), Reason: "duplicate key " + quoteKey(key) + ": each key may appear once"}
		}
		seen[key] = struct{}{}
		matched := false
		for _, f := range fields {
			if key == f.name {
				*f.raw, matched = raw, true
				break
			}
		}
		if matched {
			continue
		}
		for _, f := range fields {
			if strings.EqualFold(key, f.name) {
				return invalid(f.name, "key %s differs in case: keys are case-sensitive", quoteKey(key))
			}
		}
	}
	return nil
}

func refFieldName(key string, fields []refObjectField) string {
	for _, f := range fields {
		if key == f.name {
			return f.name
		}
	}
	return ""
}

func refParseDatetime(s string) (time.Time, error) {
	if t, err := time.Parse(DatetimeLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither %q nor RFC 3339", s, DatetimeLayout)
	}
	return t.UTC(), nil
}

// sameOutcome fails t unless the two decodings agree: the same transaction, or the same error.
func sameOutcome(t *testing.T, data []byte, got Transaction, err error, want Transaction, wantErr error) {
	t.Helper()
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%q: error %v, the reference says %v", data, err, wantErr)
	}
	var fe, wfe *FieldError
	if errors.As(err, &fe) != errors.As(wantErr, &wfe) || (fe != nil && *fe != *wfe) {
		t.Fatalf("%q: field error %+v, the reference says %+v", data, fe, wfe)
	}
	if err == nil && (got != want || got.Time.Location() != want.Time.Location()) {
		t.Fatalf("%q: %+v, the reference says %+v", data, got, want)
	}
}

// FuzzDecodeJSONReference holds DecodeJSON to the decoder it replaced: for every input the same
// transaction or the same error.
func FuzzDecodeJSONReference(f *testing.F) {
	for _, s := range referenceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeJSON(data)
		want, wantErr := refDecodeJSON(data)
		sameOutcome(t, data, got, err, want, wantErr)
	})
}

// FuzzDecodeJSONElements holds the batch decoder to the way /predict split arrays before
// (encoding/json into []json.RawMessage, then the reference decoder on each element): the same
// validity, the same count, the same transactions and the same first error at the same index.
func FuzzDecodeJSONElements(f *testing.F) {
	for _, s := range referenceSeeds {
		f.Add([]byte("[" + s + "]"))
		f.Add([]byte("[" + s + " , " + s + "]"))
	}
	f.Add([]byte(`[ ]`))
	f.Add([]byte(`[1, "x", null, {}]`))
	f.Add([]byte(`[{"a":[1,2]},{"b":{"c":"]"}}] `))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		var raw []json.RawMessage
		wantOK := len(data) > 0 && data[0] == '[' && json.Unmarshal(data, &raw) == nil
		n, ok := ArrayLen(data)
		if ok != wantOK || (ok && n != len(raw)) {
			t.Fatalf("%q: ArrayLen %d %v, encoding/json %d %v", data, n, ok, len(raw), wantOK)
		}
		if !ok {
			return
		}
		txs := make([]Transaction, n)
		at, err := DecodeJSONElements(data, txs)
		for i, r := range raw {
			want, wantErr := refDecodeJSON(r)
			if wantErr != nil {
				if at != i {
					t.Fatalf("%q: failed at %d (%v), the reference at %d (%v)", data, at, err, i, wantErr)
				}
				sameOutcome(t, r, Transaction{}, err, want, wantErr)
				return
			}
			sameOutcome(t, r, txs[i], nil, want, nil)
		}
		if err != nil || at != n {
			t.Fatalf("%q: %d decoded, %v; the reference took all %d", data, at, err, n)
		}
	})
}

// FuzzParseDatetime holds ParseDatetime's fast path for the dataset's layout to time.Parse.
func FuzzParseDatetime(f *testing.F) {
	for _, s := range []string{"2019-08-22 06:51:03", "2019-02-29 00:00:00", "2020-02-29 23:59:59", "2019-08-22 24:00:00",
		"0000-01-01 00:00:00", "2019-13-01 00:00:00", "2019-08-22 6:51:03", "2019-08-22T06:51:03Z", "2019-08-22 06:51:03.5", "2019-04-31 00:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDatetime(s)
		want, wantErr := refParseDatetime(s)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) || !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q: %v %v, time.Parse says %v %v", s, got, err, want, wantErr)
		}
	})
}

var referenceSeeds = []string{
	`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":70.91}`,
	`{"tranaction_id":1,"tx_datetime":"2019-08-22T06:51:03Z","customer_id":"5","terminal_id":7.0,"tx_amount":"2.5"}`,
	`{"transaction_id":-0,"tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":1e2,"tx_time_seconds":"12","tx_time_days":1.0}`,
	`{"transaction_id":"a\u00e9\ud83d\ude00","tx_datetime":"2019-02-29 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":70.91}`,
	`{"transaction_id":1e400}`, `[]`, `null`, `{"tx_amount":"NaN"}`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":1,`, "\u00a0{}",
	`{"transaction_id":"a","terminal_id":711,"customer_id":0,"tx_datetime":"2019-08-22 06:51:03","tx_fraud":1}`,
	`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":1,"tx_amount":2}`,
	`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"TX_AMOUNT":2}`,
	`{"transaction_id":"a\ud800","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":"1_000"}`,
	"{\"transaction_id\":\"\xff\",\"tx_datetime\":\"2019-08-22 06:51:03\",\"customer_id\":0,\"terminal_id\":1,\"tx_amount\":1}",
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k1":0}`,
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k17":0}`,
}
