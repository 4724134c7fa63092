package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"function/internal/jsonscan"
)

// FuzzValueEnd: on any valid JSON value followed by more input, ValueEnd finds exactly where
// encoding/json's decoder says the value ends.
func FuzzValueEnd(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"}":"]"}]}`, `"x\"y"`, `-1.5e3`, `[ ]`, `true`, `null`, `{"a\\":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimLeft(data, " \t\r\n")
		if len(data) == 0 || !json.Valid(data) {
			return
		}
		// A valid value followed by a separator: ValueEnd must stop at the separator.
		for _, sep := range []string{",", "]", "}", " "} {
			in := append(append([]byte{}, data...), sep...)
			end := jsonscan.ValueEnd(in, 0)
			if got := bytes.TrimRight(in[:end], " \t\r\n"); !bytes.Equal(got, bytes.TrimRight(data, " \t\r\n")) {
				t.Fatalf("%q + %q: value ends at %d (%q)", data, sep, end, in[:end])
			}
		}
	})
}

func TestSkipSpace(t *testing.T) {
	if got := jsonscan.SkipSpace([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipSpace = %d, want 5", got)
	}
	if got := jsonscan.SkipSpace([]byte("\u00a0x"), 0); got != 0 {
		t.Errorf("SkipSpace skipped a non-JSON space: %d", got)
	}
}
