package oip

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"function/internal/features"
	"function/internal/txn"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const row = `0,1,1,0,1,1,0,1,1,0,1.5,2,0.25,3,0.5,1.25,0.5,2,-1,0`

func TestDecodeInfer(t *testing.T) {
	tests := map[string]struct {
		body    string
		rows    int
		wantErr string
	}{
		"flat FP32":     {body: `{"id":"a","inputs":[{"name":"features","datatype":"FP32","shape":[2,20],"data":[` + row + `,` + row + `]}]}`, rows: 2},
		"nested FP64":   {body: `{"inputs":[{"name":"input-0","datatype":"FP64","shape":[2,20],"data":[[` + row + `],[` + row + `]]}],"outputs":[{"name":"fraud_probability"}],"parameters":{}}`, rows: 2},
		"no inputs":     {body: `{"inputs":[]}`, wantErr: "exactly one"},
		"two inputs":    {body: `{"inputs":[{"name":"a","datatype":"FP32","shape":[1,20],"data":[` + row + `]},{"name":"b","datatype":"FP32","shape":[1,20],"data":[` + row + `]}]}`, wantErr: "exactly one"},
		"int datatype":  {body: `{"inputs":[{"name":"f","datatype":"INT64","shape":[1,20],"data":[` + row + `]}]}`, wantErr: "datatype"},
		"14 columns":    {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,14],"data":[1]}]}`, wantErr: "shape"},
		"zero rows":     {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[0,20],"data":[]}]}`, wantErr: "shape"},
		"too many rows": {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[4,20],"data":[]}]}`, wantErr: "at most 3"},
		"short data":    {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[2,20],"data":[` + row + `]}]}`, wantErr: "data has 20 values"},
		"ragged nested": {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[[1,2]]}]}`, wantErr: "row 0 has 2"},
		"string data":   {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":["x"]}]}`, wantErr: "data"},
		"no data":       {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20]}]}`, wantErr: "no data"},
		"FP32 overflow": {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[1e300,1,1,0,1,1,0,1,1,0,1.5,2,0.25,3,0.5,1.25,0.5,2,-1,0]}]}`, wantErr: "overflows FP32"},
		"unknown field": {body: `{"inputs":[],"extra":1}`, wantErr: "unknown field"},
		"trailing data": {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[` + row + `]}]} {}`, wantErr: "after the request"},
		"not an object": {body: `[1,2]`, wantErr: "invalid inference request"},
		"binary data":   {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"parameters":{"binary_data_size":60}}]}`, wantErr: "binary tensor data"},
		"input params":  {body: `{"inputs":[{"name":"f","datatype":"FP32","shape":[2,20],"parameters":{"binary_data":false},"data":[` + row + `,` + row + `]}]}`, rows: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, rows, err := DecodeInfer([]byte(tc.body), 3)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, txn.ErrInvalid) {
					t.Fatalf("err %v, want a txn.ErrInvalid mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(rows) != tc.rows {
				t.Fatalf("rows %d err %v, want %d rows", len(rows), err, tc.rows)
			}
			if rows[1][10] != 1.5 || rows[1][14] != 0.5 || (name == "flat FP32" && id != "a") {
				t.Errorf("rows %v id %q", rows, id)
			}
		})
	}
}

func TestInferResponseGolden(t *testing.T) {
	got := AppendInferResponse(nil, "fraud-detector", "3", "req-7", []float64{0.0016, 0.838, 0.5}, 0.5)
	if !json.Valid(got) {
		t.Fatalf("not JSON: %s", got)
	}
	md, err := json.MarshalIndent(Metadata("fraud-detector", "3"), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"infer_response.json": got, "model_metadata.json": md} {
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(want)) != string(data) {
			t.Errorf("%s:\n got %s\nwant %s", file, data, want)
		}
	}
}

// Whatever the body, DecodeInfer returns rows of finite features within the bound, or a
// txn.ErrInvalid; it never panics.
func FuzzDecodeInfer(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[` + row + `]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"f","datatype":"FP64","shape":[1,20],"data":[[` + row + `]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"f","datatype":"FP32","shape":[9223372036854775807,20],"data":[]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"f","datatype":"FP32","shape":[-1,20],"data":[]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, rows, err := DecodeInfer(body, 500)
		if err != nil {
			if !errors.Is(err, txn.ErrInvalid) {
				t.Fatalf("error %v is not a txn.ErrInvalid", err)
			}
			return
		}
		if len(rows) < 1 || len(rows) > 500 {
			t.Fatalf("%d rows", len(rows))
		}
		for i := range rows {
			for j := range features.Count {
				if v := rows[i][j]; math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("row %d feature %d = %v", i, j, v)
				}
			}
		}
	})
}

// FuzzDecodeInferFast holds the fast path to encoding/json's: whatever it accepts, encoding/json
// reads the same id and rows from (and never refuses).
func FuzzDecodeInferFast(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","inputs":[{"name":"features","datatype":"FP32","shape":[2,20],"data":[` + row + `,` + row + `]}]}`,
		` {"inputs" : [ {"datatype":"FP64","name":"x","data":[` + row + `],"shape":[1,20]} ] , "outputs":[{"name":"y"}],"parameters":{"a":1}} `,
		`{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[1e300,1,1,0,1,1,0,1,1,0,1.5,2,0.25,3,-0,1.25,0.5,2,-1,0]}]}`,
		`{"inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[null,1,1,0,1,1,0,1,1,0,1.5,2,0.25,3,0.5,1.25,0.5,2,-1,0]}]}`,
		`{"ID":"a","inputs":[{"name":"f","datatype":"FP32","shape":[1,20],"data":[` + row + `]}]}`,
		`{"id":"a","id":"b","inputs":[{"name":"f","datatype":"FP32","shape":[1.0,20],"data":[` + row + `]}]}`,
		"\u00a0{\"inputs\":[{\"name\":\"f\",\"datatype\":\"FP32\",\"shape\":[1,20],\"data\":[" + row + "]}]}",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, max uint8) {
		id, rows, ok := decodeFast(body, int(max))
		if !ok {
			return
		}
		wantID, wantRows, err := decodeJSON(body, int(max))
		if err != nil {
			t.Fatalf("%q: the fast path accepted what encoding/json refuses: %v", body, err)
		}
		if id != wantID || len(rows) != len(wantRows) {
			t.Fatalf("%q: id %q, %d rows; encoding/json %q, %d rows", body, id, len(rows), wantID, len(wantRows))
		}
		for i := range rows {
			for j := range rows[i] {
				if math.Float64bits(rows[i][j]) != math.Float64bits(wantRows[i][j]) {
					t.Fatalf("%q: row %d feature %d = %v, encoding/json %v", body, i, j, rows[i][j], wantRows[i][j])
				}
			}
		}
	})
}

// TestDecodeFastTaken: what the protocol's clients send takes the fast path.
func TestDecodeFastTaken(t *testing.T) {
	for _, body := range []string{
		`{"id":"a","inputs":[{"name":"features","datatype":"FP32","shape":[2,20],"data":[` + row + `,` + row + `]}]}`,
		`{"inputs":[{"name":"features","shape":[1,20],"datatype":"FP64","data":[` + row + `]}],"outputs":[{"name":"fraud_probability"}]}`,
	} {
		if _, _, ok := decodeFast([]byte(body), 3); !ok {
			t.Errorf("%s: not taken", body)
		}
	}
}
