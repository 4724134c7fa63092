// Command bench-peers drives the function and the Python model servers users would pick instead
// (FastAPI around Booster.predict, Seldon MLServer, MLflow's models serve), all loaded with the
// same built-in model.txt, with the same requests from one Go client, in alternating rounds, and
// prints a table and, last, the ratio line (make bench-peers):
//
//	bench-peers: fastest_peer=NAME single_cpu_ratio=X batch_rows_per_core_ratio=Y
//
// single_cpu_ratio is the fastest peer's server CPU per single-row request over ours (/predict:
// features from state and the model); batch_rows_per_core_ratio is our rows per second per core
// of server CPU on 100-row OIP infer requests (the model alone, as the peers do) over the peer's.
// Every response is checked: the peers' probabilities against our model's within 1e-6, ours
// within 1e-9.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"function/function/peers"
	"function/internal/features"
	"function/internal/model"
	"function/internal/simulate"
	"function/internal/txn"
)

const batchRows = 100

// bareName is the bare net/http handler's row in the table.
const bareName = "net/http ceiling"

type options struct {
	fn, modelTxt, work                string
	fastapi, mlserver, mlflow, source string
	rounds, workers                   int
	round, rateFor                    time.Duration
	singleRate, batchRate             int
}

// bareEnv makes this binary the net/http ceiling: a handler that reads the body and answers a
// constant JSON of a prediction's size (on /) or of a 100-row OIP infer reply's (on /batch),
// measured beside the others as the floor of any Go server here.
const bareEnv = "BENCH_PEERS_BARE_ADDR"

func serveBare(addr string) error {
	single := []byte(`{"transaction_id":"1","customer_id":596,"terminal_id":3156,"tx_datetime":"2018-04-01 00:00:31","tx_amount":57.16,"fraud_probability":0.01,"is_fraud":false,"threshold":0.5,"model_name":"fraud-detector","model_version":"bootstrap","scored_at":"2026-11-26T12:00:00Z"}` + "\n")
	batch := bareBatchReply(batchRows)
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/batch" {
			_, _ = w.Write(batch)
			return
		}
		_, _ = w.Write(single)
	}))
}

// bareBatchReply is an OIP infer reply of rows probabilities and decisions, as long as ours.
func bareBatchReply(rows int) []byte {
	b := []byte(`{"model_name":"fraud-detector","model_version":"bootstrap","id":"bench","outputs":[{"name":"fraud_probability","datatype":"FP64","shape":[` + strconv.Itoa(rows) + `],"data":[`)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, 0.0123456789012345+float64(i)*1e-6, 'g', -1, 64)
	}
	b = append(b, `]},{"name":"is_fraud","datatype":"BOOL","shape":[`+strconv.Itoa(rows)+`],"data":[`...)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "false"...)
	}
	return append(b, "]}]}\n"...)
}

func main() {
	if addr := os.Getenv(bareEnv); addr != "" {
		fmt.Fprintln(os.Stderr, serveBare(addr))
		os.Exit(1)
	}
	var o options
	flag.StringVar(&o.fn, "function", "", "the function's binary")
	flag.StringVar(&o.modelTxt, "model", "internal/model/builtin/model.txt", "the LightGBM model every server loads")
	flag.StringVar(&o.source, "source", "function/peers", "folder of the peers' Python files")
	flag.StringVar(&o.fastapi, "fastapi-venv", "", "venv of the FastAPI peer (empty: skip it)")
	flag.StringVar(&o.mlserver, "mlserver-venv", "", "venv of the MLServer peer (empty: skip it)")
	flag.StringVar(&o.mlflow, "mlflow-venv", "", "venv of the MLflow peer (empty: skip it)")
	flag.StringVar(&o.work, "work", "", "scratch folder (default: a new temporary one)")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds at saturation (medians are reported)")
	flag.DurationVar(&o.round, "round", 3*time.Second, "length of one target's turn in a round")
	flag.IntVar(&o.workers, "workers", 16, "closed-loop clients at saturation")
	flag.IntVar(&o.singleRate, "single-rate", 50, "fixed rate of single-row requests per second (p50/p99)")
	flag.IntVar(&o.batchRate, "batch-rate", 20, "fixed rate of 100-row requests per second (p50/p99)")
	flag.DurationVar(&o.rateFor, "rate-for", 4*time.Second, "length of each fixed-rate run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

// fixture is what every server is sent: feature vectors from the simulator and the feature
// pipeline (rounded to FP32, so that a server reading FP32 sees the very values ours reads), our
// model's probability for each, and transactions for /predict.
type fixture struct {
	vecs  []features.Vector
	probs []float64
}

func newFixture(ctx context.Context, m *model.Model, n int) (*fixture, error) {
	cfg := simulate.DefaultConfig(3)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		return nil, err
	}
	rep := features.NewReplayer(features.NewMemory())
	fx := &fixture{}
	// Skip the first month: its histories are still filling.
	for i := 0; len(fx.vecs) < n; i++ {
		tx, ok := sim.Next()
		if !ok {
			return nil, errors.New("simulator ended")
		}
		var v features.Vector
		if err := rep.Next(ctx, &tx, &v); err != nil {
			return nil, err
		}
		if i < 100_000 || i%7 != 0 {
			continue
		}
		for j := range v {
			v[j] = float64(float32(v[j]))
		}
		fx.vecs = append(fx.vecs, v)
		fx.probs = append(fx.probs, m.Probability(&v))
	}
	return fx, nil
}

// body is one request's bytes and the probabilities its answer must carry.
type body struct {
	b     []byte
	probs []float64
}

func appendRow(b []byte, v *features.Vector) []byte {
	for j, x := range v {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 64) // exact: x is an FP32 value
	}
	return b
}

