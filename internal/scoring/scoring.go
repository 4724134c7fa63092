// Package scoring turns a transaction into a prediction: features from the store, the current
// model, the decision threshold. The model can be swapped atomically while scoring goes on.
package scoring

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"function/internal/config"
	"function/internal/features"
	"function/internal/model"
	"function/internal/txn"
)

// ErrNoModel means no model is loaded yet: a transient condition.
var ErrNoModel = errors.New("no model loaded")

// ErrStore wraps failures of the feature store: transient, the input may succeed later.
var ErrStore = errors.New("feature store unavailable")

// Prediction is the data of a fraud.prediction.v1 event.
type Prediction struct {
	TransactionID    string    `json:"transaction_id"`
	CustomerID       int64     `json:"customer_id"`
	TerminalID       int64     `json:"terminal_id"`
	TxDatetime       string    `json:"tx_datetime"`
	TxAmount         float64   `json:"tx_amount"`
	FraudProbability float64   `json:"fraud_probability"`
	IsFraud          bool      `json:"is_fraud"`
	Threshold        float64   `json:"threshold"`
	ModelName        string    `json:"model_name"`
	ModelVersion     string    `json:"model_version"`
	ScoredAt         time.Time `json:"scored_at"`
	// Added by issue 16; absent when empty, so consumers of the fields above are unaffected.
	// Reasons are the top TreeSHAP reasons of a flagged prediction (at most TopReasons, each
	// pushing towards fraud, strongest first).
	Reasons []model.Reason `json:"reasons,omitempty"`
	// Explanation holds every contribution, when asked for (ExplainAll).
	Explanation *Explanation `json:"explanation,omitempty"`
}

// Explanation is a prediction's full TreeSHAP decomposition in log-odds: ExpectedValue plus the
// sum of the contributions is the raw score, whose sigmoid is fraud_probability.
type Explanation struct {
	ExpectedValue float64        `json:"expected_value"`
	Contributions []model.Reason `json:"contributions"`
}

// TopReasons is how many reasons a flagged prediction carries at most.
const TopReasons = 5

// Explain says which predictions carry explanations.
type Explain uint8

const (
	// ExplainFlagged: the top reasons on flagged predictions only; legit ones pay nothing.
	ExplainFlagged Explain = iota
	// ExplainAll: every prediction carries all contributions, flagged ones their reasons too.
	ExplainAll
	// ExplainNone: no explanations at all (the cost baseline of the benchmarks).
	ExplainNone
)

// Scorer scores transactions. It is safe for concurrent use.
type Scorer struct {
	store     features.Store
	model     atomic.Pointer[model.Model]
	threshold float64 // 0: the model's own
	now       func() time.Time
	clock     *Clock // event-time bounds
	labelKey  []byte // verifies fraud.label.v1; empty: labels are refused
	observer  Observer
}

// Observer sees every scored transaction's features and probability (the drift monitor). It
// must not keep v.
type Observer interface {
	Observe(v *features.Vector, probability float64)
}

// WithObserver has o observe every scored transaction.
func WithObserver(o Observer) Option { return func(s *Scorer) { s.observer = o } }

// Option configures a Scorer.
type Option func(*Scorer)

// WithThreshold overrides the model's decision threshold.
func WithThreshold(t float64) Option { return func(s *Scorer) { s.threshold = t } }

// WithClock sets the wall clock: it stamps scored_at and, unless the event clock has its own, is
// the event-time bounds' wall clock.
func WithClock(now func() time.Time) Option { return func(s *Scorer) { s.now = now } }

// WithEventClock sets the event-time bounds (default: the wall clock with config's default
// skew, lateness and label delay). The Scorer owns c from then on.
func WithEventClock(c *Clock) Option { return func(s *Scorer) { s.clock = c } }

// WithLabelKey sets the key that fraud.label.v1 signatures are checked with (see SignLabel).
// Without it every label is refused.
func WithLabelKey(key []byte) Option { return func(s *Scorer) { s.labelKey = key } }

// NewClock is the Clock a configuration describes; its wall clock is the Scorer's unless set.
func NewClock(cfg config.Config) *Clock {
	return &Clock{Stream: cfg.EventClock == config.ClockStream, MaxSkew: cfg.EventMaxSkew,
		MaxLateness: cfg.EventMaxLateness, LabelMaxDelay: cfg.LabelMaxDelay}
}

