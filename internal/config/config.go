// Package config is the function's configuration: one struct, read from the environment once at
// start and validated, with every default exported as a constant.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"function/internal/drift"
	"function/internal/features"
	"function/internal/kafkaio"
	"function/internal/registry"
)

// Environment variable names.
const (
	EnvListenAddress     = "LISTEN_ADDRESS"
	EnvModelURI          = "MODEL_URI"
	EnvMLflowTrackingURI = "MLFLOW_TRACKING_URI"
	// MLflow's own clients' credentials, read the same way (token first, else user and password).
	EnvMLflowToken       = "MLFLOW_TRACKING_TOKEN"
	EnvMLflowUsername    = "MLFLOW_TRACKING_USERNAME"
	EnvMLflowPassword    = "MLFLOW_TRACKING_PASSWORD"
	EnvModelPollInterval = "MODEL_POLL_INTERVAL"
	EnvKafkaBrokers      = "KAFKA_BROKERS"
	EnvPredictionsTopic  = "PREDICTIONS_TOPIC"
	EnvFeatureStore      = "FEATURE_STORE"
	EnvFraudThreshold    = "FRAUD_THRESHOLD"
	EnvMaxBatch          = "MAX_BATCH"
	EnvMaxBodyBytes      = "MAX_BODY_BYTES"
	EnvShutdownTimeout   = "SHUTDOWN_TIMEOUT"
	EnvMaxInflight       = "MAX_INFLIGHT"
	EnvMaxBufferedBytes  = "MAX_BUFFERED_BYTES"
	EnvDrainDelay        = "DRAIN_DELAY"
	EnvTransport         = "FUNC_TRANSPORT"
	// The Kafka transport's (FUNC_TRANSPORT=kafka), as Knative Functions' deployer sets them.
	EnvKafkaTopic         = "KAFKA_TOPIC" // comma-separated: transactions and, if wanted, labels
	EnvKafkaConsumerGroup = "KAFKA_CONSUMER_GROUP"
	EnvDeadLetterTopic    = "DEAD_LETTER_TOPIC"
	EnvNamespace          = "NAMESPACE"
	EnvEventClock         = "EVENT_CLOCK"
	EnvEventMaxSkew       = "EVENT_MAX_SKEW"
	EnvEventMaxLateness   = "EVENT_MAX_LATENESS"
	EnvLabelMaxDelay      = "LABEL_MAX_DELAY"
	EnvLabelHMACKey       = "LABEL_HMAC_KEY"
	EnvStateMaxHistories  = "STATE_MAX_HISTORIES"
	EnvDriftWindow        = "DRIFT_WINDOW"
)