// oipBodies are infer requests of rows rows each, over the fixture.
func (fx *fixture) oipBodies(rows int) []body {
	var out []body
	for at := 0; at+rows <= len(fx.vecs); at += rows {
		b := []byte(`{"id":"bench","inputs":[{"name":"features","datatype":"FP32","shape":[` + strconv.Itoa(rows) + `,` + strconv.Itoa(features.Count) + `],"data":[`)
		for i := at; i < at+rows; i++ {
			if i > at {
				b = append(b, ',')
			}
			b = appendRow(b, &fx.vecs[i])
		}
		out = append(out, body{append(b, `]}]}`...), fx.probs[at : at+rows]})
	}
	return out
}

// mlflowBodies are /invocations requests (the "inputs" form: a list of rows).
func (fx *fixture) mlflowBodies(rows int) []body {
	var out []body
	for at := 0; at+rows <= len(fx.vecs); at += rows {
		b := []byte(`{"inputs":[`)
		for i := at; i < at+rows; i++ {
			if i > at {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendRow(b, &fx.vecs[i])
			b = append(b, ']')
		}
		out = append(out, body{append(b, `]}`...), fx.probs[at : at+rows]})
	}
	return out
}

// checkProbs compares the probabilities an answer carries with ours.
func checkProbs(got []float64, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d probabilities, want %d", len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			return fmt.Errorf("row %d: probability %v, our model says %v (tolerance %g)", i, got[i], want[i], tol)
		}
	}
	return nil
}

// numbersIn flattens a JSON array of numbers, nested at any depth (MLServer answers [N, 1]).
func numbersIn(raw json.RawMessage) ([]float64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var out []float64
	var walk func(any) error
	walk = func(x any) error {
		switch x := x.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("not a number: %v", x)
		}
		return nil
	}
	return out, walk(v)
}

