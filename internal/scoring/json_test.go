package scoring_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"function/internal/model"
	"function/internal/scoring"
)

// FuzzAppendJSON holds the hand-written encoder to encoding/json: the same bytes for every
// prediction, or a refusal exactly where encoding/json refuses.
func FuzzAppendJSON(f *testing.F) {
	f.Add("tx-1", int64(596), int64(3156), "2018-04-01 00:00:31", 57.16, 0.0123, 0.4614, "fraud-detector", "local-ab6060cdb91d", int64(1764158400123456789), "TX_AMOUNT", 1.5e-7, 1e21, uint8(2))
	f.Add("<a&b>\u2028\u2029\"\\\x01\b\f\n\r\t\xff é😀", int64(-1), int64(0), "", 0.0, 1.0, 0.25, "", "", int64(0), "", math.Inf(1), 1e-6, uint8(1))
	f.Add("z", int64(1), int64(1), "", 1.0, 0.5, math.Copysign(0, -1), "", "", int64(0), "", 0.0, 0.0, uint8(3))
	f.Add("x", int64(1), int64(2), "y", 123456789.0, 1e-9, 0.5, "m", "v", int64(-62135596800000000), "f", -2.5e-10, 0.1, uint8(0))
	f.Fuzz(func(t *testing.T, id string, customer, terminal int64, datetime string, amount, prob, thr float64, name, version string, scoredNanos int64, feature string, value, contribution float64, shape uint8) {
		p := scoring.Prediction{TransactionID: id, CustomerID: customer, TerminalID: terminal, TxDatetime: datetime,
			TxAmount: amount, FraudProbability: prob, IsFraud: prob >= thr, Threshold: thr, ModelName: name, ModelVersion: version,
			ScoredAt: time.Unix(0, scoredNanos).UTC()}
		r := model.Reason{Feature: feature, Code: id, Value: value, Contribution: contribution}
		switch shape % 4 {
		case 1:
			p.Reasons = []model.Reason{r, r}
		case 2:
			p.Explanation = &scoring.Explanation{ExpectedValue: value, Contributions: []model.Reason{r}}
		case 3:
			p.Reasons = []model.Reason{r}
			p.Explanation = &scoring.Explanation{ExpectedValue: contribution}
		}
		want, wantErr := json.Marshal(&p)
		got, err := scoring.AppendJSON(nil, &p)
		if wantErr != nil {
			if !errors.Is(err, scoring.ErrNotFinite) {
				t.Fatalf("%+v: encoding/json refuses (%v), AppendJSON says %v", p, wantErr, err)
			}
		} else if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%+v:\n got %s (%v)\nwant %s", p, got, err, want)
		}
		// A batch: p, then p with one shared field changed as shape says, then p again.
		q := p
		switch shape / 4 % 4 {
		case 0:
			q.Threshold = math.Nextafter(q.Threshold, 2)
		case 1:
			q.ModelVersion += "x"
		case 2:
			q.ScoredAt = q.ScoredAt.Add(time.Nanosecond)
		case 3:
			q.ScoredAt = q.ScoredAt.In(time.FixedZone("plus1", 3600))
		}
		batch := []scoring.Prediction{p, p, q, p}
		var joined []byte
		var batchErr error
		for i := range batch {
			one, err := json.Marshal(&batch[i])
			if err != nil {
				batchErr = err
				break
			}
			if i > 0 {
				joined = append(joined, ',')
			}
			joined = append(joined, one...)
		}
		gotBatch, err := scoring.AppendJSONs(nil, batch)
		if batchErr != nil {
			if !errors.Is(err, scoring.ErrNotFinite) {
				t.Fatalf("batch %+v: encoding/json refuses (%v), AppendJSONs says %v", batch, batchErr, err)
			}
			return
		}
		if err != nil || !bytes.Equal(gotBatch, joined) {
			t.Fatalf("batch of %+v and %+v:\n got %s (%v)\nwant %s", p, q, gotBatch, err, joined)
		}
	})
}

func TestAppendJSONsAllocates(t *testing.T) {
	p := scoring.Prediction{TransactionID: "tx-1", TxDatetime: "2018-04-01 00:00:31", TxAmount: 57.16, FraudProbability: 0.0123,
		Threshold: 0.46, ModelName: "fraud-detector", ModelVersion: "v1", ScoredAt: time.Now()}
	preds := []scoring.Prediction{p, p, p}
	preds[1].ModelVersion = "v2"
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = scoring.AppendJSONs(buf[:0], preds) }); n != 0 {
		t.Errorf("%v allocations per batch, want 0", n)
	}
}

func TestAppendJSONAllocates(t *testing.T) {
	p := scoring.Prediction{TransactionID: "tx-1", TxDatetime: "2018-04-01 00:00:31", TxAmount: 57.16, FraudProbability: 0.0123,
		Threshold: 0.46, ModelName: "fraud-detector", ModelVersion: "v1", ScoredAt: time.Now()}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf, _ = scoring.AppendJSON(buf[:0], &p) }); n != 0 {
		t.Errorf("%v allocations per prediction, want 0", n)
	}
}
