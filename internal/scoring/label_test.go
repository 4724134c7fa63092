package scoring_test

import (
	"errors"
	"testing"
	"time"

	"function/internal/scoring"
	"function/internal/txn"
)

// FuzzParseLabelSignature: any header value is refused or parsed, never a panic, and only a
// signature made with the key verifies.
func FuzzParseLabelSignature(f *testing.F) {
	key := []byte("fuzz-label-key-0123456789abcdef0123")
	l := txn.Label{TransactionID: "t", CustomerID: 1, TerminalID: 2, Time: time.Unix(1.5e9, 0), Fraud: true}
	f.Add(scoring.SignLabel(key, &l))
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := scoring.ParseLabelSignature(s); err != nil && !errors.Is(err, txn.ErrInvalid) {
			t.Fatalf("%q: %v is not a permanent refusal", s, err)
		}
		if err := scoring.VerifyLabel(key, &l, s); err == nil && s != scoring.SignLabel(key, &l) {
			t.Fatalf("%q verified", s)
		}
	})
}
