package main

import "github.com/cdcd-dev/cdcd/pipeline"

// Steps forwards the wrapped connector's commit latency steps, which the worker exports as
// cdcd_connector_step_seconds: the embedded interface does not carry the method.
func (c refusalNamingConnector) Steps() []pipeline.StepStats {
	if s, ok := c.Connector.(interface{ Steps() []pipeline.StepStats }); ok {
		return s.Steps()
	}
	return nil
}