// oipCheck checks an infer answer: its first output holds the probabilities.
func oipCheck(want []float64, tol float64) func(int, []byte) error {
	return func(status int, b []byte) error {
		if status != 200 {
			return fmt.Errorf("status %d: %.300s", status, b)
		}
		var resp struct {
			Outputs []struct {
				Data json.RawMessage `json:"data"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(b, &resp); err != nil || len(resp.Outputs) == 0 {
			return fmt.Errorf("not an infer answer (%v): %.300s", err, b)
		}
		got, err := numbersIn(resp.Outputs[0].Data)
		if err != nil {
			return err
		}
		return checkProbs(got, want, tol)
	}
}

func mlflowCheck(want []float64) func(int, []byte) error {
	return func(status int, b []byte) error {
		if status != 200 {
			return fmt.Errorf("status %d: %.300s", status, b)
		}
		var resp struct {
			Predictions json.RawMessage `json:"predictions"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			return fmt.Errorf("not an MLflow answer (%v): %.300s", err, b)
		}
		got, err := numbersIn(resp.Predictions)
		if err != nil {
			return err
		}
		return checkProbs(got, want, 1e-6)
	}
}

// transactions feeds /predict: simulated transactions in time order, each sent once (the event
// clock refuses the far past, and the state would see a resent id as a retry).
type transactions struct {
	mu  sync.Mutex
	sim *simulate.Simulator
	n   int
}

func (t *transactions) next(rows int) (b []byte, ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rows > 1 {
		b = append(b, '[')
	}
	for i := range rows {
		tx, ok := t.sim.Next()
		if !ok {
			panic("simulator ended")
		}
		t.n++
		tx.ID = "b" + strconv.Itoa(t.n)
		if i > 0 {
			b = append(b, ',')
		}
		b = txn.AppendJSON(b, &tx)
		ids = append(ids, tx.ID)
	}
	if rows > 1 {
		b = append(b, ']')
	}
	return b, ids
}

func predictCheck(ids []string) func(int, []byte) error {
	return func(status int, b []byte) error {
		if status != 200 {
			return fmt.Errorf("status %d: %.300s", status, b)
		}
		type pred struct {
			TransactionID    string  `json:"transaction_id"`
			FraudProbability float64 `json:"fraud_probability"`
			IsFraud          bool    `json:"is_fraud"`
			Threshold        float64 `json:"threshold"`
		}
		var ps []pred
		if len(ids) == 1 {
			var p pred
			if err := json.Unmarshal(b, &p); err != nil {
				return err
			}
			ps = []pred{p}
		} else if err := json.Unmarshal(b, &ps); err != nil {
			return err
		}
		if len(ps) != len(ids) {
			return fmt.Errorf("%d predictions for %d transactions", len(ps), len(ids))
		}
		for i, p := range ps {
			if p.TransactionID != ids[i] || !(p.FraudProbability >= 0 && p.FraudProbability <= 1) || p.IsFraud != (p.FraudProbability >= p.Threshold) {
				return fmt.Errorf("prediction %d: %+v for %s", i, p, ids[i])
			}
		}
		return nil
	}
}

// target is one (server, request kind) under test.
type target struct {
	peers.Target
	server *peers.Server
	kind   string // "single" or "batch100"
	route  string
	ours   bool
	sat    []peers.Result
	rate   peers.Result
}

func fromPool(pool []body, check func(want []float64) func(int, []byte) error) func(int) peers.Request {
	return func(i int) peers.Request {
		b := pool[i%len(pool)]
		return peers.Request{Body: b.b, Check: check(b.probs)}
	}
}

func run(ctx context.Context, o options) error {
	if o.fn == "" {
		return errors.New("-function is required")
	}
	m, err := model.Builtin()
	if err != nil {
		return err
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "bench-peers-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.work)
	}
	modelTxt, err := filepath.Abs(o.modelTxt)
	if err != nil {
		return err
	}
	source, err := filepath.Abs(o.source)
	if err != nil {
		return err
	}
	fx, err := newFixture(ctx, m, 20_000)
	if err != nil {
		return err
	}
	var alone modelAlone
	if o.fastapi != "" {
		if alone, err = measureModelAlone(m, fx, o, source, modelTxt); err != nil {
			return err
		}
	}
	oip1, oip100 := fx.oipBodies(1), fx.oipBodies(batchRows)
	mlf1, mlf100 := fx.mlflowBodies(1), fx.mlflowBodies(batchRows)
	cfg := simulate.DefaultConfig(5)
	cfg.Days = 0
	sim, err := simulate.New(cfg)
	if err != nil {
		return err
	}
	txs := &transactions{sim: sim}

	var servers []*peers.Server
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	start := func(name, version, dir string, env []string, ready string, argv func(port int) []string) (*peers.Server, error) {
		port, err := peers.FreePort()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "bench-peers: starting %s\n", name)
		s, err := peers.Start(ctx, name, version, dir, filepath.Join(o.work, strings.NewReplacer("/", "-", " ", "-").Replace(name)+".log"), env, port, ready, argv(port)...)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
		return s, nil
	}
	// One OpenMP thread: LightGBM's default of one per core costs a single-row predict more CPU
	// (0.64 → 1.6 ms in FastAPI when measured here), so each peer runs at its best setting.
	pyEnv := []string{"OMP_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1"}

	var tgs []*target
	add := func(s *peers.Server, kind, route, ct string, rows int, ours bool, next func(int) peers.Request) {
		tgs = append(tgs, &target{Target: peers.Target{Name: s.Name + " " + route + " " + kind, URL: s.Base + route, ContentType: ct,
			PID: s.PID(), Rows: rows, Next: next}, server: s, kind: kind, route: route, ours: ours})
	}

	ours, err := start("fraud-detector", "this branch", o.work, nil, "/health/readiness", func(port int) []string {
		// The function reads its address from LISTEN_ADDRESS: env(1) puts it there.
		return []string{"env", "LISTEN_ADDRESS=127.0.0.1:" + strconv.Itoa(port), "EVENT_CLOCK=stream", "MAX_BATCH=500", o.fn}
	})
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := start(bareName, runtime.Version(), o.work, nil, "/", func(port int) []string {
		return []string{"env", bareEnv + "=127.0.0.1:" + strconv.Itoa(port), self}
	})
	if err != nil {
		return err
	}
	add(bare, "single", "/", "application/json", 1, true, func(int) peers.Request { return peers.Request{Body: oip1[0].b} })
	add(bare, "batch100", "/batch", "application/json", batchRows, true, func(int) peers.Request { return peers.Request{Body: oip100[0].b} })
	add(ours, "single", "/predict", "application/json", 1, true, func(int) peers.Request {
		b, ids := txs.next(1)
		return peers.Request{Body: b, Check: predictCheck(ids)}
	})
	add(ours, "single", "/v2/models/fraud-detector/infer", "application/json", 1, true, fromPool(oip1, func(w []float64) func(int, []byte) error { return oipCheck(w, 1e-9) }))
	add(ours, "batch100", "/predict", "application/json", batchRows, true, func(int) peers.Request {
		b, ids := txs.next(batchRows)
		return peers.Request{Body: b, Check: predictCheck(ids)}
	})
	add(ours, "batch100", "/v2/models/fraud-detector/infer", "application/json", batchRows, true, fromPool(oip100, func(w []float64) func(int, []byte) error { return oipCheck(w, 1e-9) }))

	peerCheck := func(w []float64) func(int, []byte) error { return oipCheck(w, 1e-6) }
	if o.fastapi != "" {
		s, err := start("fastapi", pipVersion(o.fastapi, "fastapi", "uvicorn", "lightgbm"), source,
			append(pyEnv, "MODEL_FILE="+modelTxt), "/v2/health/ready", func(port int) []string {
				return []string{filepath.Join(o.fastapi, "bin", "uvicorn"), "fastapi_app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
					"--no-access-log", "--log-level", "warning"}
			})
		if err != nil {
			return err
		}
		add(s, "single", "/v2/models/fraud-detector/infer", "application/json", 1, false, fromPool(oip1, peerCheck))
		add(s, "batch100", "/v2/models/fraud-detector/infer", "application/json", batchRows, false, fromPool(oip100, peerCheck))
	}
	if o.mlserver != "" {
		dir := filepath.Join(o.work, "mlserver")
		if err := writeMLServer(dir, modelTxt); err != nil {
			return err
		}
		grpc, err := peers.FreePort()
		if err != nil {
			return err
		}
		metrics, err := peers.FreePort()
		if err != nil {
			return err
		}
		s, err := start("mlserver", pipVersion(o.mlserver, "mlserver", "mlserver-lightgbm", "lightgbm"), dir,
			append(pyEnv, "MLSERVER_GRPC_PORT="+strconv.Itoa(grpc), "MLSERVER_METRICS_PORT="+strconv.Itoa(metrics)),
			"/v2/models/fraud-detector/ready", func(port int) []string {
				return []string{"env", "MLSERVER_HTTP_PORT=" + strconv.Itoa(port), filepath.Join(o.mlserver, "bin", "mlserver"), "start", dir}
			})
		if err != nil {
			return err
		}
		add(s, "single", "/v2/models/fraud-detector/infer", "application/json", 1, false, fromPool(oip1, peerCheck))
		add(s, "batch100", "/v2/models/fraud-detector/infer", "application/json", batchRows, false, fromPool(oip100, peerCheck))
	}
	if o.mlflow != "" {
		dir := filepath.Join(o.work, "mlflow-model")
		py := filepath.Join(o.mlflow, "bin", "python")
		if out, err := command(py, filepath.Join(source, "mlflow_model.py"), modelTxt, dir); err != nil {
			return fmt.Errorf("mlflow model: %v: %s", err, out)
		}
		// models serve runs `exec uvicorn` through a shell: the venv's bin must be on PATH.
		env := append(pyEnv, "PATH="+filepath.Join(o.mlflow, "bin")+":"+os.Getenv("PATH"))
		s, err := start("mlflow", pipVersion(o.mlflow, "mlflow", "lightgbm"), o.work, env, "/ping", func(port int) []string {
			return []string{filepath.Join(o.mlflow, "bin", "mlflow"), "models", "serve", "-m", dir, "--env-manager", "local",
				"-h", "127.0.0.1", "-p", strconv.Itoa(port)}
		})
		if err != nil {
			return err
		}
		add(s, "single", "/invocations", "application/json", 1, false, fromPool(mlf1, mlflowCheck))
		add(s, "batch100", "/invocations", "application/json", batchRows, false, fromPool(mlf100, mlflowCheck))
	}
	var next atomic.Int64
	fmt.Fprintf(os.Stderr, "bench-peers: %d targets, %d rounds of %v each at saturation (%d clients)\n", len(tgs), o.rounds, o.round, o.workers)
	for r := range o.rounds {
		for _, tg := range tgs {
			res, err := peers.Saturate(ctx, &tg.Target, o.workers, o.round, 5, &next)
			if err != nil {
				return err
			}
			tg.sat = append(tg.sat, res)
			fmt.Fprintf(os.Stderr, "  round %d %-58s %9.0f req/s  %8.1f µs CPU/req\n", r+1, tg.Name, res.RPS(), us(res.CPUPerRequest()))
		}
	}
	for _, tg := range tgs {
		rate := o.singleRate
		if tg.kind != "single" {
			rate = o.batchRate
		}
		if tg.rate, err = peers.FixedRate(ctx, &tg.Target, rate, o.rateFor, &next); err != nil {
			return err
		}
	}
	report(o, tgs, alone)
	return nil
}

