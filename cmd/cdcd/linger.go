package main

import (
	"fmt"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// The values of a connector's batch_linger: how long a Kafka transaction waits for more source
// transactions when the source has nothing more to give.
const (
	// batchLingerIdle (the default) commits at once when the source, its queue and the encode
	// queue hold nothing more: the lowest latency; a busy stream still batches.
	batchLingerIdle = "idle"
	// batchLingerFull waits for the whole max_batch_linger_ms (or max_batch_records): fewer
	// Kafka transactions on a quiet stream, each source transaction later by up to the linger.
	batchLingerFull = "full"
)

// validateBatchLinger checks a connector's batch_linger.
func validateBatchLinger(conn ConnectorConfig) []api.FieldError {
	switch conn.BatchLinger {
	case "", batchLingerIdle, batchLingerFull:
		return nil
	}
	return []api.FieldError{{Name: "batch_linger", Message: fmt.Sprintf("%q is not %s or %s", conn.BatchLinger, batchLingerIdle, batchLingerFull)}}
}

// lingerOptions returns the pipeline options of a connector's batch_linger.
func lingerOptions(conn ConnectorConfig) []pipeline.Option {
	if conn.BatchLinger == batchLingerFull {
		return []pipeline.Option{pipeline.FullLinger()}
	}
	return nil
}
