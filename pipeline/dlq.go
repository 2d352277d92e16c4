package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The error policy decides what becomes of a poison change: a change that fails by itself,
// so that running it again fails again while the changes after it may pass. Two failures are
// poison, and only these:
//
//   - a transform that cannot handle the change (a *transform.ChangeError: a filter reading a
//     column the row lacks, a mask of a NOT NULL integer, a key column removed);
//   - a row the output format cannot write (an error of kind format.ErrValue: NULL in a NOT
//     NULL column, a value out of its column's range, an unchanged TOASTed value without
//     placeholder);
//   - a record larger than Kafka takes for its topic (a *RecordTooLargeError, oversize.go).
//
// Every other failure stops the connector whatever the policy, because it is not the
// change's: a registry that cannot be reached is retryable (RunWithRestarts resumes once it is
// back, and dead-lettering would divert every change meanwhile); an incompatible schema
// change or a table the encoder cannot describe (format.ErrIncompatible, format.ErrSchema)
// concerns every later change of the table, and needs an operator, not a DLQ holding the
// table's whole stream; a Kafka, source or protocol failure is the pipeline's own.

// Policy is what the pipeline does with a poison change.
type Policy uint8

// The error policies.
const (
	// PolicyFail stops the run at the poison change with its *StageError, as for any error;
	// nothing of the open Kafka transaction is committed.
	PolicyFail Policy = iota + 1
	// PolicyDLQ writes the change, as JSON with the error in headers, to the dead-letter topic
	// in its place in the Kafka transaction, and goes on: the record commits with the changes
	// around it and the offset, exactly once.
	PolicyDLQ
	// PolicySkip writes nothing for the change, counts it (Stats.Skipped) and logs it at warn
	// level, and goes on.
	PolicySkip
)

var policyNames = [...]string{PolicyFail: "fail", PolicyDLQ: "dlq", PolicySkip: "skip"}

// String returns the policy's configuration name: fail, dlq or skip.
func (p Policy) String() string {
	if int(p) < len(policyNames) && policyNames[p] != "" {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy reads a policy by its configuration name: fail, dlq or skip.
func ParsePolicy(s string) (Policy, error) {
	for p, name := range policyNames {
		if name != "" && name == s {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown error policy %q (want fail, dlq or skip)", ErrInvalidOption, s)
}

// The headers of a dead-letter record.
const (
	// HeaderError holds the error's message.
	HeaderError = "cdcd.error"
	// HeaderStage holds the stage that failed: "transform" or "encode".
	HeaderStage = "cdcd.stage"
	// HeaderPosition holds, as JSON, the position from which the source re-reads the change:
	// {"source":<the source transaction's position>,"skip":<its changes before this one>}
	// (skip omitted when 0), as the offsets topic stores positions.
	HeaderPosition = "cdcd.position"
	// HeaderTable holds the change's table, "schema.table" (MySQL: "database.table").
	HeaderTable = "cdcd.table"
	// HeaderOp holds the change's op letter: c, u, d, r or t.
	HeaderOp = "cdcd.op"
)

// DeadLetter is the value of a dead-letter record, a JSON object (format.DeadLetter describes
// it). It holds the change as the source gave it, before any transform: the dead-letter topic
// holds what a mask or exclude_columns would have hidden, so restrict it as the source tables
// are. No output format is used, since encoding may be what failed.
type DeadLetter = format.DeadLetter

// maxDeadLetterValueText is the most text of one value a dead letter holds when its large
// values are left out.
const maxDeadLetterValueText = 1024

// fault is what the Kafka stage needs to know of a poison change the policy let pass.
type fault struct {
	stage Stage
	err   error // the cause, without the StageError around it
	table string
	op    decoder.Op
}

// poison tells whether err, an error of record(), is a poison change (see Policy) and returns
// its stage and cause.
func poison(err error) (*StageError, bool) {
	se, ok := errors.AsType[*StageError](err)
	if !ok {
		return nil, false
	}
	if _, ok := errors.AsType[*RecordTooLargeError](err); ok {
		return se, true
	}
	switch se.Stage {
	case StageTransform:
		_, ok := errors.AsType[*transform.ChangeError](err)
		return se, ok
	case StageEncode:
		return se, format.IsPoison(err)
	}
	return nil, false
}

// deadLetter returns the dead-letter record of c, which failed at stage with cause, leaving
// out the values of more than maxText bytes as text when maxText > 0. The Kafka stage adds
// the position header.
func deadLetter(topic string, c *decoder.Change, f *fault, maxText int) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, 5)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(f.err.Error())},
		kgo.RecordHeader{Key: HeaderStage, Value: []byte(f.stage.String())},
		kgo.RecordHeader{Key: HeaderTable, Value: []byte(f.table)},
		kgo.RecordHeader{Key: HeaderOp, Value: []byte{byte(f.op)}})
	return &kgo.Record{Topic: topic, Key: format.DeadLetterKey(c), Value: format.DeadLetterValue(c, maxText), Headers: headers}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
