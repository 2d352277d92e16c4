package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrFenced means another process started the same connector: its Kafka producer, with the
// same transactional ID, fenced this one. The fenced pipeline stops for good; retrying would
// only fence the newer owner back and forth.
var ErrFenced = errors.New("pipeline: fenced by another process running the same connector")

// ErrTransactionTimedOut means the broker aborted the open Kafka transaction because it stayed
// open past the transaction timeout (a broker unreachable for that long, say). Kafka answers it
// as it answers fencing, but no other process took the connector: the run is retried from the
// committed position, and the aborted records are never seen by a read_committed consumer.
var ErrTransactionTimedOut = errors.New("pipeline: the Kafka transaction outlived the transaction timeout and the broker aborted it")

// ErrCommitNotVisible means that a Kafka transaction committed again after an unknown outcome
// (see the pipeline's outage handling) was answered as committed but its offset record is not
// visible to a read_committed consumer: the transaction was in fact aborted. Nothing of it is
// acknowledged to the source; the run is retried from the committed position, which writes its
// changes again.
var ErrCommitNotVisible = errors.New("pipeline: the commit asked again is not visible: the Kafka transaction was aborted")

// ErrSourceStopped means the source's Stream returned without an error while the pipeline
// was still running, which its contract does not allow.
var ErrSourceStopped = errors.New("pipeline: the source stopped streaming")

// Stage is the step of the pipeline an error comes from.
type Stage uint8

// The stages.
const (
	// StageStart: connecting to Kafka, creating the offsets topic, reading the offset.
	StageStart Stage = iota + 1
	// StageSource: the source's stream.
	StageSource
	// StageTransform: the transform chain rejected a change.
	StageTransform
	// StageEncode: encoding a change (schema derivation, registry, Avro).
	StageEncode
	// StageProduce: creating a topic, producing or flushing records.
	StageProduce
	// StageCommit: committing the Kafka transaction.
	StageCommit
	// StageAck: acknowledging a committed position to the source.
	StageAck
)

// String names the stage.
func (s Stage) String() string {
	switch s {
	case StageStart:
		return "start"
	case StageSource:
		return "source"
	case StageTransform:
		return "transform"
	case StageEncode:
		return "encode"
	case StageProduce:
		return "produce"
	case StageCommit:
		return "commit"
	case StageAck:
		return "ack"
	default:
		return fmt.Sprintf("stage(%d)", uint8(s))
	}
}

// StageError is the error a run of the pipeline ends with: the stage that failed and why.
// Nothing of the open Kafka transaction is visible to read_committed consumers.
type StageError struct {
	Stage Stage
	Err   error
}

// Error returns the stage and the cause.
func (e *StageError) Error() string { return "pipeline: " + e.Stage.String() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StageError) Unwrap() error { return e.Err }

// stageError wraps err with its stage, recognising fencing on the way, so that callers test
// errors.Is(err, ErrFenced) whatever Kafka error code reported it.
func stageError(stage Stage, err error) error {
	if isFencing(stage, err) && !errors.Is(err, ErrFenced) {
		err = &fencedError{cause: err}
	}
	return &StageError{Stage: stage, Err: err}
}

// fencedError is a Kafka answer taken for fencing: errors.Is finds both ErrFenced and the
// Kafka error. It keeps the Kafka error apart so that [timedOut] can report it without the
// words of ErrFenced, when the broker's transaction timeout turns out to be the cause.
type fencedError struct{ cause error }

func (e *fencedError) Error() string   { return ErrFenced.Error() + ": " + e.cause.Error() }
func (e *fencedError) Unwrap() []error { return []error{ErrFenced, e.cause} }

// isFencing tells whether err is a broker's answer that a newer producer holds the
// transactional ID. A produce request with a stale epoch gets InvalidProducerEpoch, the
// transaction requests get ProducerFenced; the Java client treats both as fencing too.
//
// A commit may also get InvalidTxnState: under KIP-890 a coordinator that bumped the epoch once
// to abort our transaction (for a new producer's InitProducerID, or for a transaction timeout,
// which Kafka reports as fencing too) takes our commit for a retry of an ended transaction.
// The pipeline's own sequence (begin, produce, flush, commit) is never invalid by itself, so
// at the commit that answer means the transaction was taken from us.
func isFencing(stage Stage, err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		(stage == StageCommit && errors.Is(err, kerr.InvalidTxnState))
}

