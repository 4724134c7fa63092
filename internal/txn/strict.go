package txn

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"function/internal/jsonscan"
)

// objectField is one key a decoder wants from a JSON object, matched exactly (case-sensitive).
// raw receives the value's JSON text as a substring of the body's text: no copy.
type objectField struct {
	name string
	raw  *string
}

// maxKeyInReason bounds how much of a client's key an error message repeats.
const maxKeyInReason = 64

// smallObject is how many keys an object may have before the repeated-key check takes a map:
// transactions have eight or so, and a linear look over them allocates nothing.
const smallObject = 16

// decodeObject reads one JSON object into fields. Unlike encoding/json it matches keys exactly
// and refuses a repeated key (encoding/json folds case and lets the last one win, so
// {"tx_amount":1,"TX_AMOUNT":9000} would score 9000 while a log or a proxy reads 1). A key equal
// to a wanted one except for case is refused too: it is a mistake, never another field. Other
// keys are ignored (datasets carry tx_fraud and tx_fraud_scenario).
//
// text holds the same bytes as data (one string copy of a whole body serves all its objects), so
// keys and values are substrings and a plain object costs no allocation. A batch checks its
// array once and walks each element with walkObject.
func decodeObject(data []byte, text string, fields []objectField) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return &FieldError{Reason: "empty body"}
	}
	start := cap(data) - cap(t) // t is data[start:start+len(t)]
	trimmed, ttext := t, text[start:start+len(t)]
	if trimmed[0] != '{' {
		return &FieldError{Reason: "expected a JSON object"}
	}
	if !jsonscan.Valid(trimmed) {
		// Validity first: a syntax error is reported at its byte, and the walk below only
		// ever sees one well-formed object.
		var v any
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(trimmed, &v), &se) {
			return &FieldError{Reason: "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)}
		}
		return &FieldError{Reason: "malformed JSON"}
	}
	_, err := walkObject(trimmed, ttext, 0, fields)
	return err
}

// walkObject reads the top-level members of the valid object at b[i] == '{' (text holds the
// same bytes) into fields, with decodeObject's rules, without a second tokenizer. It returns the
// index just past the object.
func walkObject(b []byte, text string, i int, fields []objectField) (int, error) {
	trimmed, ttext := b, text
	i = jsonscan.SkipSpace(trimmed, i+1)
	var small [smallObject]string
	seen := small[:0]
	var many map[string]struct{}
	for trimmed[i] != '}' {
		end := jsonscan.StringEnd(trimmed, i)
		key := ttext[i+1 : end-1]
		if strings.IndexByte(key, '\\') >= 0 || !utf8.ValidString(key) { // as encoding/json reads it
			var unescaped string // its own variable: taking key's address would move every key to the heap
			if err := json.Unmarshal(trimmed[i:end], &unescaped); err != nil {
				return i, &FieldError{Reason: "malformed JSON"}
			}
			key = unescaped
		}
		i = jsonscan.SkipSpace(trimmed, end)
		i = jsonscan.SkipSpace(trimmed, i+1) // ':'
		vend := jsonscan.ValueEnd(trimmed, i)
		raw := ttext[i:vend]
		i = jsonscan.SkipSpace(trimmed, vend)
		if trimmed[i] == ',' {
			i = jsonscan.SkipSpace(trimmed, i+1)
		}
		dup := false
		if many == nil {
			dup = slices.Contains(seen, key)
			if len(seen) < smallObject {
				seen = append(seen, key)
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, k := range seen {
					many[k] = struct{}{}
				}
			}
		}
		if many != nil {
			_, dup = many[key]
			many[key] = struct{}{}
		}
		if dup {
			return i, &FieldError{Field: fieldName(key, fields), Reason: "duplicate key " + quoteKey(key) + ": each key may appear once"}
		}
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
				// A copy of the name: were an error to hold fields' own strings, every caller's
				// field targets would move to the heap.
				return i, invalid(strings.Clone(f.name), "key %s differs in case: keys are case-sensitive", quoteKey(key))
			}
		}
	}
	return i + 1, nil
}

// ArrayLen reports whether data, trimmed of white space, is one valid JSON array, and how many
// elements it has.
func ArrayLen(data []byte) (n int, ok bool) {
	if len(data) == 0 || data[0] != '[' {
		return 0, false
	}
	return jsonscan.ValidArray(data)
}

// fieldName is the wanted field key names, or "" for a key nobody reads.
func fieldName(key string, fields []objectField) string {
	for _, f := range fields {
		if key == f.name {
			return strings.Clone(f.name) // see decodeObject: an error must not hold fields' strings
		}
	}
	return ""
}

func quoteKey(key string) string {
	if len(key) > maxKeyInReason {
		key = key[:maxKeyInReason] + "..."
	}
	return strconv.Quote(key)
}

// isNumber reports whether s is a number as JSON writes one (RFC 8259 section 6): an optional
// minus, an integer part without leading zeros, an optional fraction and exponent. strconv alone
// is too lenient for input: ParseFloat takes "1_000", "0x1p3", "+5", "Inf" and "infinity".
func isNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// validID reports whether a decoded string id is exactly what the client sent: encoding/json
// turns every invalid UTF-8 byte and every lone surrogate escape into U+FFFD, so "a\xff" and
// "a\xfe" would become one id (and one dedup key). An id holding U+FFFD is refused.
func validID(raw string, s string) bool {
	return utf8.ValidString(raw) && !strings.ContainsRune(s, utf8.RuneError)
}