// Defaults.
const (
	// DefaultListenAddress is the Knative Functions default (all interfaces, port 8080).
	DefaultListenAddress = "[::]:8080"
	// ModelBuiltin names the model compiled into the binary.
	ModelBuiltin             = "builtin"
	DefaultModelURI          = ModelBuiltin
	DefaultModelPollInterval = 30 * time.Second
	DefaultPredictionsTopic  = kafkaio.DefaultPredictionsTopic
	// DefaultNamespace goes into the source of records the Kafka transport wraps.
	DefaultNamespace = "default"
	// StoreMemory keeps feature state in the process.
	StoreMemory         = "memory"
	DefaultFeatureStore = StoreMemory
	// DefaultMaxBatch bounds the events of a CloudEvents batch and the objects of a /predict array.
	DefaultMaxBatch = 500
	// DefaultMaxBodyBytes bounds a request body: 500 transactions of ~200 bytes fit with room.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultShutdownTimeout is how long SIGTERM waits for in-flight requests (func-go uses 30 s).
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultMaxInflight bounds the scoring requests served at once; more get 503 + Retry-After.
	// At 1,500 TPS over 4 pods a request takes ~1 ms to score but waits for the broker to
	// acknowledge its prediction, which takes up to ~0.6 s when the broker is slow: ~250 in flight
	// per pod. Memory is bounded by MAX_BUFFERED_BYTES, so this bounds goroutines and queueing.
	DefaultMaxInflight = 1024
	// DefaultMaxBufferedBytes bounds the request bodies held in memory at once, all requests
	// together (16 full-size bodies); a body that would pass it gets 503 + Retry-After.
	DefaultMaxBufferedBytes = 16 << 20
	// DefaultDrainDelay is how long after SIGTERM the listener stays open, readiness answering
	// 503, so that whoever routes here (kube-proxy, a load balancer) sees it before connections
	// close: one readiness period of the manifests.
	DefaultDrainDelay = 5 * time.Second
	// TransportHTTP serves CloudEvents over HTTP only (KafkaSource delivers them).
	TransportHTTP = "http"
	// TransportKafka also consumes the input topics in the process, with KafkaSource's semantics.
	TransportKafka = "kafka"
	// DefaultTransport is HTTP.
	DefaultTransport = TransportHTTP

	// ClockWall: the service's notion of now is its wall clock (production: live traffic).
	ClockWall = "wall"
	// ClockStream: now is the stream's own watermark, the latest event time admitted (replays
	// and the simulator, whose data is dated 2018). It trusts the stream's clock: use it only for
	// data you produce.
	ClockStream       = "stream"
	DefaultEventClock = ClockWall
	// DefaultEventMaxSkew is how far ahead of now a transaction or label may be dated on the
	// wall clock: clock drift between terminals, acquirers and this service.
	DefaultEventMaxSkew = 5 * time.Minute
	// DefaultStreamEventMaxSkew applies with EVENT_CLOCK=stream when EVENT_MAX_SKEW is unset:
	// the watermark only moves when events arrive, so a quiet night at one replica of a replay
	// must still pass (it is also the most the bound allows).
	DefaultStreamEventMaxSkew = 24 * time.Hour
	// DefaultEventMaxLateness is how far behind now a transaction may be dated: long enough for
	// a dead letter replayed after a weekend outage, shorter than the 7-day label delay, so that
	// no late transaction lands straight in a terminal's risk window.
	DefaultEventMaxLateness = 72 * time.Hour
	// DefaultLabelMaxDelay is how old a label's transaction may be: 37 days, the horizon of every
	// feature window (features.Horizon); an older label can change no feature.
	DefaultLabelMaxDelay = features.Horizon
	// DefaultStateMaxHistories caps the customers and terminals the in-memory store holds (each
	// about 1 KB with a month of history): 1 M is about 1 GB at worst, 100 MB for the handbook's
	// world. Past it the least recently active go first.
	DefaultStateMaxHistories = features.DefaultMaxHistories
	// DefaultDriftWindow is how many of the latest scored transactions the PSI gauges compare
	// with the training window (internal/drift).
	DefaultDriftWindow = drift.DefaultWindow
)

// Limits on what validation accepts.
const (
	MinModelPollInterval = time.Second
	MaxBatchLimit        = 10_000
	MaxBodyBytesLimit    = 64 << 20
	MaxInflightLimit     = 100_000
	MaxBufferedLimit     = 1 << 30
	MaxDrainDelay        = 5 * time.Minute
	// MaxEventMaxSkew keeps skew far below the 7 days between the 30-day customer windows and
	// the 37-day horizon, so a transaction dated at the edge prunes nothing a window still sees.
	MaxEventMaxSkew = 24 * time.Hour
	// MaxEventMaxLateness is the 7-day label delay: a later transaction would enter a terminal's
	// risk window (transactions at least 7 days old) the moment it arrives.
	MaxEventMaxLateness = features.LabelDelay
	// MinLabelHMACKey is the shortest LABEL_HMAC_KEY accepted (bytes; HMAC-SHA256's block is 64).
	MinLabelHMACKey = 32
)

// MLflowScheme prefixes a registry model URI, as in models:/fraud-detector@champion.
const MLflowScheme = registry.Scheme