// New scores with store; it has no model until SetModel.
func New(store features.Store, opts ...Option) *Scorer {
	s := &Scorer{store: store, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.clock == nil {
		s.clock = NewClock(config.Default())
	}
	if s.clock.Wall == nil {
		s.clock.Wall = s.now
	}
	return s
}

// Clock is the event clock the Scorer bounds events with.
func (s *Scorer) Clock() *Clock { return s.clock }

// SetModel swaps the model. Predictions in flight finish with the model they started with.
func (s *Scorer) SetModel(m *model.Model) { s.model.Store(m) }

// thresholdFor is the decision threshold in effect with m: the override, or the model's own.
func (s *Scorer) thresholdFor(m *model.Model) float64 {
	if s.threshold > 0 {
		return s.threshold
	}
	return m.Meta.Threshold
}

// ScoreFeatures scores feature vectors with the current model alone: no state, no event clock
// (the Open Inference Protocol's model-only path). out gets one probability per row; the model
// and the threshold used are returned.
func (s *Scorer) ScoreFeatures(rows []features.Vector, out []float64) (*model.Model, float64, error) {
	m := s.model.Load()
	if m == nil {
		return nil, 0, ErrNoModel
	}
	m.ProbabilityBatch(rows, out)
	return m, s.thresholdFor(m), nil
}

// Model is the current model, nil before the first SetModel.
func (s *Scorer) Model() *model.Model { return s.model.Load() }

// Score validates tx, checks its time against the event clock, records it in the feature state
// and scores it. Errors wrap txn.ErrInvalid (permanent: a transaction outside the event-time
// bounds is one, and never touches the state), ErrNoModel or ErrStore (transient).
func (s *Scorer) Score(ctx context.Context, tx *txn.Transaction) (Prediction, error) {
	return s.ScoreExplained(ctx, tx, ExplainFlagged)
}

// ScoreExplained is Score with the explanations mode asks for. A model that cannot be explained
// (ErrNotExplainable) still scores: the prediction then has no reasons.
func (s *Scorer) ScoreExplained(ctx context.Context, tx *txn.Transaction, mode Explain) (Prediction, error) {
	m := s.model.Load()
	if m == nil {
		if err := tx.Validate(); err != nil {
			return Prediction{}, err
		}
		return Prediction{}, ErrNoModel
	}
	var p Prediction
	if err := s.score(ctx, m, tx, mode, &p); err != nil {
		return Prediction{}, err
	}
	p.TxDatetime = tx.Time.UTC().Format(txn.DatetimeLayout)
	return p, nil
}

// ScoreBatch scores txs in order into out[:len(txs)], each as ScoreExplained would and all with
// the model current when the batch began. observe, if not nil, is called for each prediction
// with the batch's time split evenly over its predictions; they share one scored_at. The state is read and written row by
// row (a row sees the ones before it), then the model scores the whole batch at once. The
// tx_datetime texts of the batch share one allocation. At the first failure it returns the
// failing index and the error (what ScoreExplained would have returned); the transactions before
// it have been recorded and scored.
func (s *Scorer) ScoreBatch(ctx context.Context, txs []txn.Transaction, mode Explain, out []Prediction, observe func(*Prediction, time.Duration)) (int, error) {
	m := s.model.Load()
	if m == nil {
		if len(txs) == 0 {
			return 0, nil
		}
		if err := txs[0].Validate(); err != nil {
			return 0, err
		}
		return 0, ErrNoModel
	}
	start := time.Now()
	b := batchPool.Get().(*batchScratch)
	defer b.put()
	vs, ps := b.grow(len(txs))
	sc := scratchPool.Get().(*scratch)
	n := 0
	var err error
	for ; n < len(txs); n++ {
		if err = s.record(ctx, &txs[n], sc); err != nil {
			break
		}
		vs[n] = sc.v
	}
	scratchPool.Put(sc)
	m.ProbabilityBatch(vs[:n], ps[:n])
	scored := s.now().UTC() // one scored_at for the batch
	for i := range n {
		s.finish(m, &txs[i], &vs[i], ps[i], mode, scored, &out[i])
	}
	if observe != nil && n > 0 {
		each := time.Since(start) / time.Duration(n)
		for i := range n {
			observe(&out[i], each)
		}
	}
	if err != nil {
		return n, err
	}
	// Validate bounds the year to four digits: every text is the layout's length.
	const width = len(txn.DatetimeLayout)
	var text strings.Builder
	text.Grow(len(txs) * width)
	var buf [width]byte
	for i := range txs {
		text.Write(txn.AppendDatetime(buf[:0], txs[i].Time))
	}
	if all := text.String(); len(all) == len(txs)*width {
		for i := range txs {
			out[i].TxDatetime = all[i*width : (i+1)*width]
		}
	} else {
		for i := range txs {
			out[i].TxDatetime = txs[i].Time.UTC().Format(txn.DatetimeLayout)
		}
	}
	return len(txs), nil
}

// batchScratch holds a batch's feature vectors and probabilities between requests.
type batchScratch struct {
	vs []features.Vector
	ps []float64
}

// maxPooledBatch is the most rows a pooled batchScratch keeps room for (MAX_BATCH's default
// fits); a larger batch's room is let go after it.
const maxPooledBatch = 1000

var batchPool = sync.Pool{New: func() any { return &batchScratch{} }}

func (b *batchScratch) grow(n int) ([]features.Vector, []float64) {
	if cap(b.vs) < n {
		b.vs, b.ps = make([]features.Vector, n), make([]float64, n)
	}
	return b.vs[:n], b.ps[:n]
}

func (b *batchScratch) put() {
	if cap(b.vs) > maxPooledBatch {
		b.vs, b.ps = nil, nil
	}
	batchPool.Put(b)
}

// score is ScoreExplained with model m into out, tx_datetime left to the caller.
func (s *Scorer) score(ctx context.Context, m *model.Model, tx *txn.Transaction, mode Explain, out *Prediction) error {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if err := s.record(ctx, tx, sc); err != nil {
		return err
	}
	s.finish(m, tx, &sc.v, m.Probability(&sc.v), mode, s.now().UTC(), out)
	return nil
}

// record validates tx, admits its time on the event clock and records it in the feature state,
// leaving its feature vector in sc.v.
func (s *Scorer) record(ctx context.Context, tx *txn.Transaction, sc *scratch) error {
	if err := tx.Validate(); err != nil {
		return err
	}
	if err := s.clock.AdmitTransaction(tx.Time); err != nil {
		return err
	}
	sc.tx = tx
	err := s.store.Record(ctx, tx, sc.compute)
	sc.tx = nil
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// finish makes tx's prediction, scored at scored, from its vector v and m's probability p: the
// drift observation, the explanation mode asks for, and the fields.
func (s *Scorer) finish(m *model.Model, tx *txn.Transaction, v *features.Vector, p float64, mode Explain, scored time.Time, out *Prediction) {
	if s.observer != nil {
		s.observer.Observe(v, p)
	}
	thr := s.thresholdFor(m)
	var reasons []model.Reason
	var all *Explanation
	if mode != ExplainNone && (p >= thr || mode == ExplainAll) {
		// Only here: an explanation costs about 150 scorings (BenchmarkScoreAndExplain).
		if x, xerr := m.Explain(v); xerr == nil {
			if p >= thr {
				reasons = x.Top(v, TopReasons)
			}
			if mode == ExplainAll {
				all = &Explanation{ExpectedValue: x.Expected, Contributions: x.All(v)}
			}
		}
	}
	*out = Prediction{
		Reasons:          reasons,
		Explanation:      all,
		TransactionID:    tx.ID,
		CustomerID:       tx.CustomerID,
		TerminalID:       tx.TerminalID,
		TxAmount:         tx.Amount,
		FraudProbability: p,
		IsFraud:          p >= thr,
		Threshold:        thr,
		ModelName:        m.Meta.Name,
		ModelVersion:     m.Meta.Version,
		ScoredAt:         scored,
	}
}

// scratch carries a feature vector and the callback that fills it, reused across calls so that
// scoring a transaction allocates nothing for them (a closure would escape through the Store
// interface and take the vector with it).
type scratch struct {
	v       features.Vector
	tx      *txn.Transaction
	compute func(*features.CustomerHistory, *features.TerminalHistory)
}

var scratchPool = sync.Pool{New: func() any {
	sc := &scratch{}
	sc.compute = func(c *features.CustomerHistory, t *features.TerminalHistory) { features.Compute(&sc.v, sc.tx, c, t) }
	return sc
}}

// Label feeds a fraud label into the feature state, if it comes from the trusted labelling path
// (signature, the extension LabelSignatureExtension, verifies under the label key), is within the
// event-time bounds, and names a transaction the state has seen at that customer and terminal.
// Errors wrap txn.ErrInvalid (permanent: ErrLabelSignature, out of bounds,
// features.ErrUnknownTransaction) or ErrStore (transient).
func (s *Scorer) Label(ctx context.Context, l txn.Label, signature string) error {
	if err := VerifyLabel(s.labelKey, &l, signature); err != nil {
		return err
	}
	if err := s.clock.AdmitLabel(l.Time); err != nil {
		return err
	}
	if err := s.store.Label(ctx, l); err != nil {
		if errors.Is(err, txn.ErrInvalid) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}