// modelAlone is the model's CPU per row on batchRows-row batches of the fixture, in process and
// on one thread, with no HTTP or JSON: LightGBM's own Booster.predict (in the FastAPI peer's
// venv, through lightgbm_cost.py) and ours (Model.ProbabilityBatch), measured one after the
// other before any server starts.
type modelAlone struct{ lightgbm, ours time.Duration }

func measureModelAlone(m *model.Model, fx *fixture, o options, source, modelTxt string) (modelAlone, error) {
	var csv []byte
	for i := range fx.vecs {
		csv = append(appendRow(csv, &fx.vecs[i]), '\n')
	}
	rows := filepath.Join(o.work, "rows.csv")
	if err := os.WriteFile(rows, csv, 0o644); err != nil {
		return modelAlone{}, err
	}
	cmd := exec.Command(filepath.Join(o.fastapi, "bin", "python"), filepath.Join(source, "lightgbm_cost.py"), modelTxt, rows, strconv.Itoa(batchRows))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return modelAlone{}, fmt.Errorf("lightgbm_cost.py: %v: %s", err, out)
	}
	ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return modelAlone{}, fmt.Errorf("lightgbm_cost.py printed %q", out)
	}
	probs := make([]float64, batchRows)
	n := 0
	cpu0, wall0 := processCPU(), time.Now()
	for time.Since(wall0) < time.Second {
		for at := 0; at+batchRows <= len(fx.vecs); at += batchRows {
			m.ProbabilityBatch(fx.vecs[at:at+batchRows], probs)
			n += batchRows
		}
	}
	return modelAlone{lightgbm: time.Duration(ns), ours: (processCPU() - cpu0) / time.Duration(n)}, nil
}

