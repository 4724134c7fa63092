package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"

	fdconfig "function/internal/config"
	"function/internal/kafkaio"
	"function/loadgen/profile"
)

// config is every flag, parsed and validated once.
type config struct {
	phases      []profile.Phase
	target      string // kafka | http
	brokers     []string
	topic       string
	url         string
	cloudEvent  bool
	source      string // "sim" or a dataset file
	seed        uint64
	idPrefix    string
	labelsTopic string
	labels      bool
	labelKey    []byte // LABEL_HMAC_KEY: signs the labels
	wallClock   bool   // tx_datetime is the send time, not the simulator's
	acks        sarama.RequiredAcks
	linger      time.Duration
	idempotent  bool
	retryFor    time.Duration
	maxInFlight int
	httpTimeout time.Duration
	verifyTopic string
	drainIdle   time.Duration
	reportPath  string
	metricsAddr string
	quiet       bool
	maxRuntime  time.Duration
}

const usageText = `loadgen: open-loop load generator for fraud-detector.

Profiles (one of):
  --profile attack    the design's escalating attack 50 → 200 → 500 → 1500 TPS
                      (durations 2m,3m,3m,10m; override with --attack-durations 15s or 15s,15s,15s,15s)
  --profile constant  --rate R --duration D
  --phases 50:2m,200:3m,...  custom phases (rate:duration)

Examples:
  go run ./loadgen --profile constant --rate 500 --duration 30s --brokers 127.0.0.1:19092
  go run ./loadgen --profile attack --attack-durations 15s --verify-topic fraud-predictions
  go run ./loadgen --target http --url http://127.0.0.1:8080/ --format cloudevent --phases 100:10s

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var (
		prof      = fs.String("profile", "", "attack | constant (default: attack, or custom when --phases is given)")
		rate      = fs.Float64("rate", 0, "constant profile: transactions per second")
		duration  = fs.Duration("duration", 0, "constant profile: how long")
		phases    = fs.String("phases", "", "custom phases rate:duration,... (e.g. 50:2m,200:3m)")
		attackDur = fs.String("attack-durations", "", "attack profile: one duration for every phase or four")
		target    = fs.String("target", "kafka", "kafka | http")
		brokers   = fs.String("brokers", envOr("KAFKA_BROKERS", "127.0.0.1:19092"), "Kafka brokers host:port,... (env KAFKA_BROKERS)")
		topic     = fs.String("topic", kafkaio.DefaultInputTopic, "topic transactions are produced to")
		url       = fs.String("url", "", "http target: URL to POST to (/ for CloudEvents, /predict for JSON)")
		format    = fs.String("format", "json", "json (plain transaction JSON, what KafkaSource wraps) | cloudevent (binary fraud.transaction.v1)")
		src       = fs.String("source", "sim", "sim (the seeded handbook simulator) or a dataset CSV file to replay")
		seed      = fs.Uint64("seed", 1, "simulator seed")
		prefix    = fs.String("id-prefix", "", "prefix of every transaction id (default: random per run)")
		clock     = fs.String("clock", "sim", "tx_datetime of each transaction: sim (the source's own, 2018 for the simulator: for a function with EVENT_CLOCK=stream) | wall (the moment it is sent: live traffic, for the default EVENT_CLOCK=wall)")
		labels    = fs.Bool("labels", false, "also send fraud.label.v1 events when simulated time passes the 7-day label delay")
		labelsTop = fs.String("labels-topic", kafkaio.DefaultLabelsTopic, "topic of the label events (kafka target)")
		acks      = fs.String("acks", "all", "Kafka acks: all | 1 | 0")
		linger    = fs.Duration("linger", 0, "Kafka producer linger (0: batch only while a request is in flight)")
		idemp     = fs.Bool("idempotent", true, "Kafka idempotent producer (no duplicates from retries; needs --acks all)")
		retryFor  = fs.Duration("retry-for", 30*time.Second, "Kafka: retry a record this long before counting it as an error")
		inflight  = fs.Int("max-inflight", 2000, "http target: requests open at most; a record finding none free is an error")
		httpTO    = fs.Duration("http-timeout", 10*time.Second, "http target: request timeout")
		verify    = fs.String("verify-topic", "", "read this predictions topic back and report sent/predicted/lost/duplicates (e.g. fraud-predictions)")
		drain     = fs.Duration("drain-timeout", 60*time.Second, "with --verify-topic: stop waiting for predictions after this long without a new one")
		report    = fs.String("report", "", "write the final report as JSON to this file")
		metrics   = fs.String("metrics-addr", "", "serve /metrics on this address (e.g. 127.0.0.1:9102)")
		quiet     = fs.Bool("quiet", false, "no live progress line")
		maxRun    = fs.Duration("max-runtime", 0, "stop after this long whatever the profile (0: no limit)")
	)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c := &config{target: *target, topic: *topic, url: *url, source: *src, seed: *seed, idPrefix: *prefix,
		labels: *labels, labelsTopic: *labelsTop, linger: *linger, idempotent: *idemp, retryFor: *retryFor, maxInFlight: *inflight, httpTimeout: *httpTO,
		verifyTopic: *verify, drainIdle: *drain, reportPath: *report, metricsAddr: *metrics, quiet: *quiet, maxRuntime: *maxRun}
	var err error
	if c.phases, err = choosePhases(*prof, *rate, *duration, *phases, *attackDur); err != nil {
		return nil, err
	}
	switch *clock {
	case "sim":
	case "wall":
		c.wallClock = true
		if c.labels {
			// Labels are released when simulated time passes the label delay: days that a
			// wall-clock run never reaches.
			return nil, errors.New("--labels needs --clock sim")
		}
	default:
		return nil, fmt.Errorf("--clock %q: want sim or wall", *clock)
	}
	switch *format {
	case "json":
	case "cloudevent":
		c.cloudEvent = true
	default:
		return nil, fmt.Errorf("--format %q: want json or cloudevent", *format)
	}
	switch *acks {
	case "all", "-1":
		c.acks = sarama.WaitForAll
	case "1":
		c.acks = sarama.WaitForLocal
	case "0":
		c.acks = sarama.NoResponse
	default:
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", *acks)
	}
	if c.idempotent && c.acks != sarama.WaitForAll {
		return nil, errors.New("--idempotent needs --acks all (or --idempotent=false)")
	}
	needKafka := c.target == "kafka" || c.verifyTopic != ""
	switch c.target {
	case "kafka":
	case "http":
		if !strings.HasPrefix(c.url, "http://") && !strings.HasPrefix(c.url, "https://") {
			return nil, fmt.Errorf("--target http needs --url http://host:port/path, got %q", c.url)
		}
		if c.maxInFlight <= 0 {
			return nil, errors.New("--max-inflight must be positive")
		}
	default:
		return nil, fmt.Errorf("--target %q: want kafka or http", c.target)
	}
	if needKafka {
		if c.brokers, err = kafkaio.ParseBrokers(*brokers); err != nil {
			return nil, fmt.Errorf("--brokers: %w", err)
		}
	}
	if c.labels && c.target == "kafka" && c.labelsTopic == "" {
		return nil, errors.New("--labels needs --labels-topic")
	}
	if c.labels {
		// The function refuses unsigned labels: the load generator signs them as the trusted
		// labelling path does, with the key the function is given.
		key := os.Getenv(fdconfig.EnvLabelHMACKey)
		if len(key) < fdconfig.MinLabelHMACKey {
			return nil, fmt.Errorf("--labels needs %s (the function's key, at least %d bytes): the function refuses unsigned labels",
				fdconfig.EnvLabelHMACKey, fdconfig.MinLabelHMACKey)
		}
		c.labelKey = []byte(key)
	}
	if c.source != "sim" {
		if _, err := os.Stat(c.source); err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		}
	}
	if c.drainIdle <= 0 {
		return nil, errors.New("--drain-timeout must be positive")
	}
	if c.idPrefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.idPrefix = "lg" + hex.EncodeToString(b[:]) + "-"
	}
	return c, nil
}

func choosePhases(prof string, rate float64, duration time.Duration, phases, attackDur string) ([]profile.Phase, error) {
	if prof == "" {
		prof = "attack"
		if phases != "" {
			prof = "custom"
		}
	}
	if phases != "" && prof != "custom" {
		return nil, fmt.Errorf("--phases and --profile %s exclude each other", prof)
	}
	switch prof {
	case "attack":
		ds, err := profile.ParseDurations(attackDur)
		if err != nil {
			return nil, fmt.Errorf("--attack-durations: %w", err)
		}
		ps, err := profile.Attack(ds)
		if err != nil {
			return nil, fmt.Errorf("--profile attack: %w", err)
		}
		return ps, nil
	case "constant":
		if rate == 0 || duration == 0 {
			return nil, errors.New("--profile constant needs --rate and --duration")
		}
		ps, err := profile.Constant(rate, duration)
		if err != nil {
			return nil, fmt.Errorf("--profile constant: %w", err)
		}
		return ps, nil
	case "custom":
		ps, err := profile.Parse(phases)
		if err != nil {
			return nil, fmt.Errorf("--phases: %w", err)
		}
		return ps, nil
	}
	return nil, fmt.Errorf("--profile %q: want attack, constant or custom (--phases)", prof)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
