package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
)

// table is the bench's result: one row per figure.
type table struct {
	rows []tableRow
}

type tableRow struct {
	measurement string
	value       float64
	unit        string
	note        string
}

func (t *table) add(measurement string, value float64, unit, note string) {
	t.rows = append(t.rows, tableRow{measurement: measurement, value: value, unit: unit, note: note})
}

// addAfter adds a row right after the last row named after, so that a figure is printed beside
// the one it is compared with; at the end when there is none.
func (t *table) addAfter(after, measurement string, value float64, unit, note string) {
	row := tableRow{measurement: measurement, value: value, unit: unit, note: note}
	for i := len(t.rows) - 1; i >= 0; i-- {
		if t.rows[i].measurement == after {
			t.rows = slices.Insert(t.rows, i+1, row)
			return
		}
	}
	t.rows = append(t.rows, row)
}

// value returns the value of the last row named measurement.
func (t *table) value(measurement string) (float64, bool) {
	for i := len(t.rows) - 1; i >= 0; i-- {
		if t.rows[i].measurement == measurement {
			return t.rows[i].value, true
		}
	}
	return 0, false
}

// write prints the table with aligned columns.
func (t *table) write(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tvalue\tunit\tnote")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.measurement, formatValue(r.value), r.unit, r.note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the results: %w", err)
	}
	return nil
}

// formatValue shows about three significant digits, with fixed decimals so that a figure never
// looks rounder than it is (8.00, not 8); whole numbers, such as counts, have no decimals.
func formatValue(v float64) string {
	a := math.Abs(v)
	decimals := 0
	switch {
	case a >= 100 || v == math.Trunc(v):
	case a >= 10:
		decimals = 1
	case a >= 1:
		decimals = 2
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// percentiles returns the nearest-rank percentile of values for each q in (0, 1]; values is
// sorted in place. An empty input gives NaN.
func percentiles(values []float64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	slices.Sort(values)
	for i, q := range qs {
		if len(values) == 0 {
			out[i] = math.NaN()
			continue
		}
		rank := int(math.Ceil(q*float64(len(values)))) - 1
		out[i] = values[min(max(rank, 0), len(values)-1)]
	}
	return out
}
