package avro

import (
	"errors"
	"testing"

	"github.com/riferrei/srclient"
)

// A registry answering that Kafka refused its backend an operation (a missing ACL) is not
// retried, by the encoder's callers (a Retryable() false in the chain) nor by IsRetryable;
// the same status for an outage still is.
func TestRegistryBackendDenied(t *testing.T) {
	c := &SRClient{url: "http://r"}
	for _, tc := range []struct {
		name   string
		err    error
		denied bool
	}{
		{"embedded registry", srclient.Error{Code: 50001, Message: "Error in the backend data store: writing to topic t: TOPIC_AUTHORIZATION_FAILED: Not authorized"}, true},
		{"Confluent's registry", srclient.Error{Code: 50001, Message: "Error while registering schema: org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized"}, true},
		{"outage", srclient.Error{Code: 50001, Message: "Error in the backend data store: NOT_ENOUGH_REPLICAS"}, false},
		{"client refused", srclient.Error{Code: 40301, Message: "TOPIC_AUTHORIZATION_FAILED"}, false},
	} {
		err := c.wrap("register", "s", tc.err)
		r, ok := errors.AsType[interface {
			error
			Retryable() bool
		}](err)
		if got := ok && !r.Retryable(); got != tc.denied {
			t.Errorf("%s: permanent %v, want %v", tc.name, got, tc.denied)
		}
		if tc.denied && IsRetryable(err) {
			t.Errorf("%s: IsRetryable = true", tc.name)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: %v does not wrap the registry's answer", tc.name, err)
		}
	}
}
