package worker

import (
	"context"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// PipelineConnector returns the [Connector] running p: how the worker runs every pipeline, so
// that each connector, of the daemon's file or of the API, reports to its status its retries
// (pipeline.OnRetry: RESTARTING), its return to health (pipeline.OnHealthy: RUNNING) and its
// stalls (pipeline.OnStalled: DEGRADED, and the pipeline's "pipeline stalled" warning).
// progress, if not nil, returns the progress of the connector's snapshot tables.
func PipelineConnector(p *pipeline.Pipeline, progress func() []api.TableProgress) Connector {
	return &pipelineConnector{p: p, progress: progress,
		healthyAfter: pipeline.DefaultHealthyAfter, stallAfter: pipeline.DefaultStallAfter}
}

type pipelineConnector struct {
	p        *pipeline.Pipeline
	progress func() []api.TableProgress
	// healthyAfter and stallAfter are the pipeline's defaults; tests shorten them.
	healthyAfter, stallAfter time.Duration
}

var _ Connector = (*pipelineConnector)(nil)

// Run runs the pipeline, restarting it after retryable failures, until ctx ends (nil) or a
// permanent error stops it.
func (c *pipelineConnector) Run(ctx context.Context, health Health) error {
	err := c.p.RunWithRestarts(ctx,
		pipeline.OnRetry(health.Retrying),
		pipeline.OnHealthy(c.healthyAfter, health.Healthy),
		pipeline.OnStalled(c.stallAfter, health.Stalled))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *pipelineConnector) Stats() pipeline.Stats { return c.p.Metrics().Stats() }

func (c *pipelineConnector) Progress() []api.TableProgress {
	if c.progress == nil {
		return nil
	}
	return c.progress()
}
