package pipeline

import "time"

// WithClock replaces the clock of the batch bounds, so that tests make a transaction "long"
// without waiting.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }
