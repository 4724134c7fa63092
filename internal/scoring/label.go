package scoring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"function/internal/txn"
)

// LabelSignatureExtension is the CloudEvents extension attribute that carries a label's
// signature: the header ce-labelsignature in HTTP binary mode, ce_labelsignature on a Kafka
// record, "labelsignature" in a structured event.
const LabelSignatureExtension = "labelsignature"

// ErrLabelSignature means a label is unsigned, or its signature does not verify: it did not come
// from the trusted labelling path. It is permanent input (400), never retried.
var ErrLabelSignature = fmt.Errorf("%w: label signature", txn.ErrInvalid)

// SignLabel is the signature of l under key: HMAC-SHA256 of the label's canonical form, as 64
// lowercase hex digits. The canonical form (see labelMessage) covers every field that changes
// state, independently of how the JSON was spelled or re-encoded on the way.
func SignLabel(key []byte, l *txn.Label) string {
	m := hmac.New(sha256.New, key)
	m.Write(labelMessage(l))
	return hex.EncodeToString(m.Sum(nil))
}

// labelMessage is "fraud.label.v1\n<transaction_id>\n<customer_id>\n<terminal_id>\n<unix
// seconds>\n<0|1>". The id is length-prefixed so that no two labels share a message.
func labelMessage(l *txn.Label) []byte {
	b := make([]byte, 0, 64+len(l.TransactionID))
	b = append(b, "fraud.label.v1\n"...)
	b = strconv.AppendInt(b, int64(len(l.TransactionID)), 10)
	b = append(b, ':')
	b = append(b, l.TransactionID...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, l.CustomerID, 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, l.TerminalID, 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, l.Time.Unix(), 10)
	if l.Fraud {
		b = append(b, "\n1"...)
	} else {
		b = append(b, "\n0"...)
	}
	return b
}

// ParseLabelSignature decodes a signature as SignLabel writes it: exactly 64 lowercase hex
// digits. One spelling per signature: hex.Decode alone would also take upper case, so the same
// signature could arrive under several header values.
func ParseLabelSignature(s string) ([sha256.Size]byte, error) {
	var sig [sha256.Size]byte
	if len(s) != 2*sha256.Size {
		return sig, fmt.Errorf("%w: %d characters, want %d hex digits", ErrLabelSignature, len(s), 2*sha256.Size)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return sig, fmt.Errorf("%w: not lowercase hex at byte %d", ErrLabelSignature, i)
		}
	}
	if _, err := hex.Decode(sig[:], []byte(s)); err != nil {
		return sig, fmt.Errorf("%w: not hex", ErrLabelSignature)
	}
	return sig, nil
}

// VerifyLabel checks sig (as SignLabel writes it) against l under key, in constant time. An empty
// key verifies nothing: with no key configured every label is refused.
func VerifyLabel(key []byte, l *txn.Label, sig string) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: labels are disabled (no label key is configured)", ErrLabelSignature)
	}
	if sig == "" {
		return fmt.Errorf("%w: missing (extension %s)", ErrLabelSignature, LabelSignatureExtension)
	}
	got, err := ParseLabelSignature(sig)
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, key)
	m.Write(labelMessage(l))
	if !hmac.Equal(m.Sum(nil), got[:]) {
		return fmt.Errorf("%w: does not verify", ErrLabelSignature)
	}
	return nil
}