// Config is everything the function reads from its environment.
type Config struct {
	ListenAddress     string
	ModelURI          string // "builtin", a bundle directory, or models:/name@alias
	MLflowTrackingURI string
	MLflowToken       string // never logged
	MLflowUsername    string
	MLflowPassword    string        // never logged
	ModelPollInterval time.Duration // how often a non-builtin model source is checked for a new model
	KafkaBrokers      []string      // empty: predictions are not published
	PredictionsTopic  string
	FeatureStore      string  // "memory" or a redis:// URL
	FraudThreshold    float64 // 0: the model's own threshold
	MaxBatch          int
	MaxBodyBytes      int64
	ShutdownTimeout   time.Duration
	MaxInflight       int           // scoring requests served at once
	MaxBufferedBytes  int64         // request body bytes held at once, all requests together
	DrainDelay        time.Duration // SIGTERM to listener close, readiness answering 503
	Transport         string        // "http" or "kafka"
	KafkaTopics       []string      // kafka transport: the topics consumed
	KafkaGroup        string        // kafka transport: the consumer group
	DeadLetterTopic   string        // kafka transport: empty logs and drops what is rejected
	Namespace         string        // kafka transport: in the wrapped events' source
	EventClock        string        // "wall" or "stream": what now is for the event-time bounds
	EventMaxSkew      time.Duration // how far ahead of now an event may be dated
	EventMaxLateness  time.Duration // how far behind now a transaction may be dated
	LabelMaxDelay     time.Duration // how far behind now a label's transaction may be dated
	LabelHMACKey      string        // empty: every fraud.label.v1 is refused; never logged
	StateMaxHistories int           // cap on the in-memory store's customers plus terminals
	DriftWindow       int           // scored transactions the PSI gauges cover
}

// Default is the configuration with no environment set.
func Default() Config {
	return Config{
		ListenAddress:     DefaultListenAddress,
		ModelURI:          DefaultModelURI,
		ModelPollInterval: DefaultModelPollInterval,
		PredictionsTopic:  DefaultPredictionsTopic,
		FeatureStore:      DefaultFeatureStore,
		MaxBatch:          DefaultMaxBatch,
		MaxBodyBytes:      DefaultMaxBodyBytes,
		ShutdownTimeout:   DefaultShutdownTimeout,
		MaxInflight:       DefaultMaxInflight,
		MaxBufferedBytes:  DefaultMaxBufferedBytes,
		DrainDelay:        DefaultDrainDelay,
		Transport:         DefaultTransport,
		KafkaTopics:       []string{kafkaio.DefaultInputTopic},
		KafkaGroup:        kafkaio.DefaultConsumerGroup,
		Namespace:         DefaultNamespace,
		EventClock:        DefaultEventClock,
		EventMaxSkew:      DefaultEventMaxSkew,
		EventMaxLateness:  DefaultEventMaxLateness,
		LabelMaxDelay:     DefaultLabelMaxDelay,
		StateMaxHistories: DefaultStateMaxHistories,
		DriftWindow:       DefaultDriftWindow,
	}
}

