package scoring

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"function/internal/model"
)

// ErrNotFinite is AppendJSON's refusal of a NaN or an infinity, which JSON cannot write (as
// encoding/json refuses them).
var ErrNotFinite = errors.New("scoring: a prediction holds a NaN or an infinity")

// AppendJSON appends p as encoding/json writes it (the same bytes: field order, number and string
// forms, HTML-safe escapes, omitted empty reasons), without reflection or allocation: the /predict
// reply of a batch is one buffer.
func AppendJSON(b []byte, p *Prediction) ([]byte, error) {
	b = appendHead(b, p)
	b, err := appendShared(b, p)
	if err != nil {
		return b, err
	}
	return appendRest(b, p)
}

// AppendJSONs appends preds as AppendJSON would each, separated by commas (a /predict array's
// elements). The fields from threshold to scored_at, which the predictions of a batch share,
// are encoded once and copied while they stay the same.
func AppendJSONs(b []byte, preds []Prediction) ([]byte, error) {
	var buf [160]byte
	shared := buf[:0]
	var last *Prediction
	for i := range preds {
		p := &preds[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHead(b, p)
		if last != nil && sameShared(last, p) {
			b = append(b, shared...)
		} else {
			start := len(b)
			var err error
			if b, err = appendShared(b, p); err != nil {
				return b, err
			}
			shared, last = append(shared[:0], b[start:]...), p
		}
		var err error
		if b, err = appendRest(b, p); err != nil {
			return b, err
		}
	}
	return b, nil
}

// sameShared reports whether a and b encode the same fields from threshold to scored_at.
func sameShared(a, b *Prediction) bool {
	return math.Float64bits(a.Threshold) == math.Float64bits(b.Threshold) && a.ModelName == b.ModelName &&
		a.ModelVersion == b.ModelVersion && a.ScoredAt.Equal(b.ScoredAt) && a.ScoredAt.Location() == b.ScoredAt.Location()
}

// appendHead appends a prediction's fields up to is_fraud, the opening brace included.
func appendHead(b []byte, p *Prediction) []byte {
	b = append(b, `{"transaction_id":`...)
	b = appendString(b, p.TransactionID)
	b = append(b, `,"customer_id":`...)
	b = strconv.AppendInt(b, p.CustomerID, 10)
	b = append(b, `,"terminal_id":`...)
	b = strconv.AppendInt(b, p.TerminalID, 10)
	b = append(b, `,"tx_datetime":`...)
	b = appendString(b, p.TxDatetime)
	b = append(b, `,"tx_amount":`...)
	b = appendFloat(b, p.TxAmount)
	b = append(b, `,"fraud_probability":`...)
	b = appendFloat(b, p.FraudProbability)
	b = append(b, `,"is_fraud":`...)
	b = strconv.AppendBool(b, p.IsFraud)
	return b
}

// appendShared appends the fields from threshold to scored_at.
func appendShared(b []byte, p *Prediction) ([]byte, error) {
	b = append(b, `,"threshold":`...)
	b = appendFloat(b, p.Threshold)
	b = append(b, `,"model_name":`...)
	b = appendString(b, p.ModelName)
	b = append(b, `,"model_version":`...)
	b = appendString(b, p.ModelVersion)
	b = append(b, `,"scored_at":`...)
	if y := p.ScoredAt.Year(); y < 0 || y > 9999 {
		return b, ErrNotFinite // encoding/json refuses such a time too
	}
	b = append(b, '"')
	b = p.ScoredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	return b, nil
}

// appendRest appends the reasons, the explanation and the closing brace, and checks that p is
// finite.
func appendRest(b []byte, p *Prediction) ([]byte, error) {
	if len(p.Reasons) > 0 {
		b = append(b, `,"reasons":`...)
		b = appendReasons(b, p.Reasons)
	}
	if x := p.Explanation; x != nil {
		b = append(b, `,"explanation":{"expected_value":`...)
		b = appendFloat(b, x.ExpectedValue)
		b = append(b, `,"contributions":`...)
		b = appendReasons(b, x.Contributions)
		b = append(b, '}')
	}
	b = append(b, '}')
	if !finite(p) {
		return b, ErrNotFinite
	}
	return b, nil
}

func finite(p *Prediction) bool {
	ok := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !ok(p.TxAmount) || !ok(p.FraudProbability) || !ok(p.Threshold) {
		return false
	}
	for _, r := range p.Reasons {
		if !ok(r.Value) || !ok(r.Contribution) {
			return false
		}
	}
	if x := p.Explanation; x != nil {
		if !ok(x.ExpectedValue) {
			return false
		}
		for _, r := range x.Contributions {
			if !ok(r.Value) || !ok(r.Contribution) {
				return false
			}
		}
	}
	return true
}

func appendReasons(b []byte, rs []model.Reason) []byte {
	if rs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"feature":`...)
		b = appendString(b, rs[i].Feature)
		b = append(b, `,"code":`...)
		b = appendString(b, rs[i].Code)
		b = append(b, `,"value":`...)
		b = appendFloat(b, rs[i].Value)
		b = append(b, `,"contribution":`...)
		b = appendFloat(b, rs[i].Contribution)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendFloat writes f as encoding/json does: the shortest form, 'f' between 1e-6 and 1e21,
// exponents without a leading zero.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString quotes s as encoding/json does with HTML escaping: <, > and & as \u00XX, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped (JSONP-safe).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
