package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cdcd-dev/cdcd/worker"
)

// Kafka answers a missing ACL with an authorization error code that names neither the broker
// nor the operation refused. cdcd's errors already name the resource (the topic, the
// transactional id); kafkaRefusal adds the server and the permission, so that an operator
// reads in one line which ACL to add (docs/security.md, "Kafka ACLs").

// kafkaDenied tells whether err is Kafka refusing cdcd an operation: an authorization error
// code in the chain, or, through a registry's HTTP answer (which keeps only the text), the
// code's name.
func kafkaDenied(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		strings.Contains(err.Error(), "_AUTHORIZATION_FAILED")
}

// topicPermissions map the words cdcd's errors use for what they were doing on a topic to the
// ACL operation it needs, first match wins: a registry's write says "backend data store".
var topicPermissions = []struct{ words, permission string }{
	{"creating topic", "CREATE"},
	{"creating the heartbeat topic", "CREATE"},
	{"creating the schema history topic", "CREATE"},
	{"checking topic", "DESCRIBE_CONFIGS"},
	{"describing", "DESCRIBE_CONFIGS"},
	{"producing to topic", "WRITE"},
	{"writing", "WRITE"},
	{"backend data store", "WRITE"},
	{"reading", "READ"},
	{"fetch", "READ"},
}

// deniedPermission names the ACL operation and resource type err was refused.
func deniedPermission(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || strings.Contains(msg, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"):
		return "WRITE on the transactional id"
	case errors.Is(err, kerr.ClusterAuthorizationFailed) || strings.Contains(msg, "CLUSTER_AUTHORIZATION_FAILED"):
		return "an operation on the cluster"
	case errors.Is(err, kerr.GroupAuthorizationFailed) || strings.Contains(msg, "GROUP_AUTHORIZATION_FAILED"):
		return "READ on the group"
	}
	for _, p := range topicPermissions {
		if strings.Contains(msg, p.words) {
			return p.permission + " on the topic"
		}
	}
	return "an operation on the topic"
}

// kafkaRefusal returns err, when Kafka refused cdcd an operation, prefixed with the brokers,
// the protocol and the permission refused; other errors as they are. The result wraps err:
// its retryability does not change.
func kafkaRefusal(err error, k *KafkaConfig) error {
	if err == nil || !kafkaDenied(err) {
		return err
	}
	return fmt.Errorf("denied %s by Kafka at %s (%s): an ACL is missing (docs/security.md): %w",
		deniedPermission(err), strings.Join(k.Brokers, ","), k.securityProtocol(), err)
}

// refusalNamingConnector is a connector whose failures name the Kafka server and permission
// when Kafka refused an operation.
type refusalNamingConnector struct {
	worker.Connector
	kafka *KafkaConfig
}

// Run runs the connector, explaining a Kafka refusal it ends with.
func (c refusalNamingConnector) Run(ctx context.Context, health worker.Health) error {
	return kafkaRefusal(c.Connector.Run(ctx, refusalNamingHealth{health, c.kafka}), c.kafka)
}

// refusalNamingHealth explains the refusals of retried failures too (a registry may be
// refused while the connector retries).
type refusalNamingHealth struct {
	worker.Health
	kafka *KafkaConfig
}

func (h refusalNamingHealth) Retrying(err error, next time.Time) {
	h.Health.Retrying(kafkaRefusal(err, h.kafka), next)
}
