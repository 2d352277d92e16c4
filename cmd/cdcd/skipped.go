package main

import (
	"fmt"
	"slices"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/decoder"
)

// skippedOperationNone is Debezium's skipped.operations value that skips nothing.
const skippedOperationNone = "none"

// skippableOperations are the op letters skipped_operations takes, as Debezium's.
var skippableOperations = map[string]decoder.Op{
	"c": decoder.OpCreate, "u": decoder.OpUpdate, "d": decoder.OpDelete, "t": decoder.OpTruncate,
}

// skippedOperations returns the operations a connector's skipped_operations names; set is
// false when it is empty, for the pipeline's default (truncates, as Debezium's default).
// It expects validateSkippedOperations to have passed.
func skippedOperations(items []string) (ops []decoder.Op, set bool) {
	if len(items) == 0 {
		return nil, false
	}
	for _, it := range items {
		if op, ok := skippableOperations[it]; ok {
			ops = append(ops, op)
		}
	}
	return ops, true
}

// validateSkippedOperations refuses an unknown letter, one listed twice, and none beside
// others.
func validateSkippedOperations(items []string) []api.FieldError {
	var errs []api.FieldError
	for i, it := range items {
		_, ok := skippableOperations[it]
		switch {
		case it == skippedOperationNone && len(items) > 1:
			errs = append(errs, api.FieldError{Name: "skipped_operations", Message: "none skips nothing: list it alone"})
		case !ok && it != skippedOperationNone:
			errs = append(errs, api.FieldError{Name: "skipped_operations",
				Message: fmt.Sprintf("%q is not c, u, d, t or none (snapshot reads, r, cannot be skipped)", it)})
		case slices.Contains(items[:i], it):
			errs = append(errs, api.FieldError{Name: "skipped_operations", Message: fmt.Sprintf("%q is listed twice", it)})
		}
	}
	return errs
}
