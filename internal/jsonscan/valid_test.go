package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"function/internal/jsonscan"
)

// validCases are inputs where a hand-written validator most easily parts from encoding/json's.
var validCases = []string{
	``, ` `, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e`, `1e+`, `1E-7`, `-12.50e+03`, `1x`, `+1`,
	`"`, `""`, `"\"`, `"\u00e9"`, `"\u00g9"`, `"\u12"`, `"\x"`, "\"\x01\"", "\"\x7f\xff\"", `"a\/b"`,
	`true`, `tru`, `truex`, `null`, `nul`, `false`, `False`,
	`{}`, `{ }`, `{"a":1}`, `{"a" : 1 , "b":[]}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{1:2}`,
	`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[[[]]]`, `[[[]]`, `[{}]`, `[}`, `{]`, `{"a":[1,{"b":null}]}`,
	` {"a":1} `, "\t[1]\r\n", `1 2`, `{} {}`, "\u00a0{}", `[1]]`, `{"a":1}}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := jsonscan.Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

func TestValidDepthLimit(t *testing.T) {
	for _, tc := range []struct {
		open, close string
	}{{"[", "]"}, {`{"a":`, "}"}} {
		for _, depth := range []int{255, 256, 257, jsonscan.MaxDepth, jsonscan.MaxDepth + 1} {
			s := []byte(strings.Repeat(tc.open, depth) + "0" + strings.Repeat(tc.close, depth))
			if got, want := jsonscan.Valid(s), json.Valid(s); got != want || got != (depth <= jsonscan.MaxDepth) {
				t.Errorf("%s × %d: Valid = %v, encoding/json says %v", tc.open, depth, got, want)
			}
		}
	}
}

// FuzzValid: Valid accepts exactly what encoding/json.Valid accepts.
func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := jsonscan.Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"inputs":[{"name":"input-0","shape":[100,20],"datatype":"FP32","data":[`)
	for i := range 2000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("123.456789")
	}
	sb.WriteString(`]}]}`)
	body := []byte(sb.String())
	for _, impl := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonscan", jsonscan.Valid}, {"encoding_json", json.Valid}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !impl.valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// FuzzValidArray: ValidArray accepts what encoding/json finds to be one array, and counts the
// elements encoding/json decodes from it.
func FuzzValidArray(f *testing.F) {
	for _, s := range append(validCases, `[1,[2,3],{"a":[4]},"x"]`, ` [ ] `, `[[],[]]`, `[{}]`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, ok := jsonscan.ValidArray(data)
		var elems []json.RawMessage
		// null decodes into a slice too: an array starts with '['.
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		isArray := len(trimmed) > 0 && trimmed[0] == '[' && json.Valid(data) && json.Unmarshal(data, &elems) == nil
		if ok != isArray {
			t.Fatalf("ValidArray(%q) ok = %v, encoding/json: an array = %v", data, ok, isArray)
		}
		if ok && n != len(elems) {
			t.Fatalf("ValidArray(%q) = %d elements, encoding/json decodes %d", data, n, len(elems))
		}
	})
}