// retryabler is implemented by errors that know whether retrying can help; for example, the
// encoder's schema incompatibility error says false.
type retryabler interface {
	error
	Retryable() bool
}

// timedOut turns the fencing error err, met by a Kafka transaction open for elapsed, into
// ErrTransactionTimedOut when elapsed passed the timeout: a producer fenced by another process
// meets it within half the timeout, when the pipeline cuts its transactions, unless Kafka stalled
// it as well. The Kafka error is kept as text only, so that the error no longer says ErrFenced,
// and without ErrFenced's words: no other process is involved, and the message must not say so.
func timedOut(err error, elapsed, timeout time.Duration) error {
	if elapsed < timeout || !errors.Is(err, ErrFenced) {
		return err
	}
	stage := StageCommit
	if se, ok := errors.AsType[*StageError](err); ok {
		stage = se.Stage
	}
	cause := err
	if fe, ok := errors.AsType[*fencedError](err); ok {
		cause = fe.cause
	}
	return &StageError{Stage: stage, Err: fmt.Errorf("%w (open %s, timeout %s; the broker answered: %v)",
		ErrTransactionTimedOut, elapsed.Round(time.Millisecond), timeout, cause)}
}

// IsRetryable tells whether running the pipeline again may succeed where err made it stop:
// the restart resumes from the last committed offset, so nothing is lost or duplicated. It is
// false for nil, fencing ([ErrFenced]), a cancelled context, invalid options, errors that say
// so through a Retryable() bool method (schema incompatibility, a source's permanent errors,
// see connectors.Permanent), a source breaking the event order ([ErrSourceProtocol]), and a
// change the transform chain rejects (the same change would be rejected again), Kafka refusing
// cdcd's SASL credentials or an operation (a missing ACL) and a broker certificate that does
// not verify; true otherwise:
// Kafka, registry or database unavailable, a commit with an unknown outcome, and every
// network-level failure, timeouts included.
//
// A deadline that passed is a timeout like any other (pgconn's connect timeout wraps
// context.DeadlineExceeded; so do dial and I/O deadlines): a network partition or a slow
// failover must be retried as "connection refused" is. The caller's own context ending is told
// apart by the caller, which checks ctx.Err() first ([Pipeline.RunWithRestarts] does).
func IsRetryable(err error) bool {
	if err == nil ||
		errors.Is(err, ErrFenced) ||
		errors.Is(err, ErrInvalidOption) ||
		errors.Is(err, ErrSourceProtocol) ||
		errors.Is(err, context.Canceled) ||
		// The broker refused a record as too large, past the check against the topic's
		// limit (a limit lowered meanwhile, a compressed size estimated short): a restart
		// would produce the same record again, forever.
		errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		// Kafka refused the credentials, or cdcd the broker's certificate: they are the
		// daemon's settings, and a restart would meet the same refusal (docs/security.md).
		errors.Is(err, kerr.SaslAuthenticationFailed) || isCertificateRefused(err) ||
		// An ACL missing: it stays missing until an operator adds it (docs/security.md).
		errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) {
		return false
	}
	if r, ok := errors.AsType[retryabler](err); ok {
		return r.Retryable()
	}
	if se, ok := errors.AsType[*StageError](err); ok && se.Stage == StageTransform {
		return false
	}
	return true
}

// isCertificateRefused tells whether err is a TLS handshake that failed because the broker's
// certificate did not verify (an unknown CA, another name, an expired certificate).
func isCertificateRefused(err error) bool {
	_, verify := errors.AsType[*tls.CertificateVerificationError](err)
	_, unknown := errors.AsType[x509.UnknownAuthorityError](err)
	_, hostname := errors.AsType[x509.HostnameError](err)
	_, invalid := errors.AsType[x509.CertificateInvalidError](err)
	return verify || unknown || hostname || invalid
}
