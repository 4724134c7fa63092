package validate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// The module proxy refuses every version of knative.dev/eventing-kafka-broker, and Strimzi is
// Java, so KafkaSource, KafkaSink and KafkaTopic are decoded into these structs, written field for
// field from eventing-kafka-broker's control-plane/pkg/apis/sources/v1beta1/kafka_types.go and
// eventing/v1alpha1/kafka_sink_types.go (knative-v1.23) and Strimzi's KafkaTopic v1beta2 CRD.
// Status is left out: manifests do not carry it, and a status field is then an unknown field.

// KafkaSource is sources.knative.dev/v1beta1 KafkaSource.
type KafkaSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaSourceSpec `json:"spec"`
}

// KafkaSourceSpec mirrors v1beta1.KafkaSourceSpec.
type KafkaSourceSpec struct {
	KafkaAuthSpec `json:",inline"`
	Topics        []string      `json:"topics"`
	ConsumerGroup string        `json:"consumerGroup,omitempty"`
	InitialOffset string        `json:"initialOffset,omitempty"` // earliest | latest
	Delivery      *DeliverySpec `json:"delivery,omitempty"`
	Ordering      *string       `json:"ordering,omitempty"` // ordered | unordered
	Consumers     *int32        `json:"consumers,omitempty"`
	// sink and ceOverrides: knative.dev/pkg's own SourceSpec, as upstream embeds it.
	duckv1.SourceSpec `json:",inline"`
}

// KafkaAuthSpec mirrors bindings/v1beta1.KafkaAuthSpec.
type KafkaAuthSpec struct {
	BootstrapServers []string     `json:"bootstrapServers"`
	Net              KafkaNetSpec `json:"net,omitempty"`
}

// KafkaNetSpec mirrors bindings/v1beta1.KafkaNetSpec.
type KafkaNetSpec struct {
	SASL KafkaSASLSpec `json:"sasl,omitempty"`
	TLS  KafkaTLSSpec  `json:"tls,omitempty"`
}

// KafkaSASLSpec mirrors bindings/v1beta1.KafkaSASLSpec.
type KafkaSASLSpec struct {
	Enable   bool                  `json:"enable,omitempty"`
	User     SecretValueFromSource `json:"user,omitempty"`
	Password SecretValueFromSource `json:"password,omitempty"`
	Type     SecretValueFromSource `json:"type,omitempty"`
}

// KafkaTLSSpec mirrors bindings/v1beta1.KafkaTLSSpec.
type KafkaTLSSpec struct {
	Enable bool                  `json:"enable,omitempty"`
	Cert   SecretValueFromSource `json:"cert,omitempty"`
	Key    SecretValueFromSource `json:"key,omitempty"`
	CACert SecretValueFromSource `json:"caCert,omitempty"`
}

// SecretValueFromSource mirrors bindings/v1beta1.SecretValueFromSource.
type SecretValueFromSource struct {
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// DeliverySpec mirrors knative.dev/eventing's duck/v1 DeliverySpec.
type DeliverySpec struct {
	DeadLetterSink *duckv1.Destination `json:"deadLetterSink,omitempty"`
	Retry          *int32              `json:"retry,omitempty"`
	Timeout        *string             `json:"timeout,omitempty"`
	BackoffPolicy  *string             `json:"backoffPolicy,omitempty"` // linear | exponential
	BackoffDelay   *string             `json:"backoffDelay,omitempty"`
	RetryAfterMax  *string             `json:"retryAfterMax,omitempty"`
	Format         *string             `json:"format,omitempty"` // json | binary
}

// KafkaSink is eventing.knative.dev/v1alpha1 KafkaSink.
type KafkaSink struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaSinkSpec `json:"spec"`
}

// KafkaSinkSpec mirrors v1alpha1.KafkaSinkSpec.
type KafkaSinkSpec struct {
	Topic             string   `json:"topic"`
	NumPartitions     *int32   `json:"numPartitions,omitempty"`
	ReplicationFactor *int16   `json:"replicationFactor,omitempty"`
	BootstrapServers  []string `json:"bootstrapServers"`
	ContentMode       *string  `json:"contentMode,omitempty"` // binary | structured
	Auth              *struct {
		Secret *struct {
			Ref *struct {
				Name string `json:"name"`
			} `json:"ref,omitempty"`
		} `json:"secret,omitempty"`
	} `json:"auth,omitempty"`
}

// KafkaTopic is Strimzi's kafka.strimzi.io/v1beta2 KafkaTopic.
type KafkaTopic struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaTopicSpec `json:"spec"`
}

// KafkaTopicSpec mirrors the KafkaTopic CRD's spec (topicName, partitions, replicas, config).
type KafkaTopicSpec struct {
	TopicName  string         `json:"topicName,omitempty"`
	Partitions int32          `json:"partitions,omitempty"`
	Replicas   int32          `json:"replicas,omitempty"`
	Config     map[string]any `json:"config,omitempty"`
}
