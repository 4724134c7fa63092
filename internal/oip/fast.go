package oip

import (
	"bytes"
	"math"
	"strconv"
	"unsafe"

	"function/internal/features"
	"function/internal/jsonscan"
)

// decodeFast reads the request shape that clients send (the one Triton's and KServe's clients
// write): {"id": "...", "inputs": [{"name", "datatype", "shape", "data": flat numbers}],
// optional "outputs" and "parameters"}, straight into the rows, with one scan for validity and
// one walk, without reflection. ok is false for anything else (nested data, input parameters,
// escapes, nulls, unknown or repeated keys, a bad shape...): DecodeInfer then hands the body to
// encoding/json, which gives every error its message. Whenever ok is true the answer is the one
// encoding/json's path would give (FuzzDecodeInferFast holds it to that).
func decodeFast(body []byte, maxRows int) (id string, rows []features.Vector, ok bool) {
	// No bytes.TrimSpace: it trims Unicode spaces that encoding/json refuses. jsonscan.Valid takes
	// exactly JSON's white space around the one value.
	if !jsonscan.Valid(body) {
		return "", nil, false
	}
	p := walker{b: body}
	p.space()
	if p.b[p.i] != '{' {
		return "", nil, false
	}
	p.b = p.b[p.i:]
	var idRaw, input []byte
	var seen [4]bool
	if !p.members(func(key []byte, v []byte) bool {
		k := -1
		switch string(key) {
		case "id":
			k, idRaw = 0, v
		case "inputs":
			k, input = 1, v
		case "outputs":
			k = 2
		case "parameters":
			k = 3
		}
		if k < 0 || seen[k] {
			return false
		}
		seen[k] = true
		return true
	}) {
		return "", nil, false
	}
	if idRaw != nil {
		s, ok := plainString(idRaw)
		if !ok {
			return "", nil, false
		}
		id = string(s)
	}
	// inputs: exactly one tensor.
	if len(input) < 2 || input[0] != '[' {
		return "", nil, false
	}
	q := walker{b: input, i: 1}
	q.space()
	if q.i >= len(q.b) || q.b[q.i] != '{' {
		return "", nil, false
	}
	start := q.i
	q.i = jsonscan.ValueEnd(q.b, q.i)
	tensor := input[start:q.i]
	q.space()
	if q.i >= len(q.b) || q.b[q.i] != ']' {
		return "", nil, false
	}
	var datatype, shape, data []byte
	var tseen [4]bool
	t := walker{b: tensor}
	if !t.members(func(key []byte, v []byte) bool {
		k := -1
		switch string(key) {
		case "name":
			if _, ok := plainString(v); !ok {
				return false
			}
			k = 0
		case "datatype":
			k, datatype = 1, v
		case "shape":
			k, shape = 2, v
		case "data":
			k, data = 3, v
		}
		if k < 0 || tseen[k] {
			return false
		}
		tseen[k] = true
		return true
	}) {
		return "", nil, false
	}
	dt, ok := plainString(datatype)
	if !ok || (string(dt) != DatatypeFP32 && string(dt) != DatatypeFP64) {
		return "", nil, false
	}
	n, cols, ok := shape2(shape)
	if !ok || cols != features.Count || n < 1 || n > int64(maxRows) || data == nil {
		return "", nil, false
	}
	rows = make([]features.Vector, n)
	flat := unsafe.Slice(&rows[0][0], int(n)*features.Count) // Vector is [Count]float64: rows are contiguous
	if !numbers(data, flat) {
		return "", nil, false
	}
	if string(dt) == DatatypeFP32 {
		for _, v := range flat {
			if math.Abs(v) > math.MaxFloat32 {
				return "", nil, false // encoding/json's path reports the row and feature
			}
		}
	}
	return id, rows, true
}

// walker steps through one valid JSON value.
type walker struct {
	b []byte
	i int
}

func (w *walker) space() { w.i = jsonscan.SkipSpace(w.b, w.i) }

// members calls fn with each key (without quotes; false if it has escapes) and raw value of the
// object at w.b[0], until fn returns false.
func (w *walker) members(fn func(key, value []byte) bool) bool {
	w.i = 1
	w.space()
	for w.b[w.i] != '}' {
		end := jsonscan.StringEnd(w.b, w.i)
		key := w.b[w.i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		w.i = end
		w.space()
		w.i++ // ':'
		w.space()
		vend := jsonscan.ValueEnd(w.b, w.i)
		if !fn(key, w.b[w.i:vend]) {
			return false
		}
		w.i = vend
		w.space()
		if w.b[w.i] == ',' {
			w.i++
			w.space()
		}
	}
	return true
}

// plainString is the content of a JSON string without escapes or non-ASCII bytes (encoding/json
// would read those differently: escapes decoded, invalid UTF-8 replaced).
func plainString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	s := v[1 : len(v)-1]
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return nil, false
		}
	}
	return s, true
}

// shape2 reads [n, cols] of two plain integers.
func shape2(v []byte) (n, cols int64, ok bool) {
	if len(v) < 2 || v[0] != '[' {
		return 0, 0, false
	}
	var dims [2]int64
	got := 0
	w := walker{b: v, i: 1}
	w.space()
	for w.b[w.i] != ']' {
		end := numberEnd(w.b, w.i)
		if got == 2 || end == w.i {
			return 0, 0, false
		}
		d, err := strconv.ParseInt(unsafe.String(&w.b[w.i], end-w.i), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		dims[got] = d
		got++
		w.i = end
		w.space()
		if w.b[w.i] == ',' {
			w.i++
			w.space()
		}
	}
	return dims[0], dims[1], got == 2
}

// numbers parses the flat array v of exactly len(dst) JSON numbers into dst.
func numbers(v []byte, dst []float64) bool {
	if len(v) < 2 || v[0] != '[' {
		return false
	}
	k := 0
	w := walker{b: v, i: 1}
	w.space()
	for w.b[w.i] != ']' {
		end := numberEnd(w.b, w.i)
		if k == len(dst) || end == w.i {
			return false
		}
		// The text is only read for the parse, never kept: no copy needed.
		f, err := strconv.ParseFloat(unsafe.String(&w.b[w.i], end-w.i), 64)
		if err != nil {
			return false
		}
		dst[k] = f
		k++
		w.i = end
		w.space()
		if w.b[w.i] == ',' {
			w.i++
			w.space()
		}
	}
	return k == len(dst)
}

// numberEnd is the end of the JSON number at b[i] (i itself if there is none).
func numberEnd(b []byte, i int) int {
	j := i
	for j < len(b) {
		switch c := b[j]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			j++
		default:
			return j
		}
	}
	return j
}
