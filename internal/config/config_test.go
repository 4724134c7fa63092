package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) { return MapLookup(m) }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(lookup(nil))
	if err != nil {
		t.Fatalf("empty environment: %v", err)
	}
	if c.ListenAddress != "[::]:8080" || c.ModelURI != "builtin" || c.PredictionsTopic != "fraud-predictions" ||
		c.FeatureStore != "memory" || c.FraudThreshold != 0 || len(c.KafkaBrokers) != 0 ||
		c.MaxBatch != DefaultMaxBatch || c.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("defaults: %+v", c)
	}
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(lookup(map[string]string{
		EnvListenAddress:      "127.0.0.1:9090",
		EnvModelURI:           "models:/fraud-detector@champion",
		EnvMLflowTrackingURI:  "http://mlflow:5000",
		EnvModelPollInterval:  "1m",
		EnvKafkaBrokers:       " kafka-0:9092, kafka-1:9092 ,",
		EnvPredictionsTopic:   "preds",
		EnvFeatureStore:       "redis://redis:6379/0",
		EnvFraudThreshold:     "0.3",
		EnvMaxBatch:           "100",
		EnvMaxBodyBytes:       "65536",
		EnvShutdownTimeout:    "5s",
		EnvMaxInflight:        "32",
		EnvMaxBufferedBytes:   "1048576",
		EnvDrainDelay:         "0",
		EnvTransport:          "kafka",
		EnvEventClock:         "stream",
		EnvEventMaxLateness:   "1h",
		EnvLabelMaxDelay:      "240h",
		EnvLabelHMACKey:       "0123456789abcdef0123456789abcdef",
		EnvStateMaxHistories:  "5000",
		EnvMLflowUsername:     "ci",
		EnvMLflowPassword:     " p w ",
		EnvDriftWindow:        "2000",
		EnvKafkaTopic:         "transactions-input, fraud-labels,",
		EnvKafkaConsumerGroup: "fd-group",
		EnvDeadLetterTopic:    "dead",
		EnvNamespace:          "fraud",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ListenAddress: "127.0.0.1:9090", ModelURI: "models:/fraud-detector@champion", MLflowTrackingURI: "http://mlflow:5000",
		ModelPollInterval: time.Minute, KafkaBrokers: []string{"kafka-0:9092", "kafka-1:9092"}, PredictionsTopic: "preds",
		FeatureStore: "redis://redis:6379/0", FraudThreshold: 0.3, MaxBatch: 100, MaxBodyBytes: 65536, ShutdownTimeout: 5 * time.Second,
		MaxInflight: 32, MaxBufferedBytes: 1 << 20, DrainDelay: 0, Transport: TransportKafka,
		EventClock: ClockStream, EventMaxSkew: DefaultStreamEventMaxSkew, EventMaxLateness: time.Hour, LabelMaxDelay: 240 * time.Hour,
		LabelHMACKey: "0123456789abcdef0123456789abcdef", StateMaxHistories: 5000, DriftWindow: 2000,
		MLflowUsername: "ci", MLflowPassword: " p w ",
		KafkaTopics: []string{"transactions-input", "fraud-labels"}, KafkaGroup: "fd-group", DeadLetterTopic: "dead", Namespace: "fraud",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestInvalid(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		want string // a fragment of the error naming the variable
	}{
		"listen without port":       {map[string]string{EnvListenAddress: "localhost"}, EnvListenAddress},
		"listen port not a number":  {map[string]string{EnvListenAddress: "[::]:http"}, EnvListenAddress},
		"registry without mlflow":   {map[string]string{EnvModelURI: "models:/fraud@champion"}, EnvMLflowTrackingURI},
		"registry without alias":    {map[string]string{EnvModelURI: "models:/fraud", EnvMLflowTrackingURI: "http://m:5000"}, "name@alias"},
		"registry nested name":      {map[string]string{EnvModelURI: "models:/a/b@champion", EnvMLflowTrackingURI: "http://m:5000"}, "name@alias"},
		"mlflow not a URL":          {map[string]string{EnvMLflowTrackingURI: "mlflow:5000"}, EnvMLflowTrackingURI},
		"poll not a duration":       {map[string]string{EnvModelPollInterval: "30"}, EnvModelPollInterval},
		"poll too fast":             {map[string]string{EnvModelPollInterval: "10ms"}, EnvModelPollInterval},
		"broker without port":       {map[string]string{EnvKafkaBrokers: "kafka"}, EnvKafkaBrokers},
		"topic with a slash":        {map[string]string{EnvPredictionsTopic: "a/b"}, EnvPredictionsTopic},
		"unknown store":             {map[string]string{EnvFeatureStore: "postgres://db"}, EnvFeatureStore},
		"threshold above one":       {map[string]string{EnvFraudThreshold: "1.5"}, EnvFraudThreshold},
		"threshold NaN":             {map[string]string{EnvFraudThreshold: "NaN"}, EnvFraudThreshold},
		"threshold text":            {map[string]string{EnvFraudThreshold: "high"}, EnvFraudThreshold},
		"batch zero":                {map[string]string{EnvMaxBatch: "0"}, EnvMaxBatch},
		"batch huge":                {map[string]string{EnvMaxBatch: "1000000"}, EnvMaxBatch},
		"body tiny":                 {map[string]string{EnvMaxBodyBytes: "10"}, EnvMaxBodyBytes},
		"shutdown negative":         {map[string]string{EnvShutdownTimeout: "-1s"}, EnvShutdownTimeout},
		"inflight zero":             {map[string]string{EnvMaxInflight: "0"}, EnvMaxInflight},
		"inflight text":             {map[string]string{EnvMaxInflight: "many"}, EnvMaxInflight},
		"buffered below one body":   {map[string]string{EnvMaxBufferedBytes: "2048"}, EnvMaxBufferedBytes},
		"buffered text":             {map[string]string{EnvMaxBufferedBytes: "16MiB"}, EnvMaxBufferedBytes},
		"drain negative":            {map[string]string{EnvDrainDelay: "-1s"}, EnvDrainDelay},
		"drain not a duration":      {map[string]string{EnvDrainDelay: "5"}, EnvDrainDelay},
		"transport typo":            {map[string]string{EnvTransport: "kakfa"}, EnvTransport},
		"transport kafka no broker": {map[string]string{EnvTransport: "kafka"}, EnvKafkaBrokers},
		"unknown event clock":       {map[string]string{EnvEventClock: "walls"}, EnvEventClock},
		"skew beyond a day":         {map[string]string{EnvEventMaxSkew: "48h"}, EnvEventMaxSkew},
		"lateness at label delay":   {map[string]string{EnvEventMaxLateness: "168h"}, EnvEventMaxLateness},
		"label delay past horizon":  {map[string]string{EnvLabelMaxDelay: "900h"}, EnvLabelMaxDelay},
		"short label key":           {map[string]string{EnvLabelHMACKey: "secret"}, EnvLabelHMACKey},
		"no state cap":              {map[string]string{EnvStateMaxHistories: "0"}, EnvStateMaxHistories},
		"drift window below 20":     {map[string]string{EnvDriftWindow: "19"}, EnvDriftWindow},
		"drift window not a number": {map[string]string{EnvDriftWindow: "1e5"}, EnvDriftWindow},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := FromEnv(lookup(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
		})
	}
}

// A bad store URL is reported without the password it may carry.
func TestStoreErrorHidesPassword(t *testing.T) {
	for _, v := range []string{"rediss-x://:s3cret@redis:6379", "redis://:s3cret@", "redis://:s3cret@redis:6379%zz"} {
		_, err := FromEnv(lookup(map[string]string{EnvFeatureStore: v}))
		if err == nil || !strings.Contains(err.Error(), EnvFeatureStore) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("FEATURE_STORE=%q: error %v", v, err)
		}
	}
}

// A bad MLflow URL is reported without its password too.
func TestMLflowErrorHidesPassword(t *testing.T) {
	for _, v := range []string{"ftp://u:s3cret@mlflow:5000", "http://u:s3cret@", "http://u:s3cret@mlflow:5000%zz", "u:s3cret@mlflow:5000"} {
		_, err := FromEnv(lookup(map[string]string{EnvMLflowTrackingURI: v}))
		if err == nil || !strings.Contains(err.Error(), EnvMLflowTrackingURI) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s=%q: error %v", EnvMLflowTrackingURI, v, err)
		}
	}
}

func TestRedactStore(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"memory":             {"memory", "memory"},
		"no credentials":     {"redis://redis:6379/0", "redis://redis:6379/0"},
		"password masked":    {"redis://:s3cret@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		"user and password":  {"rediss://u:s3cret@redis:6380", "rediss://u:xxxxx@redis:6380"},
		"unparseable":        {"redis://:s3cret@redis:6379%zz", "(unparseable URL)"},
		"credentials no URL": {"s3cret@redis", "(URL with credentials)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := RedactStore(tc.in); got != tc.want {
				t.Errorf("RedactStore(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := FromEnv(lookup(map[string]string{EnvMaxBatch: "0", EnvFraudThreshold: "2"}))
	if err == nil || !strings.Contains(err.Error(), EnvMaxBatch) || !strings.Contains(err.Error(), EnvFraudThreshold) {
		t.Errorf("want both problems reported, got %v", err)
	}
}