// processCPU is this process's user and system CPU so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeMLServer(dir, modelTxt string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// MLServer's tuned settings: no per-request debug log line, inference in the server process
	// (parallel_workers 0: no hop to a worker process per request).
	settings := map[string]any{"debug": false, "parallel_workers": 0, "host": "127.0.0.1"}
	ms := map[string]any{"name": "fraud-detector", "implementation": "mlserver_lightgbm.LightGBMModel",
		"parameters": map[string]any{"uri": modelTxt, "version": "builtin"}}
	for name, v := range map[string]any{"settings.json": settings, "model-settings.json": ms} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func median(rs []peers.Result, f func(peers.Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// stats of one target: medians over rounds.
type stats struct {
	rps, cpuUS, rowsPerCore float64
}

func statsOf(tg *target) stats {
	return stats{
		rps:   median(tg.sat, peers.Result.RPS),
		cpuUS: median(tg.sat, func(r peers.Result) float64 { return us(r.CPUPerRequest()) }),
		rowsPerCore: median(tg.sat, func(r peers.Result) float64 {
			if r.CPU <= 0 {
				return math.Inf(1)
			}
			return float64(r.Requests*tg.Rows) / r.CPU.Seconds()
		}),
	}
}

func report(o options, tgs []*target, alone modelAlone) {
	host, _ := os.Hostname()
	fmt.Printf("\nbench-peers %s, %s, %d cores (GOMAXPROCS %d), host %s; %d alternating rounds of %v at saturation (%d keep-alive clients), medians; fixed rate: %d single / %d batch req/s for %v\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), host,
		o.rounds, o.round, o.workers, o.singleRate, o.batchRate, o.rateFor)
	fmt.Println("| server (version) | route | rows/req | req/s | rows/s | server CPU/req | server CPU/row | rows/s per core | p50 | p99 at fixed rate |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, tg := range tgs {
		s := statsOf(tg)
		fmt.Printf("| %s (%s) | %s | %d | %.0f | %.0f | %.1f µs | %.2f µs | %.0f | %.2f ms | %.2f ms |\n",
			tg.server.Name, tg.server.Version, tg.route, tg.Rows, s.rps, s.rps*float64(tg.Rows), s.cpuUS, s.cpuUS/float64(tg.Rows),
			s.rowsPerCore, ms(tg.rate.Quantile(.5)), ms(tg.rate.Quantile(.99)))
	}
	// Ours: /predict for single rows (features and model), OIP infer for batches (the model
	// alone, as the peers). The fastest peer is the one with the least CPU per single request.
	var oursSingle, oursBatch, bareSingle, bareBatch stats
	var fastest string
	var peerSingle, peerBatch stats
	for _, tg := range tgs {
		s := statsOf(tg)
		switch {
		case tg.server.Name == bareName && tg.kind == "single":
			bareSingle = s
		case tg.server.Name == bareName:
			bareBatch = s
		case tg.ours && tg.kind == "single" && tg.route == "/predict":
			oursSingle = s
		case tg.ours && tg.kind == "batch100" && strings.HasPrefix(tg.route, "/v2/"):
			oursBatch = s
		case !tg.ours && tg.kind == "single" && (fastest == "" || s.cpuUS < peerSingle.cpuUS):
			fastest, peerSingle = tg.server.Name, s
		}
	}
	for _, tg := range tgs {
		if !tg.ours && tg.kind == "batch100" && tg.server.Name == fastest {
			peerBatch = statsOf(tg)
		}
	}
	if fastest == "" {
		fmt.Println("\nbench-peers: no peer ran")
		return
	}
	if alone.ours > 0 {
		fmt.Printf("\nbench-peers model alone (%d-row batches, in process, one thread, CPU per row): lightgbm Booster.predict %d ns, ours %d ns (%.1fx)",
			batchRows, alone.lightgbm.Nanoseconds(), alone.ours.Nanoseconds(), float64(alone.lightgbm)/float64(alone.ours))
	}
	// The most any net/http server could show here: the bare handler's ratios, which decode,
	// score and encode nothing.
	fmt.Printf("\nbench-peers ceiling (the bare net/http handler in ours' place): single_cpu_ratio=%.1f batch_rows_per_core_ratio=%.1f\n",
		peerSingle.cpuUS/bareSingle.cpuUS, bareBatch.rowsPerCore/peerBatch.rowsPerCore)
	fmt.Printf("bench-peers: fastest_peer=%s single_cpu_ratio=%.1f batch_rows_per_core_ratio=%.1f\n",
		fastest, peerSingle.cpuUS/oursSingle.cpuUS, oursBatch.rowsPerCore/peerBatch.rowsPerCore)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pipVersion names the versions of pkgs installed in venv.
func pipVersion(venv string, pkgs ...string) string {
	args := append([]string{"-c", "import importlib.metadata as m, sys; print(', '.join(p + ' ' + m.version(p) for p in sys.argv[1:]))"}, pkgs...)
	out, err := command(filepath.Join(venv, "bin", "python"), args...)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(out)
}

func command(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
