package txn

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"function/internal/jsonscan"
)

// wire is the JSON shape of a transaction: each field's JSON text, as a substring of the body's.
// Numbers stay raw so that every field gets its own error message, and ids may be strings or
// numbers as they are in the wild.
type wire struct {
	TransactionID string
	TranactionID  string // the dataset's spelling
	TxDatetime    string
	CustomerID    string
	TerminalID    string
	TxAmount      string
	TxTimeSeconds string
	TxTimeDays    string
}

func (w *wire) fields() [8]objectField {
	return [8]objectField{{"transaction_id", &w.TransactionID}, {"tranaction_id", &w.TranactionID},
		{"tx_datetime", &w.TxDatetime}, {"customer_id", &w.CustomerID}, {"terminal_id", &w.TerminalID},
		{"tx_amount", &w.TxAmount}, {"tx_time_seconds", &w.TxTimeSeconds}, {"tx_time_days", &w.TxTimeDays}}
}

// DecodeJSON decodes one transaction object and validates it. Every error it returns wraps
// ErrInvalid and, where one field is at fault, is a *FieldError naming it.
func DecodeJSON(data []byte) (Transaction, error) {
	var t Transaction
	return t, decodeTransaction(data, &t)
}

// DecodeJSONElements decodes the elements of data, a JSON array that ArrayLen found valid, into
// dst (one element each, in order; len(dst) is ArrayLen's count), as DecodeJSON would each. It
// stops at the first element that fails and returns its index with the error. The ids of the
// transactions share one copy of data: a batch allocates once, not per transaction or field.
func DecodeJSONElements(data []byte, dst []Transaction) (int, error) {
	text := string(data)
	n := 0
	for i := jsonscan.SkipSpace(data, 1); data[i] != ']'; n++ {
		if n >= len(dst) {
			return n, &FieldError{Reason: "more elements than counted"}
		}
		if data[i] != '{' {
			return n, &FieldError{Reason: "expected a JSON object"}
		}
		dst[n] = Transaction{}
		var w wire
		f := w.fields()
		end, err := walkObject(data, text, i, f[:])
		if err == nil {
			err = w.transaction(&dst[n])
		}
		if err != nil {
			return n, err
		}
		i = jsonscan.SkipSpace(data, end)
		if data[i] == ',' {
			i = jsonscan.SkipSpace(data, i+1)
		}
	}
	return n, nil
}

// decodeTransaction is DecodeJSON into t.
func decodeTransaction(data []byte, t *Transaction) error {
	var w wire
	f := w.fields()
	if err := decodeObject(data, string(data), f[:]); err != nil {
		return err
	}
	return w.transaction(t)
}

// transaction checks the fields decodeObject found and sets t from them.
func (w *wire) transaction(t *Transaction) error {
	id := w.TransactionID
	if isAbsent(id) {
		id = w.TranactionID
	}
	var err error
	if t.ID, err = idField("transaction_id", id); err != nil {
		return err
	}
	if isAbsent(w.TxDatetime) {
		return invalid("tx_datetime", "missing")
	}
	s, ok := unquote(w.TxDatetime)
	if !ok {
		return invalid("tx_datetime", "must be a string")
	}
	if t.Time, err = ParseDatetime(s); err != nil {
		return invalid("tx_datetime", "%v", err)
	}
	if t.CustomerID, err = intField("customer_id", w.CustomerID, true); err != nil {
		return err
	}
	if t.TerminalID, err = intField("terminal_id", w.TerminalID, true); err != nil {
		return err
	}
	if t.Amount, err = floatField("tx_amount", w.TxAmount); err != nil {
		return err
	}
	if t.TimeSeconds, err = intField("tx_time_seconds", w.TxTimeSeconds, false); err != nil {
		return err
	}
	if t.TimeDays, err = intField("tx_time_days", w.TxTimeDays, false); err != nil {
		return err
	}
	return t.Validate()
}

// Label is a fraud verdict that becomes known after the fact (event fraud.label.v1). Terminal
// risk features count the frauds among a terminal's past transactions.
type Label struct {
	TransactionID string    `json:"transaction_id"`
	CustomerID    int64     `json:"customer_id"`
	TerminalID    int64     `json:"terminal_id"`
	Time          time.Time `json:"-"`
	Fraud         bool      `json:"tx_fraud"`
}

// LabelOf is the label a dataset row carries.
func LabelOf(t *Transaction) Label {
	return Label{TransactionID: t.ID, CustomerID: t.CustomerID, TerminalID: t.TerminalID, Time: t.Time, Fraud: t.Fraud}
}

