package function

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"function/internal/scoring"
	"function/internal/txn"
)

// conformanceLabelKey is the LABEL_HMAC_KEY function/conformance/run.sh gives the function.
const conformanceLabelKey = "conformance-label-key-0123456789abcdef"

// The conformance tool's input (function/conformance/events.yaml) holds a signed label: its
// signature must be the one scoring.SignLabel gives under the key run.sh uses, so the file is not
// a magic constant and changes with the signing scheme.
func TestConformanceEventsLabelSignature(t *testing.T) {
	data, err := os.ReadFile("conformance/events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	labels := 0
	for {
		var e struct {
			Attributes struct {
				Type       string            `yaml:"type"`
				Extensions map[string]string `yaml:"Extensions"`
			} `yaml:"ContextAttributes"`
			Data string `yaml:"Data"`
		}
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if e.Attributes.Type != "fraud.label.v1" {
			continue
		}
		labels++
		l, err := txn.DecodeLabelJSON([]byte(e.Data))
		if err != nil {
			t.Fatal(err)
		}
		sig := e.Attributes.Extensions[scoring.LabelSignatureExtension]
		if err := scoring.VerifyLabel([]byte(conformanceLabelKey), &l, sig); err != nil {
			t.Errorf("label %s: %v (want %s)", l.TransactionID, err, scoring.SignLabel([]byte(conformanceLabelKey), &l))
		}
	}
	if labels == 0 {
		t.Fatal("no fraud.label.v1 in conformance/events.yaml")
	}
}
