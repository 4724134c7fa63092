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
)

// Environment variable names.
const (
	EnvListenAddress     = "LISTEN_ADDRESS"
	EnvModelURI          = "MODEL_URI"
	EnvMLflowTrackingURI = "MLFLOW_TRACKING_URI"
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
)

// Defaults.
const (
	// DefaultListenAddress is the Knative Functions default (all interfaces, port 8080).
	DefaultListenAddress = "[::]:8080"
	// ModelBuiltin names the model compiled into the binary.
	ModelBuiltin             = "builtin"
	DefaultModelURI          = ModelBuiltin
	DefaultModelPollInterval = 30 * time.Second
	DefaultPredictionsTopic  = "fraud-predictions"
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
)

// Limits on what validation accepts.
const (
	MinModelPollInterval = time.Second
	MaxBatchLimit        = 10_000
	MaxBodyBytesLimit    = 64 << 20
	MaxInflightLimit     = 100_000
	MaxBufferedLimit     = 1 << 30
	MaxDrainDelay        = 5 * time.Minute
)

// MLflowScheme prefixes a registry model URI, as in models:/fraud-detector@champion.
const MLflowScheme = "models:/"

// Config is everything the function reads from its environment.
type Config struct {
	ListenAddress     string
	ModelURI          string // "builtin", a bundle directory, or models:/name@alias
	MLflowTrackingURI string
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
	if v, ok := get(EnvModelPollInterval); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a duration such as 30s", EnvModelPollInterval, v))
		}
		c.ModelPollInterval = d
	}
	if v, ok := get(EnvKafkaBrokers); ok {
		for b := range strings.SplitSeq(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.KafkaBrokers = append(c.KafkaBrokers, b)
			}
		}
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
		rest := strings.TrimPrefix(c.ModelURI, MLflowScheme)
		name, alias, ok := strings.Cut(rest, "@")
		if !ok || name == "" || alias == "" || strings.Contains(alias, "/") {
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
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("%s: broker %q: want host:port", EnvKafkaBrokers, b)
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
	default:
		bad("%s=%q: want %q or %q", EnvTransport, c.Transport, TransportHTTP, TransportKafka)
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
