package pipelinetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// CheckPermanentErrors is the contract between a connector kind's source and the engine: each
// of the kind's permanent sentinels, returned by Stream as its boundary marks it (wrapped in
// context first, as a source does), keeps its message and its identity, is marked
// connectors.Permanent, and is final for the engine's classifier as the pipeline wraps a
// source's error and the worker sees it: the connector FAILS instead of retrying forever
// (MySQL's permanent errors once were retried every 30 s). A failure that goes away by itself
// stays retryable. Every kind of the daemon runs it, and so does a kind written in a test.
func CheckPermanentErrors(t testing.TB, k connectors.Kind) {
	t.Helper()
	sentinels := k.PermanentErrors()
	if len(sentinels) == 0 {
		t.Errorf("kind %s declares no permanent errors", k.Name())
	}
	for _, sentinel := range sentinels {
		cause := fmt.Errorf("streaming from the stored position: %w", sentinel)
		err := k.StreamError(cause)
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "streaming from the stored position") {
			t.Errorf("%s: StreamError(%v) = %v: lost the error or its message", k.Name(), cause, err)
		}
		if _, ok := errors.AsType[*connectors.PermanentError](err); !ok {
			t.Errorf("%s: %v is not marked connectors.Permanent at the boundary", k.Name(), sentinel)
		}
		// As the pipeline's run returns it (RunWithRestarts and the worker's build and run
		// paths ask pipeline.IsRetryable of this).
		staged := fmt.Errorf("pipeline: %w", &pipeline.StageError{Stage: pipeline.StageSource, Err: err})
		if pipeline.IsRetryable(staged) {
			t.Errorf("%s: %v is retried by the engine; want it final (the connector FAILED)", k.Name(), sentinel)
		}
	}
	transient := fmt.Errorf("reading: %w", errors.New("connection reset by peer"))
	if err := k.StreamError(transient); !pipeline.IsRetryable(&pipeline.StageError{Stage: pipeline.StageSource, Err: err}) {
		t.Errorf("%s: a transient failure is final: %v", k.Name(), err)
	}
}
