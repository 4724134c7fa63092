package txn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// CSVHeader is the dataset's comment header, the dataset's own spelling of the first column
// included.
const CSVHeader = "# tranaction_id | tx_datetime | customer_id | terminal_id | tx_amount | tx_time_seconds | tx_time_days | tx_fraud | tx_fraud_scenario"

// AppendCSV appends t as one dataset row, without its newline.
func AppendCSV(b []byte, t *Transaction) []byte {
	b = append(b, t.ID...)
	b = append(b, ',')
	b = AppendDatetime(b, t.Time)
	b = append(b, ',')
	b = strconv.AppendInt(b, t.CustomerID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, t.TerminalID, 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, t.Amount, 'f', 2, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, t.TimeSeconds, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, t.TimeDays, 10)
	b = append(b, ',')
	if t.Fraud {
		b = append(b, '1', ',')
	} else {
		b = append(b, '0', ',')
	}
	return strconv.AppendInt(b, int64(t.Scenario), 10)
}

// AppendJSON appends t as the JSON object the API and the Kafka topic carry.
func AppendJSON(b []byte, t *Transaction) []byte {
	b = append(b, `{"transaction_id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"tx_datetime":"`...)
	b = AppendDatetime(b, t.Time)
	b = append(b, `","customer_id":`...)
	b = strconv.AppendInt(b, t.CustomerID, 10)
	b = append(b, `,"terminal_id":`...)
	b = strconv.AppendInt(b, t.TerminalID, 10)
	b = append(b, `,"tx_amount":`...)
	b = strconv.AppendFloat(b, t.Amount, 'f', -1, 64)
	b = append(b, `,"tx_time_seconds":`...)
	b = strconv.AppendInt(b, t.TimeSeconds, 10)
	b = append(b, `,"tx_time_days":`...)
	b = strconv.AppendInt(b, t.TimeDays, 10)
	return append(b, '}')
}

// appendJSONString quotes s as JSON does (strconv.Quote writes \a, \x and \U escapes, which
// JSON has not): quote, backslash and control characters escaped, everything else as is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Writer writes a dataset file.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter writes the header at once.
func NewWriter(w io.Writer) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(CSVHeader + "\n"); err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	return &Writer{w: bw}, nil
}

// Write writes one row.
func (w *Writer) Write(t *Transaction) error {
	w.buf = append(AppendCSV(w.buf[:0], t), '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// RowError is one rejected row.
type RowError struct {
	Line   int
	Field  string
	Reason string
}

func (e RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// MaxReportedRows bounds how many rejected rows a Reader keeps; all are counted.
const MaxReportedRows = 1000

// Reader reads a dataset file. It skips comment lines and bad rows; each bad row is counted by
// field and the first MaxReportedRows are kept with their line number and reason. A bad row never
// stops the file: only an I/O error does.
type Reader struct {
	sc       *bufio.Scanner
	line     int
	seen     map[string]struct{}
	Rejected []RowError
	Counts   map[string]int // rejected rows by field ("" for the row's shape)
	Read     int            // rows returned
}

// NewReader reads dataset rows from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	return &Reader{sc: sc, seen: make(map[string]struct{}), Counts: make(map[string]int)}
}

// Next returns the next good row, or io.EOF.
func (r *Reader) Next() (Transaction, error) {
	for r.sc.Scan() {
		r.line++
		line := bytes.TrimSpace(r.sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		t, err := ParseCSVRow(line)
		if err == nil {
			if _, dup := r.seen[t.ID]; dup {
				err = invalid("transaction_id", "duplicate id %s", t.ID)
			}
		}
		if err != nil {
			r.reject(err)
			continue
		}
		r.seen[t.ID] = struct{}{}
		r.Read++
		return t, nil
	}
	if err := r.sc.Err(); err != nil {
		return Transaction{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	return Transaction{}, io.EOF
}

// Bad is the number of rejected rows.
func (r *Reader) Bad() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

func (r *Reader) reject(err error) {
	fe, _ := err.(*FieldError)
	re := RowError{Line: r.line, Reason: err.Error()}
	if fe != nil {
		re.Field, re.Reason = fe.Field, fe.Reason
	}
	r.Counts[re.Field]++
	if len(r.Rejected) < MaxReportedRows {
		r.Rejected = append(r.Rejected, re)
	}
}

// ParseCSVRow parses one dataset row: nine comma-separated fields, no quoting. Numbers are
// written as JSON writes them (no sign, underscore, leading zero, hex, NaN or Inf), so each id
// has one spelling.
func ParseCSVRow(line []byte) (Transaction, error) {
	var t Transaction
	var f [9][]byte
	n := 0
	for start := 0; ; {
		i := bytes.IndexByte(line[start:], ',')
		if n == len(f) {
			return t, &FieldError{Reason: "more than 9 fields"}
		}
		if i < 0 {
			f[n] = line[start:]
			n++
			break
		}
		f[n] = line[start : start+i]
		n++
		start += i + 1
	}
	if n != len(f) {
		return t, &FieldError{Reason: fmt.Sprintf("%d fields, want 9", n)}
	}
	for i := range f {
		f[i] = bytes.TrimSpace(f[i])
	}
	if !isNumber(string(f[0])) {
		return t, invalid("transaction_id", "not an integer")
	}
	if _, err := strconv.ParseInt(string(f[0]), 10, 64); err != nil {
		return t, invalid("transaction_id", "not an integer")
	}
	t.ID = string(f[0])
	var err error
	if t.Time, err = ParseDatetime(string(f[1])); err != nil {
		return t, invalid("tx_datetime", "%v", err)
	}
	ints := []struct {
		name string
		dst  *int64
		b    []byte
	}{{"customer_id", &t.CustomerID, f[2]}, {"terminal_id", &t.TerminalID, f[3]}, {"tx_time_seconds", &t.TimeSeconds, f[5]}, {"tx_time_days", &t.TimeDays, f[6]}}
	for _, x := range ints {
		if !isNumber(string(x.b)) {
			return t, invalid(x.name, "not an integer")
		}
		if *x.dst, err = strconv.ParseInt(string(x.b), 10, 64); err != nil {
			return t, invalid(x.name, "not an integer")
		}
	}
	if !isNumber(string(f[4])) {
		return t, invalid("tx_amount", "not a number")
	}
	if t.Amount, err = strconv.ParseFloat(string(f[4]), 64); err != nil {
		return t, invalid("tx_amount", "not a number")
	}
	switch string(f[7]) {
	case "0":
	case "1":
		t.Fraud = true
	default:
		return t, invalid("tx_fraud", "must be 0 or 1")
	}
	sc, err := strconv.ParseInt(string(f[8]), 10, 8)
	if err != nil || sc < 0 || sc > 3 {
		return t, invalid("tx_fraud_scenario", "must be 0 to 3")
	}
	t.Scenario = int8(sc)
	return t, t.Validate()
}
