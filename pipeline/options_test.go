package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidate(t *testing.T) {
	base := []Option{ConnectorName("c"), TopicPrefix("p"), SeedBrokers("127.0.0.1:9092")}
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"defaults", nil, true},
		{"no connector", []Option{ConnectorName("")}, false},
		{"no prefix", []Option{TopicPrefix("")}, false},
		{"no brokers", []Option{SeedBrokers()}, false},
		{"kafka opts instead of brokers", []Option{SeedBrokers(), KafkaOpts()}, false},
		{"empty offsets topic", []Option{OffsetsTopic("")}, false},
		{"tombstones off", []Option{WithTombstones(TombstonesOff)}, true},
		{"unknown tombstones", []Option{WithTombstones(0)}, false},
		{"zero batch", []Option{MaxBatchRecords(0)}, false},
		{"batch of one", []Option{MaxBatchRecords(1)}, true},
		{"zero linger", []Option{MaxLinger(0)}, false},
		{"timeout too short", []Option{TransactionTimeout(500 * time.Millisecond)}, false},
		{"timeout too long", []Option{TransactionTimeout(16 * time.Minute)}, false},
		{"linger near the timeout", []Option{TransactionTimeout(time.Second), MaxLinger(500 * time.Millisecond)}, false},
		{"linger under half the timeout", []Option{TransactionTimeout(time.Second), MaxLinger(400 * time.Millisecond)}, true},
		{"zero event buffer", []Option{EventBuffer(0, 1)}, false},
		{"zero event buffer bytes", []Option{EventBuffer(1, 0)}, false},
		{"zero encode queue events", []Option{EncodeQueue(0, 1)}, false},
		{"zero encode queue bytes", []Option{EncodeQueue(1, 0)}, false},
		{"encode queue of one", []Option{EncodeQueue(1, 1)}, true},
		{"zero partitions", []Option{TopicPartitions(0)}, false},
		{"replication 0", []Option{ReplicationFactor(0)}, false},
		{"replication 3", []Option{ReplicationFactor(3)}, true},
		{"no produce buffer", []Option{ProduceBuffer(0, 1)}, false},
		{"zero stats interval", []Option{StatsInterval(0)}, false},
		{"backoff max under min", []Option{RestartBackoff(time.Second, time.Millisecond)}, false},
		{"zero backoff", []Option{RestartBackoff(0, time.Second)}, false},
		{"policy skip", []Option{ErrorPolicy(PolicySkip, "")}, true},
		{"policy dlq", []Option{ErrorPolicy(PolicyDLQ, "p.dlq")}, true},
		{"dlq without topic", []Option{ErrorPolicy(PolicyDLQ, "")}, false},
		{"topic without dlq", []Option{ErrorPolicy(PolicyFail, "p.dlq")}, false},
		{"bad dlq topic", []Option{ErrorPolicy(PolicyDLQ, "p dlq")}, false},
		{"dlq is the offsets topic", []Option{ErrorPolicy(PolicyDLQ, "offs"), OffsetsTopic("offs")}, false},
		{"unknown policy", []Option{ErrorPolicy(0, "")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			for _, o := range append(append([]Option(nil), base...), tt.opts...) {
				o(&cfg)
			}
			err := cfg.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("validate() = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(nil, nil, ConnectorName("c")); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("New(nil, nil) = %v, want ErrInvalidOption", err)
	}
}

type notRetryable struct{}

func (notRetryable) Error() string   { return "incompatible schema" }
func (notRetryable) Retryable() bool { return false }

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("connection refused"), true},
		{"produce", stageError(StageProduce, kerr.NotEnoughReplicas), true},
		{"commit unknown outcome", stageError(StageCommit, kerr.RequestTimedOut), true},
		{"fenced produce", stageError(StageProduce, kerr.InvalidProducerEpoch), false},
		{"fenced commit", stageError(StageCommit, fmt.Errorf("ending: %w", kerr.ProducerFenced)), false},
		{"commit invalid state", stageError(StageCommit, kerr.InvalidTxnState), false},
		{"produce invalid state", stageError(StageProduce, kerr.InvalidTxnState), true},
		{"canceled", context.Canceled, false},
		{"deadline", stageError(StageEncode, context.DeadlineExceeded), true},
		{"invalid option", fmt.Errorf("%w: x", ErrInvalidOption), false},
		{"source protocol", stageError(StageSource, ErrSourceProtocol), false},
		{"schema incompatible", stageError(StageEncode, fmt.Errorf("table a.b: %w", notRetryable{})), false},
		{"transform", stageError(StageTransform, errors.New("poison")), false},
		{"source", stageError(StageSource, errors.New("replication connection lost")), true},
		{"record refused as too large", stageError(StageProduce, fmt.Errorf("flushing: %w", kerr.MessageTooLarge)), false},
		{"batch refused as too large", stageError(StageProduce, kerr.RecordListTooLarge), false},
		{"ACL missing on a topic", stageError(StageProduce, kerr.TopicAuthorizationFailed), false},
		{"ACL missing on the transactional id", stageError(StageSource, fmt.Errorf("initialising: %w", kerr.TransactionalIDAuthorizationFailed)), false},
		{"SASL credentials refused", stageError(StageProduce, fmt.Errorf("producing: %w", kerr.SaslAuthenticationFailed)), false},
		{"broker certificate refused", stageError(StageCommit, fmt.Errorf("unable to dial: %w",
			&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Fatalf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if err := stageError(StageCommit, kerr.ProducerFenced); !errors.Is(err, ErrFenced) || !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("%v: want both ErrFenced and the Kafka error", err)
	}
	fenced := stageError(StageProduce, kerr.InvalidProducerEpoch)
	if err := timedOut(fenced, 10*time.Second, time.Minute); err != fenced {
		t.Fatalf("fenced within the timeout: %v, want the fencing unchanged", err)
	}
	err := timedOut(fenced, 61*time.Second, time.Minute)
	if errors.Is(err, ErrFenced) || !errors.Is(err, ErrTransactionTimedOut) || !IsRetryable(err) {
		t.Fatalf("fenced after the timeout: %v, want ErrTransactionTimedOut, retryable, not ErrFenced", err)
	}
	if se, ok := errors.AsType[*StageError](err); !ok || se.Stage != StageProduce {
		t.Fatalf("fenced after the timeout: %v, want the produce stage kept", err)
	}
	if err := timedOut(errors.New("broker down"), time.Hour, time.Minute); errors.Is(err, ErrTransactionTimedOut) {
		t.Fatalf("an error that is no fencing became %v", err)
	}
}

func TestStageString(t *testing.T) {
	for s, want := range map[Stage]string{
		StageStart: "start", StageSource: "source", StageTransform: "transform", StageEncode: "encode",
		StageProduce: "produce", StageCommit: "commit", StageAck: "ack", 0: "stage(0)",
	} {
		if got := s.String(); got != want {
			t.Errorf("Stage(%d) = %q, want %q", s, got, want)
		}
	}
	err := stageError(StageEncode, errors.New("boom"))
	if want := "pipeline: encode: boom"; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}
