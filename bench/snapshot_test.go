package main

import (
	"context"
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testEnvelopeSchema has the envelope fields the snapshot check reads, shaped as cdcd writes
// them: source.snapshot a union with the string first. A field the check does not name (ts_ms)
// must be skipped.
const testEnvelopeSchema = `{"type": "record", "name": "Envelope", "fields": [
	{"name": "source", "type": {"type": "record", "name": "Source", "fields": [
		{"name": "ts_ms", "type": "long"},
		{"name": "snapshot", "type": ["string", "null"], "default": "false"}]}},
	{"name": "op", "type": "string"}]}`

func TestSnapshotCheck(t *testing.T) {
	schema := avro.MustParse(testEnvelopeSchema)
	record := func(op, mark string) *kgo.Record {
		t.Helper()
		var env struct {
			Source struct {
				TsMs     int64   `avro:"ts_ms"`
				Snapshot *string `avro:"snapshot"`
			} `avro:"source"`
			Op string `avro:"op"`
		}
		env.Op, env.Source.Snapshot = op, &mark
		b, err := avro.Marshal(schema, env)
		if err != nil {
			t.Fatalf("encoding a test envelope: %v", err)
		}
		return &kgo.Record{Topic: "t", Value: append([]byte{0, 0, 0, 0, 7}, b...)}
	}
	r := func(mark string) *kgo.Record { return record("r", mark) }
	tests := []struct {
		name    string
		batches [][]*kgo.Record
		wantErr error // nil: the records pass
	}{
		{"one batch", [][]*kgo.Record{{r("first"), r("true"), r("last")}}, nil},
		{"several batches", [][]*kgo.Record{{r("first"), r("true")}, {}, {r("true")}, {r("true"), r("last")}}, nil},
		{"one record", [][]*kgo.Record{{r("last")}}, nil}, // a one-row table: one record, one mark
		{"one unmarked record", [][]*kgo.Record{{r("true")}}, ErrSnapshotRecords},
		{"not first", [][]*kgo.Record{{r("true"), r("last")}}, ErrSnapshotRecords},
		{"not last", [][]*kgo.Record{{r("first"), r("true")}}, ErrSnapshotRecords},
		{"streamed record", [][]*kgo.Record{{r("first"), r("last")}, {record("c", "false")}}, ErrSnapshotRecords},
		{"nothing", nil, ErrSnapshotRecords},
		{"not wire format", [][]*kgo.Record{{{Topic: "t", Value: []byte{1, 2}}}}, ErrWireFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envelopes := newCommitTimes("http://127.0.0.1:1", false)
			envelopes.schemas[7] = schema // no registry: the schema is known already
			check := newSnapshotCheck(envelopes)
			var err error
			for _, batch := range tt.batches {
				if err = check.batch(context.Background(), batch); err != nil {
					break
				}
			}
			if err == nil {
				err = check.done()
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("check: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("check = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