// FromEnv reads the configuration through lookup (os.LookupEnv, or a map's lookup for func-go's
// Start) and validates it. Unset or empty variables keep their defaults.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	var errs []error
	if v, ok := get(EnvListenAddress); ok {
		c.ListenAddress = v
	}
	if v, ok := get(EnvModelURI); ok {
		c.ModelURI = v
	}
	if v, ok := get(EnvMLflowTrackingURI); ok {
		c.MLflowTrackingURI = v
	}
	c.MLflowToken, _ = get(EnvMLflowToken)
	c.MLflowUsername, _ = get(EnvMLflowUsername)
	c.MLflowPassword, _ = lookup(EnvMLflowPassword) // a password is taken as given, spaces included
	if v, ok := get(EnvModelPollInterval); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a duration such as 30s", EnvModelPollInterval, v))
		}
		c.ModelPollInterval = d
	}
	if v, ok := get(EnvKafkaBrokers); ok {
		bs, err := kafkaio.ParseBrokers(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvKafkaBrokers, err))
		}
		c.KafkaBrokers = bs
	}
	if v, ok := get(EnvPredictionsTopic); ok {
		c.PredictionsTopic = v
	}
	if v, ok := get(EnvFeatureStore); ok {
		c.FeatureStore = v
	}
	if v, ok := get(EnvFraudThreshold); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a number", EnvFraudThreshold, v))
		}
		c.FraudThreshold = f
	}
	if v, ok := get(EnvMaxBatch); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvMaxBatch, v))
		}
		c.MaxBatch = n
	}
	if v, ok := get(EnvMaxBodyBytes); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvMaxBodyBytes, v))
		}
		c.MaxBodyBytes = n
	}
	if v, ok := get(EnvShutdownTimeout); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a duration such as 30s", EnvShutdownTimeout, v))
		}
		c.ShutdownTimeout = d
	}
	if v, ok := get(EnvMaxInflight); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvMaxInflight, v))
		}
		c.MaxInflight = n
	}
	if v, ok := get(EnvMaxBufferedBytes); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvMaxBufferedBytes, v))
		}
		c.MaxBufferedBytes = n
	}
	if v, ok := get(EnvDrainDelay); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a duration such as 5s", EnvDrainDelay, v))
		}
		c.DrainDelay = d
	}
	if v, ok := get(EnvTransport); ok {
		c.Transport = v
	}
	if v, ok := get(EnvKafkaTopic); ok {
		c.KafkaTopics = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.KafkaTopics = append(c.KafkaTopics, t)
			}
		}
	}
	if v, ok := get(EnvKafkaConsumerGroup); ok {
		c.KafkaGroup = v
	}
	c.DeadLetterTopic, _ = get(EnvDeadLetterTopic)
	if v, ok := get(EnvNamespace); ok {
		c.Namespace = v
	}
	if v, ok := get(EnvEventClock); ok {
		c.EventClock = v
	}
	duration := func(name string, dst *time.Duration) bool {
		v, ok := get(name)
		if !ok {
			return false
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a duration such as 5m", name, v))
		}
		*dst = d
		return true
	}
	if !duration(EnvEventMaxSkew, &c.EventMaxSkew) && c.EventClock == ClockStream {
		c.EventMaxSkew = DefaultStreamEventMaxSkew
	}
	duration(EnvEventMaxLateness, &c.EventMaxLateness)
	duration(EnvLabelMaxDelay, &c.LabelMaxDelay)
	if v, ok := lookup(EnvLabelHMACKey); ok {
		c.LabelHMACKey = v // not trimmed: the key is bytes
	}
	if v, ok := get(EnvStateMaxHistories); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvStateMaxHistories, v))
		}
		c.StateMaxHistories = n
	}
	if v, ok := get(EnvDriftWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", EnvDriftWindow, v))
		}
		c.DriftWindow = n
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// topicName is Kafka's legal topic alphabet and length.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Validate reports every impossible setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, port, err := net.SplitHostPort(c.ListenAddress); err != nil {
		bad("%s=%q: want host:port: %v", EnvListenAddress, c.ListenAddress, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("%s=%q: port %q is not a number 0-65535", EnvListenAddress, c.ListenAddress, port)
	}
	switch {
	case c.ModelURI == "":
		bad("%s is empty: use %q, a model directory or %sname@alias", EnvModelURI, ModelBuiltin, MLflowScheme)
	case strings.HasPrefix(c.ModelURI, MLflowScheme):
		// One parser of models:/ URIs: the registry client's, which serves it.
		if _, err := registry.ParseURI(c.ModelURI); err != nil {
			bad("%s=%q: want %sname@alias", EnvModelURI, c.ModelURI, MLflowScheme)
		}
		if c.MLflowTrackingURI == "" {
			bad("%s=%q needs %s", EnvModelURI, c.ModelURI, EnvMLflowTrackingURI)
		}
	}
	if c.MLflowTrackingURI != "" {
		if u, err := url.Parse(c.MLflowTrackingURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s=%q: want an http(s) URL", EnvMLflowTrackingURI, RedactStore(c.MLflowTrackingURI))
		}
	}
	if c.ModelPollInterval < MinModelPollInterval {
		bad("%s=%v: must be at least %v", EnvModelPollInterval, c.ModelPollInterval, MinModelPollInterval)
	}
	for _, b := range c.KafkaBrokers {
		if err := kafkaio.CheckBroker(b); err != nil {
			bad("%s: %v", EnvKafkaBrokers, err)
		}
	}
	if !topicName.MatchString(c.PredictionsTopic) {
		bad("%s=%q: not a legal Kafka topic name", EnvPredictionsTopic, c.PredictionsTopic)
	}
	if c.FeatureStore != StoreMemory {
		u, err := url.Parse(c.FeatureStore)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("%s=%q: want %q or a redis://host:port URL", EnvFeatureStore, RedactStore(c.FeatureStore), StoreMemory)
		}
	}
	if c.FraudThreshold != 0 && !(c.FraudThreshold > 0 && c.FraudThreshold < 1) {
		bad("%s=%v: must be in (0, 1), or unset for the model's own", EnvFraudThreshold, c.FraudThreshold)
	}
	if c.MaxBatch < 1 || c.MaxBatch > MaxBatchLimit {
		bad("%s=%d: must be 1-%d", EnvMaxBatch, c.MaxBatch, MaxBatchLimit)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > MaxBodyBytesLimit {
		bad("%s=%d: must be 1024-%d", EnvMaxBodyBytes, c.MaxBodyBytes, MaxBodyBytesLimit)
	}
	if c.ShutdownTimeout <= 0 {
		bad("%s=%v: must be positive", EnvShutdownTimeout, c.ShutdownTimeout)
	}
	if c.MaxInflight < 1 || c.MaxInflight > MaxInflightLimit {
		bad("%s=%d: must be 1-%d", EnvMaxInflight, c.MaxInflight, MaxInflightLimit)
	}
	if c.MaxBufferedBytes < c.MaxBodyBytes || c.MaxBufferedBytes > MaxBufferedLimit {
		bad("%s=%d: must be at least %s (%d, one full body) and at most %d", EnvMaxBufferedBytes,
			c.MaxBufferedBytes, EnvMaxBodyBytes, c.MaxBodyBytes, int64(MaxBufferedLimit))
	}
	if c.DrainDelay < 0 || c.DrainDelay > MaxDrainDelay {
		bad("%s=%v: must be 0-%v", EnvDrainDelay, c.DrainDelay, MaxDrainDelay)
	}
	switch c.Transport {
	case TransportHTTP:
	case TransportKafka:
		if len(c.KafkaBrokers) == 0 {
			bad("%s=%s needs %s", EnvTransport, TransportKafka, EnvKafkaBrokers)
		}
		if len(c.KafkaTopics) == 0 {
			bad("%s=%s needs at least one topic in %s", EnvTransport, TransportKafka, EnvKafkaTopic)
		}
	default:
		bad("%s=%q: want %q or %q", EnvTransport, c.Transport, TransportHTTP, TransportKafka)
	}
	if c.EventClock != ClockWall && c.EventClock != ClockStream {
		bad("%s=%q: want %q or %q", EnvEventClock, c.EventClock, ClockWall, ClockStream)
	}
	if c.EventMaxSkew < time.Second || c.EventMaxSkew > MaxEventMaxSkew {
		bad("%s=%v: must be 1s-%v", EnvEventMaxSkew, c.EventMaxSkew, MaxEventMaxSkew)
	}
	if c.EventMaxLateness < time.Second || c.EventMaxLateness >= MaxEventMaxLateness {
		bad("%s=%v: must be at least 1s and under %v (the label delay)", EnvEventMaxLateness, c.EventMaxLateness, MaxEventMaxLateness)
	}
	if c.LabelMaxDelay < time.Second || c.LabelMaxDelay > DefaultLabelMaxDelay {
		bad("%s=%v: must be 1s-%v (the feature horizon)", EnvLabelMaxDelay, c.LabelMaxDelay, DefaultLabelMaxDelay)
	}
	if c.LabelHMACKey != "" && len(c.LabelHMACKey) < MinLabelHMACKey {
		bad("%s: %d bytes, must be at least %d (e.g. openssl rand -hex 32)", EnvLabelHMACKey, len(c.LabelHMACKey), MinLabelHMACKey)
	}
	if c.StateMaxHistories < 1 {
		bad("%s=%d: must be positive", EnvStateMaxHistories, c.StateMaxHistories)
	}
	if c.DriftWindow < drift.DefaultSegments {
		bad("%s=%d: must be at least %d (one transaction per segment)", EnvDriftWindow, c.DriftWindow, drift.DefaultSegments)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// RedactStore shows a URL setting (FEATURE_STORE, MLFLOW_TRACKING_URI) without the password it may carry: a URL's password
// masked, a value without credentials (such as "memory") as it is, and a value whose credentials
// cannot be told apart (it does not parse, or has an '@' outside a URL's user part) as a
// placeholder.
func RedactStore(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "(unparseable URL)"
	case u.User != nil:
		return u.Redacted()
	case strings.Contains(s, "@"):
		return "(URL with credentials)"
	}
	return s
}

// MapLookup adapts a map (func-go passes env and ./cfg entries as one) to FromEnv.
func MapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}
