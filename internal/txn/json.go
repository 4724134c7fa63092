package txn

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// wire is the JSON shape of a transaction. Numbers stay raw so that every field gets its own
// error message, and ids may be strings or numbers as they are in the wild.
type wire struct {
	TransactionID json.RawMessage
	TranactionID  json.RawMessage // the dataset's spelling
	TxDatetime    json.RawMessage
	CustomerID    json.RawMessage
	TerminalID    json.RawMessage
	TxAmount      json.RawMessage
	TxTimeSeconds json.RawMessage
	TxTimeDays    json.RawMessage
}

func (w *wire) fields() []objectField {
	return []objectField{{"transaction_id", &w.TransactionID}, {"tranaction_id", &w.TranactionID},
		{"tx_datetime", &w.TxDatetime}, {"customer_id", &w.CustomerID}, {"terminal_id", &w.TerminalID},
		{"tx_amount", &w.TxAmount}, {"tx_time_seconds", &w.TxTimeSeconds}, {"tx_time_days", &w.TxTimeDays}}
}

// DecodeJSON decodes one transaction object and validates it. Every error it returns wraps
// ErrInvalid and, where one field is at fault, is a *FieldError naming it.
func DecodeJSON(data []byte) (Transaction, error) {
	var w wire
	var t Transaction
	if err := decodeObject(data, w.fields()); err != nil {
		return t, err
	}
	id := w.TransactionID
	if isAbsent(id) {
		id = w.TranactionID
	}
	var err error
	if t.ID, err = idField("transaction_id", id); err != nil {
		return t, err
	}
	if isAbsent(w.TxDatetime) {
		return t, invalid("tx_datetime", "missing")
	}
	var s string
	if json.Unmarshal(w.TxDatetime, &s) != nil {
		return t, invalid("tx_datetime", "must be a string")
	}
	if t.Time, err = ParseDatetime(s); err != nil {
		return t, invalid("tx_datetime", "%v", err)
	}
	if t.CustomerID, err = intField("customer_id", w.CustomerID, true); err != nil {
		return t, err
	}
	if t.TerminalID, err = intField("terminal_id", w.TerminalID, true); err != nil {
		return t, err
	}
	if t.Amount, err = floatField("tx_amount", w.TxAmount); err != nil {
		return t, err
	}
	if t.TimeSeconds, err = intField("tx_time_seconds", w.TxTimeSeconds, false); err != nil {
		return t, err
	}
	if t.TimeDays, err = intField("tx_time_days", w.TxTimeDays, false); err != nil {
		return t, err
	}
	return t, t.Validate()
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
	TransactionID json.RawMessage
	CustomerID    json.RawMessage
	TerminalID    json.RawMessage
	TxDatetime    json.RawMessage
	TxFraud       json.RawMessage
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
	if err := decodeObject(data, w.fields()); err != nil {
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
	var s string
	if isAbsent(w.TxDatetime) || json.Unmarshal(w.TxDatetime, &s) != nil {
		return l, invalid("tx_datetime", "missing or not a string")
	}
	if l.Time, err = ParseDatetime(s); err != nil {
		return l, invalid("tx_datetime", "%v", err)
	}
	switch string(bytes.TrimSpace(w.TxFraud)) {
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

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// idField takes a string or an integer.
func idField(name string, raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", invalid(name, "missing")
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return "", invalid(name, "must be a non-empty string or an integer")
		}
		if !validID(raw, s) {
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

// numberText returns the text of a JSON number, or of a string holding exactly one (no spaces,
// signs, underscores, hex, NaN or Inf: "1_000" is not a thousand).
func numberText(raw json.RawMessage) (string, bool) {
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

func intField(name string, raw json.RawMessage, required bool) (int64, error) {
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

func floatField(name string, raw json.RawMessage) (float64, error) {
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
