// Package oip speaks the Open Inference Protocol (KServe V2, REST/JSON) for the model alone: the
// request's one input is the model's 20 inputs in their order (features.Names) as a [N, 20] FP32
// or FP64 tensor, and the answer is the fraud probability and the decision per row. It is what
// KServe, Seldon and Triton clients send, so the same request can go to this function and to the
// model servers it is compared with. Features are not computed from state here: that is
// /predict's job.
//
// Spec: https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
package oip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"function/internal/features"
	"function/internal/txn"
)

// ErrInvalid wraps every reason a request can never succeed: it is a txn.ErrInvalid, so the
// function answers 400 with the reason in the protocol's error shape ({"error": "..."}).
var ErrInvalid error = invalidRequest{}

type invalidRequest struct{}

func (invalidRequest) Error() string        { return "invalid inference request" }
func (invalidRequest) Is(target error) bool { return target == txn.ErrInvalid }

// Names of the model's tensors.
const (
	InputName       = "features"
	OutputScore     = "fraud_probability"
	OutputDecision  = "is_fraud"
	DatatypeFP32    = "FP32"
	DatatypeFP64    = "FP64"
	DatatypeBool    = "BOOL"
	ProtocolVersion = "2"
)

// Tensor is a named input tensor of a request.
type Tensor struct {
	Name       string          `json:"name"`
	Datatype   string          `json:"datatype"`
	Shape      []int64         `json:"shape"`
	Data       json.RawMessage `json:"data,omitempty"`
	Parameters map[string]any  `json:"parameters,omitempty"`
}

// ModelMetadata is GET /v2/models/{name}.
type ModelMetadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions,omitempty"`
	Platform string       `json:"platform"`
	Inputs   []TensorMeta `json:"inputs"`
	Outputs  []TensorMeta `json:"outputs"`
}

// TensorMeta describes a tensor; -1 is a variable dimension.
type TensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ServerMetadata is GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// Metadata describes the model as the protocol does: one [-1, 20] input (features.Count), two
// [-1] outputs.
func Metadata(name, version string) ModelMetadata {
	m := ModelMetadata{Name: name, Platform: "lightgbm_go",
		Inputs: []TensorMeta{{Name: InputName, Datatype: DatatypeFP32, Shape: []int64{-1, features.Count}}},
		Outputs: []TensorMeta{{Name: OutputScore, Datatype: DatatypeFP64, Shape: []int64{-1}},
			{Name: OutputDecision, Datatype: DatatypeBool, Shape: []int64{-1}}}}
	if version != "" {
		m.Versions = []string{version}
	}
	return m
}

// request is the body of POST /v2/models/{name}/infer. Outputs and parameters are accepted and
// ignored: both outputs are always returned.
type request struct {
	ID         string          `json:"id"`
	Inputs     []Tensor        `json:"inputs"`
	Outputs    json.RawMessage `json:"outputs"`
	Parameters json.RawMessage `json:"parameters"`
}

// DecodeInfer reads an infer request: at most maxRows rows of features.Count finite inputs. The
// data may be flat (row-major) or nested, as the protocol allows. Unknown top-level fields are refused.
func DecodeInfer(body []byte, maxRows int) (id string, rows []features.Vector, err error) {
	if id, rows, ok := decodeFast(body, maxRows); ok {
		return id, rows, nil
	}
	return decodeJSON(body, maxRows)
}

// decodeJSON is DecodeInfer by encoding/json: every shape the protocol allows, and the messages
// of every error.
func decodeJSON(body []byte, maxRows int) (id string, rows []features.Vector, err error) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for i := range req.Inputs {
		if _, binary := req.Inputs[i].Parameters["binary_data_size"]; binary {
			return "", nil, fmt.Errorf("%w: binary tensor data is not supported: send the data as JSON (binary_data=False)", ErrInvalid)
		}
	}
	if dec.More() {
		return "", nil, fmt.Errorf("%w: data after the request object", ErrInvalid)
	}
	if len(req.Inputs) != 1 {
		return "", nil, fmt.Errorf("%w: %d inputs, want exactly one (%q)", ErrInvalid, len(req.Inputs), InputName)
	}
	in := &req.Inputs[0]
	if in.Datatype != DatatypeFP32 && in.Datatype != DatatypeFP64 {
		return "", nil, fmt.Errorf("%w: input datatype %.20q, want FP32 or FP64", ErrInvalid, in.Datatype)
	}
	if len(in.Shape) != 2 || in.Shape[1] != features.Count || in.Shape[0] < 1 {
		return "", nil, fmt.Errorf("%w: input shape %v, want [N, %d] with N ≥ 1", ErrInvalid, in.Shape, features.Count)
	}
	if in.Shape[0] > int64(maxRows) {
		return "", nil, fmt.Errorf("%w: %d rows, at most %d per request (MAX_BATCH)", ErrInvalid, in.Shape[0], maxRows)
	}
	n := int(in.Shape[0])
	values, err := flatten(in.Data, n*features.Count)
	if err != nil {
		return "", nil, err
	}
	rows = make([]features.Vector, n)
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", nil, fmt.Errorf("%w: row %d feature %s is not finite", ErrInvalid, i/features.Count, features.Names[i%features.Count])
		}
		if in.Datatype == DatatypeFP32 {
			if math.Abs(v) > math.MaxFloat32 {
				return "", nil, fmt.Errorf("%w: row %d feature %s overflows FP32", ErrInvalid, i/features.Count, features.Names[i%features.Count])
			}
		}
		rows[i/features.Count][i%features.Count] = v
	}
	return req.ID, rows, nil
}

// flatten reads want numbers, flat or nested one level per row.
func flatten(data json.RawMessage, want int) ([]float64, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the input has no data", ErrInvalid)
	}
	var flat []float64
	if err := json.Unmarshal(data, &flat); err != nil {
		var nested [][]float64
		if err2 := json.Unmarshal(data, &nested); err2 != nil {
			return nil, fmt.Errorf("%w: data: %v", ErrInvalid, err)
		}
		flat = make([]float64, 0, want)
		for i, row := range nested {
			if len(row) != features.Count {
				return nil, fmt.Errorf("%w: data row %d has %d values, want %d", ErrInvalid, i, len(row), features.Count)
			}
			flat = append(flat, row...)
		}
	}
	if len(flat) != want {
		return nil, fmt.Errorf("%w: data has %d values, the shape says %d", ErrInvalid, len(flat), want)
	}
	return flat, nil
}

// AppendInferResponse encodes the answer for rows scored as probs against threshold.
func AppendInferResponse(b []byte, model, version, id string, probs []float64, threshold float64) []byte {
	b = append(b, `{"model_name":`...)
	b = strconv.AppendQuote(b, model)
	if version != "" {
		b = append(b, `,"model_version":`...)
		b = strconv.AppendQuote(b, version)
	}
	if id != "" {
		b = append(b, `,"id":`...)
		b = strconv.AppendQuote(b, id)
	}
	n := strconv.Itoa(len(probs))
	b = append(b, `,"outputs":[{"name":"`+OutputScore+`","datatype":"`+DatatypeFP64+`","shape":[`...)
	b = append(b, n...)
	b = append(b, `],"data":[`...)
	for i, p := range probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, p, 'g', -1, 64)
	}
	b = append(b, `]},{"name":"`+OutputDecision+`","datatype":"`+DatatypeBool+`","shape":[`...)
	b = append(b, n...)
	b = append(b, `],"data":[`...)
	for i, p := range probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendBool(b, p >= threshold)
	}
	return append(b, `]}]}`...)
}
