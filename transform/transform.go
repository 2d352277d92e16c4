// Package transform is the processing stage between decoding and encoding: an ordered chain of
// transforms that may change, drop or reject each Change. The transforms themselves (filter,
// column selection and masking, routing, unwrap) and the error policy with its dead-letter
// queue come in their own issue; the stage is in the path from the start so that they slot in.
package transform

import "github.com/cdcd-dev/cdcd/decoder"

// Transform changes one Change. It returns the Change to pass on (c itself or another), nil to
// drop it, or an error for a Change it cannot handle (a poison change). It does not block.
type Transform interface {
	Apply(c *decoder.Change) (*decoder.Change, error)
}

// Chain applies its transforms in order. The empty Chain passes every Change on unchanged.
type Chain []Transform

// Apply runs c through the chain, stopping at the first transform that drops it or fails.
func (ch Chain) Apply(c *decoder.Change) (*decoder.Change, error) {
	for _, t := range ch {
		var err error
		if c, err = t.Apply(c); err != nil || c == nil {
			return nil, err
		}
	}
	return c, nil
}
