package txn

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// tokenMembers is the reference walk: encoding/json's tokenizer's top-level keys and values.
func tokenMembers(data []byte) (keys []string, values []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, false
		}
		keys, values = append(keys, tok.(string)), append(values, string(raw))
	}
	return keys, values, true
}

func TestDecodeObjectEscapedKeys(t *testing.T) {
	var a, b string
	fields := []objectField{{"tx_amount", &a}, {"customer_id", &b}}
	if err := decodeBytes([]byte(`{"tx\u005famount" : [1,{"}":"]"}] , "customer_id":"x\"}"}`), fields); err != nil {
		t.Fatal(err)
	}
	if string(a) != `[1,{"}":"]"}]` || string(b) != `"x\"}"` {
		t.Fatalf("values %s %s", a, b)
	}
	err := decodeBytes([]byte(`{"tx_amount":1,"tx\u005famount":2}`), fields)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "tx_amount" || !strings.Contains(fe.Reason, "duplicate") {
		t.Fatalf("escaped duplicate: %v", err)
	}
}

// FuzzDecodeObject checks the member walk against encoding/json's tokenizer: on every valid
// object with distinct keys it finds the same values for the keys it is asked for, and it refuses
// exactly the objects with a repeated key.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,{"c":"}"}],"a\u0062":"x\"y"}`, `{}`, `{"a" : { } , "b":"\\"}`, `{"A":1}`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, values, ok := tokenMembers(data)
		if !ok || !json.Valid(data) {
			return
		}
		var a, b, ab string
		err := decodeBytes(data, []objectField{{"a", &a}, {"b", &b}, {"ab", &ab}})
		dup, folded := false, false
		seen := map[string]bool{}
		want := map[string]string{}
		for i, k := range keys {
			dup = dup || seen[k]
			seen[k] = true
			want[k] = values[i]
			if k != "a" && k != "b" && k != "ab" && (strings.EqualFold(k, "a") || strings.EqualFold(k, "b") || strings.EqualFold(k, "ab")) {
				folded = true
			}
		}
		if dup || folded {
			if err == nil {
				t.Fatalf("%q: accepted with a duplicate or case-folded key", data)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		for k, got := range map[string]string{"a": a, "b": b, "ab": ab} {
			if string(got) != want[k] {
				t.Fatalf("%q: key %s = %s, tokenizer says %s", data, k, got, want[k])
			}
		}
	})
}

func decodeBytes(data []byte, fields []objectField) error {
	return decodeObject(data, string(data), fields)
}