type labelWire struct {
	TransactionID string
	CustomerID    string
	TerminalID    string
	TxDatetime    string
	TxFraud       string
}

func (w *labelWire) fields() []objectField {
	return []objectField{{"transaction_id", &w.TransactionID}, {"customer_id", &w.CustomerID},
		{"terminal_id", &w.TerminalID}, {"tx_datetime", &w.TxDatetime}, {"tx_fraud", &w.TxFraud}}
}

// MarshalJSON writes the label in the same field names as a transaction.
func (l Label) MarshalJSON() ([]byte, error) {
	fraud := 0
	if l.Fraud {
		fraud = 1
	}
	return json.Marshal(struct {
		TransactionID string `json:"transaction_id"`
		CustomerID    int64  `json:"customer_id"`
		TerminalID    int64  `json:"terminal_id"`
		TxDatetime    string `json:"tx_datetime"`
		TxFraud       int    `json:"tx_fraud"`
	}{l.TransactionID, l.CustomerID, l.TerminalID, l.Time.UTC().Format(DatetimeLayout), fraud})
}

// DecodeLabelJSON decodes a fraud.label.v1 payload. tx_fraud may be 0/1 or a boolean.
func DecodeLabelJSON(data []byte) (Label, error) {
	var w labelWire
	var l Label
	if err := decodeObject(data, string(data), w.fields()); err != nil {
		return l, err
	}
	var err error
	if l.TransactionID, err = idField("transaction_id", w.TransactionID); err != nil {
		return l, err
	}
	if l.CustomerID, err = intField("customer_id", w.CustomerID, true); err != nil {
		return l, err
	}
	if l.TerminalID, err = intField("terminal_id", w.TerminalID, true); err != nil {
		return l, err
	}
	s, ok := unquote(w.TxDatetime)
	if isAbsent(w.TxDatetime) || !ok {
		return l, invalid("tx_datetime", "missing or not a string")
	}
	if l.Time, err = ParseDatetime(s); err != nil {
		return l, invalid("tx_datetime", "%v", err)
	}
	switch strings.TrimSpace(w.TxFraud) {
	case "1", "true":
		l.Fraud = true
	case "0", "false":
	case "", "null":
		return l, invalid("tx_fraud", "missing")
	default:
		return l, invalid("tx_fraud", "must be 0, 1, true or false")
	}
	if l.CustomerID < 0 || l.TerminalID < 0 {
		return l, invalid("customer_id", "ids must not be negative")
	}
	return l, nil
}

func isAbsent(raw string) bool {
	return len(raw) == 0 || raw == "null"
}

// unquote is the value of the JSON string raw, as encoding/json reads it; ok is false if raw is
// no string. Without escapes it is a substring of raw: no copy.
func unquote(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if inner := raw[1 : len(raw)-1]; strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
		return inner, true
	}
	return unescape(raw)
}

// unescape is unquote's slow path, apart so that only it pays the heap string json.Unmarshal
// needs.
func unescape(raw string) (string, bool) {
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return "", false
	}
	return s, true
}

// idField takes a string or an integer.
func idField(name string, raw string) (string, error) {
	if isAbsent(raw) {
		return "", invalid(name, "missing")
	}
	if raw[0] == '"' {
		s, ok := unquote(raw)
		if !ok || s == "" {
			return "", invalid(name, "must be a non-empty string or an integer")
		}
		if !validID(raw, s) {
			return "", invalid(name, "must be valid UTF-8 (no invalid bytes, lone surrogates or U+FFFD)")
		}
		return s, nil
	}
	if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
		return "", invalid(name, "must be a non-empty string or an integer")
	}
	if raw == "-0" {
		return "0", nil
	}
	return raw, nil // a JSON integer that ParseInt takes is already in FormatInt's form
}

// numberText returns the text of a JSON number, or of a string holding exactly one (no spaces,
// signs, underscores, hex, NaN or Inf: "1_000" is not a thousand).
func numberText(raw string) (string, bool) {
	if raw[0] == '"' {
		s, ok := unquote(raw)
		if !ok || !isNumber(s) {
			return "", false
		}
		return s, true
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return raw, true
	}
	return "", false
}

func intField(name string, raw string, required bool) (int64, error) {
	if isAbsent(raw) {
		if required {
			return 0, invalid(name, "missing")
		}
		return 0, nil
	}
	s, ok := numberText(raw)
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

func floatField(name string, raw string) (float64, error) {
	if isAbsent(raw) {
		return 0, invalid(name, "missing")
	}
	s, ok := numberText(raw)
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
