package function

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/config"
	"function/internal/events"
	"function/internal/model"
	"function/internal/scoring"
	"function/internal/telemetry"
)

func TestRoutes(t *testing.T) {
	_, srv := startFunction(t)
	tests := map[string]struct {
		method, path, contentType, body string
		status                          int
		contains                        string
	}{
		"predict one":           {"POST", "/predict", "application/json", txBody("r1", 1, 10), 200, `"transaction_id":"r1"`},
		"predict array":         {"POST", "/predict", "application/json", "[" + txBody("r2", 1, 10) + "," + txBody("r3", 2, 20) + "]", 200, `"transaction_id":"r3"`},
		"predict curl default":  {"POST", "/predict", "application/x-www-form-urlencoded", txBody("r4", 1, 10), 200, `"model_version":"` + builtinVersion(t) + `"`},
		"predict empty array":   {"POST", "/predict", "application/json", "[]", 200, "[]"},
		"cloudevent structured": {"POST", "/", events.MediaStructured, structuredEvent(events.TypeTransaction, "s1", txBody("r5", 1, 10)), 200, `"fraud_probability"`},
		"health":                {"GET", "/health", "", "", 200, "ok"},
		"liveness":              {"GET", "/health/liveness", "", "", 200, "ALIVE"},
		"readiness":             {"GET", "/health/readiness", "", "", 200, "READY"},
		"metrics":               {"GET", "/metrics", "", "", 200, "go_goroutines"},
		"metrics process":       {"GET", "/metrics", "", "", 200, "process_resident_memory_bytes"},
		"head health":           {"HEAD", "/health", "", "", 200, ""},
		"unknown path":          {"GET", "/nope", "", "", 404, `"reason":"not_found"`},
		"get predict":           {"GET", "/predict", "", "", 405, `"reason":"method_not_allowed"`},
		"get root":              {"GET", "/", "", "", 405, `"reason":"method_not_allowed"`},
		"post metrics":          {"POST", "/metrics", "", "", 405, `"reason":"method_not_allowed"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, body := do(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body %s does not contain %s", body, tc.contains)
			}
		})
	}
}

func TestPredictReply(t *testing.T) {
	_, srv := startFunction(t)
	resp, body := post(t, srv.URL+"/predict", "application/json", txBody("p1", 596, 57.16))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	p := decodeJSON[scoring.Prediction](t, body)
	if p.TransactionID != "p1" || p.CustomerID != 596 || p.TerminalID != 3156 || p.TxAmount != 57.16 ||
		p.TxDatetime != "2018-04-01 10:00:00" || p.ModelName != "fraud-detector" || !p.ScoredAt.Equal(fixedNow) {
		t.Errorf("prediction %+v", p)
	}
	if !(p.FraudProbability >= 0 && p.FraudProbability <= 1) || p.IsFraud != (p.FraudProbability >= p.Threshold) {
		t.Errorf("inconsistent decision: %+v", p)
	}
	// An array reply is in input order.
	_, body = post(t, srv.URL+"/predict", "application/json", "["+txBody("a", 1, 5)+","+txBody("b", 2, 900)+","+txBody("c", 3, 7)+"]")
	ps := decodeJSON[[]scoring.Prediction](t, body)
	if len(ps) != 3 || ps[0].TransactionID != "a" || ps[1].TransactionID != "b" || ps[2].TransactionID != "c" {
		t.Errorf("array reply %+v", ps)
	}
}

// TestKafkaSourceEvent sends what KafkaSource sends for a plain record: binary mode, no
// datacontenttype, id partition:<p>/offset:<o>, key extension.
func TestKafkaSourceEvent(t *testing.T) {
	store := newSpyStore()
	pub := &spyPublisher{}
	f, srv := startFunction(t, WithStore(store), WithPublisher(pub))

	resp, body := do(t, kafkaRequest(t, srv.URL, 42, txBody("k1", 596, 57.16)))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	wantID := events.PredictionID(kafkaSource, "partition:3/offset:42")
	h := resp.Header
	if h.Get("Ce-Type") != events.TypePrediction || h.Get("Ce-Id") != wantID || h.Get("Ce-Source") != events.Source ||
		h.Get("Ce-Subject") != "k1" || h.Get("Ce-Partitionkey") != "596" || h.Get("Content-Type") != "application/json" {
		t.Errorf("reply headers %v", h)
	}
	p := decodeJSON[scoring.Prediction](t, body)
	if p.TransactionID != "k1" || p.CustomerID != 596 {
		t.Errorf("reply data %+v", p)
	}

	// Redelivery (at-least-once): the same prediction id, and the feature state is unchanged.
	resp, _ = do(t, kafkaRequest(t, srv.URL, 42, txBody("k1", 596, 57.16)))
	if resp.Header.Get("Ce-Id") != wantID {
		t.Errorf("redelivery got id %s, want %s", resp.Header.Get("Ce-Id"), wantID)
	}
	do(t, kafkaRequest(t, srv.URL, 43, txBody("k2", 596, 10)))
	if store.seen["k1"] != 1 || store.seen["k2"] != 2 {
		t.Errorf("customer history after k1, k1 again, k2: %v, want k1=1 k2=2", store.seen)
	}

	// Every prediction reached the publisher, keyed by customer.
	pubd := pub.events()
	if len(pubd) != 3 || pubd[0].ID() != wantID || pubd[2].Extensions()[events.PartitionKey] != "596" {
		t.Errorf("published %d events: %v", len(pubd), pubd)
	}
	v := builtinVersion(t)
	if got := testutil.ToFloat64(f.Metrics().Predictions.WithLabelValues(v, telemetry.OutcomeLegit)) +
		testutil.ToFloat64(f.Metrics().Predictions.WithLabelValues(v, telemetry.OutcomeFraud)); got != 3 {
		t.Errorf("ml_model_predictions_total = %v, want 3", got)
	}
}

func TestBatchInBatchOut(t *testing.T) {
	store := newSpyStore()
	_, srv := startFunction(t, WithStore(store))
	// A label for t1, which the batch scores before it: signed by the trusted labelling path.
	label := `{"transaction_id":"t1","customer_id":1,"terminal_id":3156,"tx_datetime":"2018-04-01 10:00:00","tx_fraud":1}`
	batch := "[" + structuredEvent(events.TypeTransaction, "b1", txBody("t1", 1, 10)) + "," +
		signedLabelEvent(t, "b2", label) + "," +
		structuredEvent(events.TypeTransaction, "b3", txBody("t3", 2, 20)) + "]"
	resp, body := post(t, srv.URL+"/", events.MediaBatch, batch)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != events.MediaBatch {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	out, err := cehttp.NewEventsFromHTTPResponse(&http.Response{Header: resp.Header, Body: nopBody(body)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Subject() != "t1" || out[1].Subject() != "t3" ||
		out[0].ID() != events.PredictionID("/test", "b1") || out[1].ID() != events.PredictionID("/test", "b3") {
		t.Fatalf("reply batch: %v", out)
	}
	if len(store.label) != 1 || store.label[0].TransactionID != "t1" || !store.label[0].Fraud {
		t.Errorf("labels reaching the store: %+v", store.label)
	}

	// A lone label is accepted with no reply event.
	resp, body = post(t, srv.URL+"/", events.MediaStructured, signedLabelEvent(t, "l1", label))
	if resp.StatusCode != http.StatusAccepted || len(body) != 0 {
		t.Errorf("label: %d %q", resp.StatusCode, body)
	}
}

// Labels change risk state, so only the trusted labelling path may send them: an unsigned or
// wrongly signed label, a label for a transaction never seen, and a label dated ahead of the
// stream are refused with a 400 naming the reason, and never reach the state.
func TestLabelsFromTheTrustedPathOnly(t *testing.T) {
	store := newSpyStore()
	_, srv := startFunction(t, WithStore(store))
	if resp, body := post(t, srv.URL+"/predict", "application/json", txBody("seen", 1, 10)); resp.StatusCode != 200 {
		t.Fatalf("predict: %d %s", resp.StatusCode, body)
	}
	seen := `{"transaction_id":"seen","customer_id":1,"terminal_id":3156,"tx_datetime":"2018-04-01 10:00:00","tx_fraud":1}`
	never := `{"transaction_id":"never","customer_id":1,"terminal_id":3156,"tx_datetime":"2018-04-01 10:00:00","tx_fraud":1}`
	future := `{"transaction_id":"seen","customer_id":1,"terminal_id":3156,"tx_datetime":"2018-05-09 10:00:00","tx_fraud":1}`
	forged := strings.Replace(signedLabelEvent(t, "f", seen), `"labelsignature":"`, `"labelsignature":"0`, 1)
	tests := map[string]struct {
		event string
		want  string
	}{
		"unsigned":           {structuredEvent(events.TypeLabel, "u", seen), "label signature: missing"},
		"wrong signature":    {forged, "label signature"},
		"never seen":         {signedLabelEvent(t, "n", never), "no transaction seen"},
		"ahead of the clock": {signedLabelEvent(t, "a", future), "ahead of the stream watermark"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := post(t, srv.URL+"/", events.MediaStructured, tc.event)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want 400 %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	if len(store.label) != 0 {
		t.Errorf("refused labels reached the store: %+v", store.label)
	}
	resp, body := post(t, srv.URL+"/", events.MediaStructured, signedLabelEvent(t, "ok", seen))
	if resp.StatusCode != http.StatusAccepted || len(store.label) != 1 {
		t.Errorf("the genuine label: %d %s, %d reached the store", resp.StatusCode, body, len(store.label))
	}
}

type badCase struct {
	path        string
	contentType string
	headers     map[string]string
	body        string
	status      int
	reason      string
	field       string
}

func binaryHeaders(typ, dataContentType string) map[string]string {
	h := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "partition:0/offset:1", "Ce-Source": kafkaSource, "Ce-Type": typ}
	if dataContentType != "" {
		h["Content-Type"] = dataContentType
	}
	return h
}

func TestBadInputs(t *testing.T) {
	valid := txBody("x", 1, 10)
	with := func(field, value string) string {
		return strings.Replace(valid, field, value, 1)
	}
	huge := `{"transaction_id":"` + strings.Repeat("a", 5000) + `"}`
	tests := map[string]badCase{
		"invalid JSON":              {path: "/predict", contentType: "application/json", body: `{"transaction_id":`, status: 400, reason: "invalid_input"},
		"not an object":             {path: "/predict", contentType: "application/json", body: `"hello"`, status: 400, reason: "invalid_input"},
		"empty body":                {path: "/predict", contentType: "application/json", body: ``, status: 400, reason: "invalid_input"},
		"missing transaction id":    {path: "/predict", body: with(`"transaction_id":"x",`, ""), status: 400, reason: "invalid_input", field: "transaction_id"},
		"missing customer":          {path: "/predict", body: with(`"customer_id":1,`, ""), status: 400, reason: "invalid_input", field: "customer_id"},
		"customer is text":          {path: "/predict", body: with(`"customer_id":1`, `"customer_id":"abc"`), status: 400, reason: "invalid_input", field: "customer_id"},
		"customer is negative":      {path: "/predict", body: with(`"customer_id":1`, `"customer_id":-999999`), status: 400, reason: "invalid_input", field: "customer_id"},
		"terminal is an object":     {path: "/predict", body: with(`"terminal_id":3156`, `"terminal_id":{}`), status: 400, reason: "invalid_input", field: "terminal_id"},
		"amount is a string":        {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":"ten"`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount negative":           {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":-3.5`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount zero":               {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":0`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount NaN":                {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":"NaN"`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount infinite":           {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":"+Inf"`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount overflows":          {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":1e400`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"amount absurd":             {path: "/predict", body: with(`"tx_amount":10`, `"tx_amount":5e12`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"date 24:00:00":             {path: "/predict", body: with(`2018-04-01 10:00:00`, `2018-04-01 24:00:00`), status: 400, reason: "invalid_input", field: "tx_datetime"},
		"date garbage":              {path: "/predict", body: with(`2018-04-01 10:00:00`, `yesterday`), status: 400, reason: "invalid_input", field: "tx_datetime"},
		"date a number":             {path: "/predict", body: with(`"2018-04-01 10:00:00"`, `1522576800`), status: 400, reason: "invalid_input", field: "tx_datetime"},
		"bad item in array":         {path: "/predict", body: "[" + valid + "," + with(`"tx_amount":10`, `"tx_amount":-1`) + "]", status: 400, reason: "invalid_input", field: "[1].tx_amount"},
		"array over MAX_BATCH":      {path: "/predict", body: "[" + strings.Repeat(valid+",", 5) + valid + "]", status: 413, reason: "batch_too_large"},
		"predict text/plain":        {path: "/predict", contentType: "text/plain", body: valid, status: 415, reason: "unsupported_media"},
		"predict xml":               {path: "/predict", contentType: "application/xml", body: valid, status: 415, reason: "unsupported_media"},
		"predict oversized":         {path: "/predict", contentType: "application/json", body: huge, status: 413, reason: "body_too_large"},
		"event unknown type":        {path: "/", headers: binaryHeaders("com.example.other", ""), body: valid, status: 400, reason: "unknown_event_type"},
		"event wrong data type":     {path: "/", headers: binaryHeaders(events.TypeKafka, "text/plain"), body: valid, status: 415, reason: "unsupported_media"},
		"event without CE headers":  {path: "/", contentType: "application/json", body: valid, status: 415, reason: "unsupported_media"},
		"event invalid json data":   {path: "/", headers: binaryHeaders(events.TypeKafka, ""), body: `{"tx_amount":`, status: 400, reason: "invalid_input"},
		"event negative amount":     {path: "/", headers: binaryHeaders(events.TypeKafka, ""), body: with(`"tx_amount":10`, `"tx_amount":-1`), status: 400, reason: "invalid_input", field: "tx_amount"},
		"event missing CE id":       {path: "/", headers: map[string]string{"Ce-Specversion": "1.0", "Ce-Source": "/s", "Ce-Type": events.TypeKafka}, body: valid, status: 400, reason: "invalid_event"},
		"event oversized":           {path: "/", headers: binaryHeaders(events.TypeKafka, ""), body: huge, status: 413, reason: "body_too_large"},
		"structured malformed":      {path: "/", contentType: events.MediaStructured, body: `{"specversion":"1.0",`, status: 400, reason: "invalid_event"},
		"batch with a bad event":    {path: "/", contentType: events.MediaBatch, body: "[" + structuredEvent(events.TypeTransaction, "1", valid) + "," + structuredEvent("nope", "2", valid) + "]", status: 400, reason: "unknown_event_type", field: "[1]"},
		"batch over MAX_BATCH":      {path: "/", contentType: events.MediaBatch, body: "[" + strings.Repeat(structuredEvent(events.TypeTransaction, "1", `{}`)+",", 5) + structuredEvent(events.TypeTransaction, "1", `{}`) + "]", status: 413, reason: "batch_too_large"},
		"batch item invalid amount": {path: "/", contentType: events.MediaBatch, body: "[" + structuredEvent(events.TypeTransaction, "1", with(`"tx_amount":10`, `"tx_amount":"NaN"`)) + "]", status: 400, reason: "invalid_input", field: "[0].tx_amount"},
	}
	f, srv := startFunction(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkBad(t, f, srv.URL, tc)
		})
	}
}

func checkBad(t *testing.T, f *Function, url string, tc badCase) {
	t.Helper()
	before := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(tc.reason))
	req, err := http.NewRequest(http.MethodPost, url+tc.path, strings.NewReader(tc.body))
	if err != nil {
		t.Fatal(err)
	}
	if tc.contentType != "" {
		req.Header.Set("Content-Type", tc.contentType)
	}
	for k, v := range tc.headers {
		req.Header.Set(k, v)
	}
	resp, body := do(t, req)
	if resp.StatusCode != tc.status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error content type %q", ct)
	}
	eb := decodeJSON[events.ErrorBody](t, body)
	if eb.Reason != tc.reason || eb.Field != tc.field || eb.Error == "" {
		t.Errorf("body %+v, want reason %q field %q", eb, tc.reason, tc.field)
	}
	if got := testutil.ToFloat64(f.Metrics().Errors.WithLabelValues(tc.reason)) - before; got != 1 {
		t.Errorf("ml_model_errors_total{reason=%q} grew by %v, want 1", tc.reason, got)
	}
}

func TestTransientFaults(t *testing.T) {
	t.Run("publish failure", func(t *testing.T) {
		f, srv := startFunction(t, WithPublisher(&spyPublisher{fail: errors.New("broker down")}))
		checkBad(t, f, srv.URL, badCase{path: "/", headers: binaryHeaders(events.TypeKafka, ""), body: txBody("x", 1, 10), status: 503, reason: "publish_failed"})
		checkBad(t, f, srv.URL, badCase{path: "/predict", body: txBody("y", 1, 10), status: 503, reason: "publish_failed"})
	})
	t.Run("store failure", func(t *testing.T) {
		store := newSpyStore()
		store.fail = errors.New("connection refused")
		f, srv := startFunction(t, WithStore(store))
		checkBad(t, f, srv.URL, badCase{path: "/predict", body: txBody("z", 1, 10), status: 503, reason: "store_unavailable"})
	})
}

// TestReadinessFollowsModel: until the model is loaded, readiness is 503 and scoring answers 503
// (KafkaSource retries it); afterwards both succeed.
func TestReadinessFollowsModel(t *testing.T) {
	release := make(chan struct{})
	src := ModelSourceFunc(func(ctx context.Context) (*model.Model, error) {
		<-release
		return model.Builtin()
	})
	f := New(WithConfig(testConfig()), WithLogger(quietLogger()), WithModelSource(src, false))
	srv := newServer(t, f)
	started := make(chan error, 1)
	go func() { started <- f.Start(context.Background(), nil) }()

	resp, _ := do(t, mustRequest(t, "GET", srv+"/health/readiness"))
	if resp.StatusCode != 503 {
		t.Errorf("readiness before load: %d, want 503", resp.StatusCode)
	}
	resp, _ = do(t, mustRequest(t, "GET", srv+"/health/liveness"))
	if resp.StatusCode != 200 {
		t.Errorf("liveness before load: %d, want 200", resp.StatusCode)
	}
	checkBad(t, f, srv, badCase{path: "/predict", body: txBody("early", 1, 10), status: 503, reason: "model_unavailable"})

	close(release)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	resp, _ = do(t, mustRequest(t, "GET", srv+"/health/readiness"))
	if resp.StatusCode != 200 {
		t.Errorf("readiness after load: %d, want 200", resp.StatusCode)
	}
	resp, body := post(t, srv+"/predict", "application/json", txBody("late", 1, 10))
	if resp.StatusCode != 200 {
		t.Errorf("predict after load: %d %s", resp.StatusCode, body)
	}
	f.Drain()
	resp, _ = do(t, mustRequest(t, "GET", srv+"/health/readiness"))
	if resp.StatusCode != 503 {
		t.Errorf("readiness while draining: %d, want 503", resp.StatusCode)
	}
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailsOnBadModel(t *testing.T) {
	cfg := testConfig()
	cfg.ModelURI = t.TempDir() // no bundle there
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	if err := f.Start(context.Background(), nil); err == nil {
		t.Fatal("Start succeeded without a model")
	}
	if ready, _ := f.Ready(context.Background()); ready {
		t.Error("ready without a model")
	}
}

func TestStartReadsEnv(t *testing.T) {
	f := New(WithLogger(quietLogger()))
	err := f.Start(context.Background(), map[string]string{"FRAUD_THRESHOLD": "7", "EVENT_CLOCK": "stream"})
	if err == nil || !strings.Contains(err.Error(), "FRAUD_THRESHOLD") {
		t.Fatalf("bad env accepted: %v", err)
	}
	f = New(WithLogger(quietLogger()))
	if err := f.Start(context.Background(), map[string]string{"FRAUD_THRESHOLD": "0.01", "MAX_BATCH": "3", "EVENT_CLOCK": "stream"}); err != nil {
		t.Fatal(err)
	}
	if f.Config().MaxBatch != 3 {
		t.Errorf("MAX_BATCH not applied: %+v", f.Config())
	}
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType(events.TypeTransaction)
	e.DataEncoded = []byte(txBody("th", 1, 10))
	out, err := f.Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	var p scoring.Prediction
	if err := out.DataAs(&p); err != nil {
		t.Fatal(err)
	}
	if p.Threshold != 0.01 {
		t.Errorf("threshold %v, want FRAUD_THRESHOLD 0.01", p.Threshold)
	}
}

// TestModelHotSwap: a bundle directory is polled; a new version replaces the old without restart.
func TestModelHotSwap(t *testing.T) {
	var version atomicString
	version.Store("v1")
	src := ModelSourceFunc(func(context.Context) (*model.Model, error) {
		m, err := model.Builtin()
		if err != nil {
			return nil, err
		}
		m.Meta.Version = version.Load()
		return m, nil
	})
	cfg := testConfig()
	cfg.ModelPollInterval = config.MinModelPollInterval
	f := New(WithConfig(cfg), WithLogger(quietLogger()), WithModelSource(src, true))
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	version.Store("v2")
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(f.Metrics().ModelInfo.WithLabelValues("fraud-detector", "v2")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("model v2 never swapped in")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := testutil.CollectAndCount(f.Metrics().ModelInfo); n != 1 {
		t.Errorf("ml_model_info has %d series after the swap", n)
	}
}

func TestMetricsLint(t *testing.T) {
	f, srv := startFunction(t)
	post(t, srv.URL+"/predict", "application/json", txBody("m1", 1, 10))
	post(t, srv.URL+"/predict", "application/json", `{`)
	if got := testutil.ToFloat64(f.Metrics().Requests.WithLabelValues("POST", "/predict", "200")); got != 1 {
		t.Errorf(`http_requests_total{code="200"} = %v`, got)
	}
	if got := testutil.ToFloat64(f.Metrics().Requests.WithLabelValues("POST", "/predict", "400")); got != 1 {
		t.Errorf(`http_requests_total{code="400"} = %v`, got)
	}
	problems, err := testutil.GatherAndLint(f.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(f.Registry(), "ml_model_predictions_total", "ml_model_prediction_duration_seconds",
		"ml_model_errors_total", "http_requests_total", "http_request_duration_seconds", "ml_model_fraud_probability", "ml_model_info")
	if err != nil || n == 0 {
		t.Errorf("design metrics missing: %d series, %v", n, err)
	}
}

// FuzzPredictBody: whatever /predict receives, decoding fails with a client error or yields valid
// transactions; it never panics.
func FuzzPredictBody(f *testing.F) {
	f.Add([]byte(txBody("a", 1, 10)))
	f.Add([]byte("[" + txBody("a", 1, 10) + "," + txBody("b", 2, 3) + "]"))
	f.Add([]byte(`[{"tranaction_id":1,"tx_datetime":"2018-04-01T00:00:00Z","customer_id":"2","terminal_id":3.0,"tx_amount":"1e2"}]`))
	f.Add([]byte(`[[], null, {}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		txs, _, err := decodeTransactions(body, 5)
		if err != nil {
			if status, _ := events.Classify(err); status >= 500 {
				t.Fatalf("client input classified %d: %v", status, err)
			}
			return
		}
		for i := range txs {
			if err := txs[i].Validate(); err != nil {
				t.Fatalf("decoded an invalid transaction: %v", err)
			}
		}
	})
}
