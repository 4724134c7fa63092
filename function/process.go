package function

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"function/internal/events"
	"function/internal/scoring"
	"function/internal/txn"
)

// process decodes every event before it changes any state, so a batch with one bad event is
// refused whole (400) rather than half-applied. It then records labels, scores transactions and
// publishes the predictions, returning them in input order. A retried batch is harmless: the
// feature store ignores a transaction id it has seen, and prediction ids derive from event ids.
func (f *Function) process(ctx context.Context, l *live, evs []event.Event, batch bool, mode scoring.Explain) ([]event.Event, error) {
	if l == nil {
		return nil, scoring.ErrNoModel
	}
	inputs := make([]events.Input, len(evs))
	for i := range evs {
		in, err := events.Decode(&evs[i])
		if err != nil {
			if batch {
				return nil, &events.ItemError{Index: i, Err: err}
			}
			return nil, err
		}
		inputs[i] = in
	}
	var out []event.Event
	for i := range inputs {
		in := &inputs[i]
		if in.Kind == events.KindLabel {
			sig, _ := types.ToString(evs[i].Extensions()[scoring.LabelSignatureExtension])
			if err := l.scorer.Label(ctx, in.Label, sig); err != nil {
				return nil, fmt.Errorf("label %s: %w", in.Label.TransactionID, err)
			}
			continue
		}
		p, err := f.score(ctx, l.scorer, &in.Tx, mode)
		if err != nil {
			return nil, err
		}
		pe, err := events.NewPrediction(evs[i].Source(), evs[i].ID(), &p)
		if err != nil {
			return nil, err
		}
		out = append(out, pe)
	}
	if err := publish(ctx, l.pub, out); err != nil {
		return nil, err
	}
	return out, nil
}

// predict scores plain transactions (POST /predict) and publishes their predictions.
func (f *Function) predict(ctx context.Context, l *live, txs []txn.Transaction, mode scoring.Explain) ([]scoring.Prediction, error) {
	if l == nil {
		return nil, scoring.ErrNoModel
	}
	preds := make([]scoring.Prediction, len(txs))
	if i, err := l.scorer.ScoreBatch(ctx, txs, mode, preds, f.observePrediction); err != nil {
		return nil, fmt.Errorf("score %s: %w", txs[i].ID, err)
	}
	if _, nop := l.pub.(events.Nop); nop || len(preds) == 0 {
		return preds, nil
	}
	evs := make([]event.Event, len(preds))
	for i := range preds {
		e, err := events.NewPrediction(events.PredictSource, preds[i].TransactionID, &preds[i])
		if err != nil {
			return nil, err
		}
		evs[i] = e
	}
	return preds, publish(ctx, l.pub, evs)
}

func (f *Function) score(ctx context.Context, s *scoring.Scorer, tx *txn.Transaction, mode scoring.Explain) (scoring.Prediction, error) {
	start := time.Now()
	p, err := s.ScoreExplained(ctx, tx, mode)
	if err != nil {
		return p, fmt.Errorf("score %s: %w", tx.ID, err)
	}
	f.observePrediction(&p, time.Since(start))
	return p, nil
}

func (f *Function) observePrediction(p *scoring.Prediction, took time.Duration) {
	f.metrics.ObservePrediction(p.ModelVersion, p.FraudProbability, p.IsFraud, took)
}

func publish(ctx context.Context, pub events.Publisher, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := pub.Publish(ctx, evs); err != nil {
		return fmt.Errorf("%w: %w", events.ErrPublish, err)
	}
	return nil
}

// QueryExplain is the query parameter that asks for every contribution on every prediction
// (?explain=all) on the scoring routes; without it flagged predictions carry their top reasons.
const QueryExplain = "explain"

// explainMode reads ?explain: absent or "flagged" is the default, "all" adds every contribution;
// anything else is a 400 naming the parameter.
func explainMode(r *http.Request) (scoring.Explain, error) {
	if r.URL.RawQuery == "" {
		return scoring.ExplainFlagged, nil // no query to parse into a map
	}
	q := r.URL.Query()
	switch v := q.Get(QueryExplain); v {
	case "", "flagged":
		return scoring.ExplainFlagged, nil
	case "all":
		return scoring.ExplainAll, nil
	default:
		return 0, &txn.FieldError{Field: QueryExplain, Reason: fmt.Sprintf("%q is not one of flagged, all", v)}
	}
}
