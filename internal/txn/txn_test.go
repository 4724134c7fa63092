package txn_test

import (
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"function/internal/txn"
)

func TestDecodeJSON(t *testing.T) {
	ok := time.Date(2019, 8, 22, 6, 51, 3, 0, time.UTC)
	good := map[string]struct {
		in   string
		want txn.Transaction
	}{
		"string id":           {`{"transaction_id":"a-1","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":70.91}`, txn.Transaction{ID: "a-1", Time: ok, TerminalID: 711, Amount: 70.91}},
		"dataset spelling":    {`{"tranaction_id":46988237,"tx_datetime":"2019-08-22 06:51:03","customer_id":5,"terminal_id":7,"tx_amount":1,"tx_time_seconds":24663,"tx_time_days":0,"tx_fraud":1}`, txn.Transaction{ID: "46988237", Time: ok, CustomerID: 5, TerminalID: 7, Amount: 1, TimeSeconds: 24663}},
		"rfc3339 and strings": {`{"transaction_id":7,"tx_datetime":"2019-08-22T08:51:03+02:00","customer_id":"5","terminal_id":7.0,"tx_amount":"2.5"}`, txn.Transaction{ID: "7", Time: ok, CustomerID: 5, TerminalID: 7, Amount: 2.5}},
	}
	for name, tc := range good {
		t.Run(name, func(t *testing.T) {
			got, err := txn.DecodeJSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.want.Time) {
				t.Errorf("time %v, want %v", got.Time, tc.want.Time)
			}
			got.Time = tc.want.Time
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	bad := map[string]struct{ in, field, reason string }{
		"empty":             {``, "", "empty body"},
		"array":             {`[1]`, "", "expected a JSON object"},
		"malformed":         {`{"transaction_id":`, "", "malformed JSON"},
		"missing id":        {`{"tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":1,"tx_amount":1}`, "transaction_id", "missing"},
		"empty id":          {`{"transaction_id":"","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":1,"tx_amount":1}`, "transaction_id", "non-empty"},
		"object id":         {`{"transaction_id":{},"tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":1,"tx_amount":1}`, "transaction_id", "non-empty"},
		"24:00":             {`{"transaction_id":1,"tx_datetime":"2019-08-22 24:00:00","customer_id":0,"terminal_id":1,"tx_amount":1}`, "tx_datetime", "neither"},
		"date number":       {`{"transaction_id":1,"tx_datetime":5,"customer_id":0,"terminal_id":1,"tx_amount":1}`, "tx_datetime", "string"},
		"missing customer":  {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","terminal_id":1,"tx_amount":1}`, "customer_id", "missing"},
		"sentinel customer": {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":-999999,"terminal_id":1,"tx_amount":1}`, "customer_id", "negative"},
		"fraction customer": {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1.5,"terminal_id":1,"tx_amount":1}`, "customer_id", "integer"},
		"bool terminal":     {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":true,"tx_amount":1}`, "terminal_id", "integer"},
		"zero amount":       {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":0}`, "tx_amount", "positive"},
		"negative amount":   {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":-5}`, "tx_amount", "positive"},
		"NaN amount":        {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"NaN"}`, "tx_amount", "number"},
		"infinite amount":   {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"Inf"}`, "tx_amount", "number"},
		"huge amount":       {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1e300}`, "tx_amount", "limit"},
		"overflow amount":   {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1e999}`, "tx_amount", "range"},
		"string amount":     {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"abc"}`, "tx_amount", "number"},
		// Numbers in strings are JSON numbers: ParseFloat alone reads "1_000" as a thousand.
		"underscore amount":   {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"1_000"}`, "tx_amount", "number"},
		"underscore customer": {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":"1_000","terminal_id":1,"tx_amount":1}`, "customer_id", "integer"},
		"hex amount":          {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"0x1p3"}`, "tx_amount", "number"},
		"signed terminal":     {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":"+7","tx_amount":1}`, "terminal_id", "integer"},
		"spaced amount":       {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":" 5"}`, "tx_amount", "number"},
		"infinity amount":     {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":"infinity"}`, "tx_amount", "number"},
		// Keys match exactly and once: encoding/json folds case and keeps the last duplicate.
		"duplicate amount":  {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1,"tx_amount":9000}`, "tx_amount", "duplicate key"},
		"duplicate id":      {`{"transaction_id":"a","transaction_id":"b","tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1}`, "transaction_id", "duplicate key"},
		"duplicate other":   {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1,"note":1,"note":2}`, "", "duplicate key \"note\""},
		"case-folded twin":  {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1,"TX_AMOUNT":9000}`, "tx_amount", "case-sensitive"},
		"case-folded only":  {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","Customer_ID":1,"terminal_id":1,"tx_amount":1}`, "customer_id", "case-sensitive"},
		"case-folded alias": {`{"Transaction_Id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1}`, "transaction_id", "case-sensitive"},
		// Invalid UTF-8 and lone surrogates all decode to U+FFFD: refused, not collapsed.
		"invalid UTF-8 id":  {"{\"transaction_id\":\"a\xff\",\"tx_datetime\":\"2019-08-22 06:51:03\",\"customer_id\":1,\"terminal_id\":1,\"tx_amount\":1}", "transaction_id", "UTF-8"},
		"lone surrogate id": {`{"transaction_id":"a\ud800","tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1}`, "transaction_id", "UTF-8"},
		"replacement id":    {`{"transaction_id":"a\ufffd","tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1}`, "transaction_id", "UTF-8"},
		"trailing data":     {`{"transaction_id":1,"tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1} {}`, "", "malformed JSON"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := txn.DecodeJSON([]byte(tc.in))
			if !errors.Is(err, txn.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var fe *txn.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("err = %#v, want field %q reason containing %q", err, tc.field, tc.reason)
			}
		})
	}
}

// TestDistinctIDsStayDistinct: ids that differ only in bytes encoding/json would replace with
// U+FFFD used to decode to one id; now each is refused, and valid ids keep their exact bytes.
func TestDistinctIDsStayDistinct(t *testing.T) {
	body := func(id string) []byte {
		return []byte(`{"transaction_id":"` + id + `","tx_datetime":"2019-08-22 06:51:03","customer_id":1,"terminal_id":1,"tx_amount":1}`)
	}
	for _, id := range []string{"a\xff", "a\xfe", "a\xc3", `a\udc00`} {
		if tx, err := txn.DecodeJSON(body(id)); err == nil {
			t.Errorf("id %q accepted as %q", id, tx.ID)
		}
	}
	got, err := txn.DecodeJSON(body("caf\u00e9"))
	if err != nil || got.ID != "caf\u00e9" {
		t.Errorf("valid UTF-8 id: %q, %v", got.ID, err)
	}
}

func TestLabelKeysStrict(t *testing.T) {
	const base = `"transaction_id":"1","customer_id":1,"terminal_id":1,"tx_datetime":"2018-04-01 00:00:00"`
	for in, want := range map[string]string{
		`{` + base + `,"tx_fraud":0,"tx_fraud":1}`:    "duplicate key",
		`{` + base + `,"TX_FRAUD":1}`:                 "case-sensitive",
		`{` + base + `,"tx_fraud":1,"Terminal_ID":9}`: "case-sensitive",
	} {
		_, err := txn.DecodeLabelJSON([]byte(in))
		var fe *txn.FieldError
		if !errors.As(err, &fe) || !strings.Contains(fe.Reason, want) {
			t.Errorf("%s: err = %v, want a reason containing %q", in, err, want)
		}
	}
}

func TestParseCSVRowStrictNumbers(t *testing.T) {
	const good = "7,2019-08-22 06:51:03,5,711,70.91,24663,0,0,0"
	if _, err := txn.ParseCSVRow([]byte(good)); err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(good, ",")
	cases := map[string]struct {
		col   int
		value string
		field string
	}{
		"underscore amount":   {4, "1_000", "tx_amount"},
		"underscore fraction": {4, "1_0.5", "tx_amount"},
		"hex amount":          {4, "0x1p3", "tx_amount"},
		"infinity amount":     {4, "infinity", "tx_amount"},
		"signed customer":     {2, "+5", "customer_id"},
		"underscore terminal": {3, "7_11", "terminal_id"},
		"leading zero id":     {0, "07", "transaction_id"},
		"signed id":           {0, "+7", "transaction_id"},
		"underscore seconds":  {5, "24_663", "tx_time_seconds"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := append([]string(nil), fields...)
			f[tc.col] = tc.value
			_, err := txn.ParseCSVRow([]byte(strings.Join(f, ",")))
			var fe *txn.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err = %v, want a %s error", err, tc.field)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := txn.Transaction{ID: "x\"1\\\a\x00\U000e0001\u2028é", Time: time.Date(2018, 4, 1, 0, 0, 31, 0, time.UTC), CustomerID: 596, TerminalID: 3156, Amount: 57.16, TimeSeconds: 31}
	got, err := txn.DecodeJSON(txn.AppendJSON(nil, &in))
	if err != nil {
		t.Fatal(err)
	}
	if got != in {
		t.Errorf("round trip: got %+v, want %+v", got, in)
	}
}

func TestLabelJSON(t *testing.T) {
	l := txn.Label{TransactionID: "9", CustomerID: 1, TerminalID: 2, Time: time.Date(2018, 4, 1, 1, 0, 0, 0, time.UTC), Fraud: true}
	data, err := l.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := txn.DecodeLabelJSON(data)
	if err != nil || got != l {
		t.Fatalf("got %+v, %v; want %+v", got, err, l)
	}
	for _, bad := range []string{`{}`, `{"transaction_id":"1","customer_id":1,"terminal_id":1,"tx_datetime":"2018-04-01 00:00:00","tx_fraud":2}`, `{"transaction_id":"1","customer_id":1,"terminal_id":1,"tx_datetime":"x","tx_fraud":1}`} {
		if _, err := txn.DecodeLabelJSON([]byte(bad)); !errors.Is(err, txn.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestReaderSkipsAndReportsBadRows(t *testing.T) {
	f, err := os.Open("testdata/dirty.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := txn.NewReader(f)
	var ids []string
	for {
		tx, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tx.ID)
	}
	if got, want := strings.Join(ids, ","), "0,1,4,10"; got != want {
		t.Errorf("good ids %s, want %s", got, want)
	}
	wantRejected := []txn.RowError{
		{Line: 4, Field: "customer_id"},
		{Line: 5, Field: "tx_datetime"},
		{Line: 7, Field: "transaction_id"},
		{Line: 8, Field: "tx_amount"},
		{Line: 9, Field: "tx_amount"},
		{Line: 10, Field: ""},
		{Line: 11, Field: "tx_amount"},
		{Line: 14, Field: "tx_fraud"},
	}
	if len(r.Rejected) != len(wantRejected) {
		t.Fatalf("rejected %v, want %d rows", r.Rejected, len(wantRejected))
	}
	for i, w := range wantRejected {
		g := r.Rejected[i]
		if g.Line != w.Line || g.Field != w.Field || g.Reason == "" {
			t.Errorf("rejected[%d] = %+v, want line %d field %q with a reason", i, g, w.Line, w.Field)
		}
	}
	if r.Bad() != len(wantRejected) || r.Read != 4 || r.Counts["tx_amount"] != 3 {
		t.Errorf("counts %v, read %d", r.Counts, r.Read)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	in := txn.Transaction{ID: "12", Time: time.Date(2018, 4, 1, 0, 2, 10, 0, time.UTC), CustomerID: 4961, TerminalID: 3412, Amount: 81.51, TimeSeconds: 130, Fraud: true, Scenario: 3}
	var sb strings.Builder
	w, err := txn.NewWriter(&sb)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&in); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := txn.CSVHeader + "\n12,2018-04-01 00:02:10,4961,3412,81.51,130,0,1,3\n"; sb.String() != want {
		t.Errorf("wrote %q, want %q", sb.String(), want)
	}
	r := txn.NewReader(strings.NewReader(sb.String()))
	got, err := r.Next()
	if err != nil || got != in {
		t.Errorf("read %+v, %v; want %+v", got, err, in)
	}
}

func FuzzParseCSVRow(f *testing.F) {
	for _, s := range []string{"0,2019-08-22 06:51:03,0,711,70.91,24663,0,0,0", "3,2019-08-22 24:00:00,5,11,7.50,86400,0,0,0", ",,,,,,,,", "1,2,3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		tx, err := txn.ParseCSVRow(line)
		if err != nil {
			if !errors.Is(err, txn.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if tx.Validate() != nil || math.IsNaN(tx.Amount) || tx.Amount <= 0 {
			t.Fatalf("accepted an invalid row: %+v", tx)
		}
		// A good row survives writing and reading back.
		again, err := txn.ParseCSVRow(txn.AppendCSV(nil, &tx))
		if err != nil || again.ID != tx.ID || again.CustomerID != tx.CustomerID || !again.Time.Equal(tx.Time) {
			t.Fatalf("round trip of %+v: %+v, %v", tx, again, err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":70.91}`,
		`{"tranaction_id":1,"tx_datetime":"2019-08-22T06:51:03Z","customer_id":"5","terminal_id":7.0,"tx_amount":"2.5"}`,
		`{"transaction_id":1e400}`, `[]`, `null`, `{"tx_amount":"NaN"}`,
		`{"transaction_id":"a","terminal_id":711,"customer_id":0,"tx_datetime":"2019-08-22 06:51:03","tx_fraud":1}`,
		`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":1,"tx_amount":2}`,
		`{"transaction_id":"a","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"TX_AMOUNT":2}`,
		`{"transaction_id":"a\ud800","tx_datetime":"2019-08-22 06:51:03","customer_id":0,"terminal_id":711,"tx_amount":"1_000"}`,
		"{\"transaction_id\":\"\xff\",\"tx_datetime\":\"2019-08-22 06:51:03\",\"customer_id\":0,\"terminal_id\":1,\"tx_amount\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same bytes as a fraud.label.v1 payload: an ErrInvalid or a label, never a panic.
		if _, err := txn.DecodeLabelJSON(data); err != nil && !errors.Is(err, txn.ErrInvalid) {
			t.Fatalf("label error %v does not wrap ErrInvalid", err)
		}
		tx, err := txn.DecodeJSON(data)
		if err != nil {
			if !errors.Is(err, txn.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := tx.Validate(); err != nil {
			t.Fatalf("accepted an invalid transaction %+v: %v", tx, err)
		}
		if !utf8.ValidString(tx.ID) || strings.ContainsRune(tx.ID, utf8.RuneError) {
			t.Fatalf("accepted id %q: not the client's exact UTF-8", tx.ID)
		}
		// What was accepted survives the encoder the producers use, exactly.
		again, err := txn.DecodeJSON(txn.AppendJSON(nil, &tx))
		want := tx
		want.Time = tx.Time.Truncate(time.Second) // the dataset's layout has whole seconds
		if err == nil && again.Time.Equal(want.Time) {
			again.Time = want.Time
		}
		if err != nil || again != want {
			t.Fatalf("round trip of %+v: %+v, %v", tx, again, err)
		}
	})
}
