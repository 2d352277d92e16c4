package integration

import (
	"context"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// EventChan gives a test that reads a Source's Stream directly a channel to select on: it
// returns a Queue of n events for Stream, and a channel of n events fed from it until ctx ends.
func EventChan(ctx context.Context, n int) (<-chan connectors.Event, *connectors.Queue) {
	q := connectors.NewQueue(n, pipeline.DefaultEventBufferBytes)
	out := make(chan connectors.Event, n)
	go func() {
		for {
			ev, err := q.Receive(ctx)
			if err != nil {
				return
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, q
}
