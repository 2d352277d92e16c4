package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/api"
)

// barWidth is the number of cells of a snapshot table's progress bar.
const barWidth = 30

// draw shows one look: a table redrawn in place on a terminal, plain lines otherwise.
func (v *statusView) draw(conns []connectorView, now time.Time) error {
	for i := range conns {
		cv := &conns[i]
		if prev, ok := v.last[cv.Name]; ok && now.After(v.at) {
			cv.EventsPerSecond = max(cv.Records-prev.Records, 0) / now.Sub(v.at).Seconds()
		}
	}
	v.last = make(map[string]connectorView, len(conns))
	for _, cv := range conns {
		v.last[cv.Name] = cv
	}
	v.at = now
	// A connector's bars show while its snapshot runs, and once more when it ends, so that the
	// last look at a snapshot shows every table at 100%.
	shown := make(map[string]bool)
	for _, cv := range conns {
		if snapshotRunning(cv.Tables) || (v.snapshotting[cv.Name] && len(cv.Tables) > 0) {
			shown[cv.Name] = snapshotRunning(cv.Tables)
		}
	}
	bars := func(name string) bool { _, ok := shown[name]; return ok }
	v.snapshotting = make(map[string]bool)
	for n, running := range shown {
		if running {
			v.snapshotting[n] = true
		}
	}
	if !v.terminal {
		return v.plain(conns, now, bars)
	}
	lines := []string{fmt.Sprintf("cdcd status  %s  %s", v.base, now.Format(time.TimeOnly)),
		fmt.Sprintf("%-24s %-12s %12s %14s %12s %10s", "CONNECTOR", "STATE", "LAG", "UNCOMMITTED", "RETAINED", "EVENTS/S")}
	if len(conns) == 0 {
		lines = append(lines, "(no connector)")
	}
	for _, cv := range conns {
		lines = append(lines, fmt.Sprintf("%-24s %-12s %12s %14s %12s %10s", cv.Name, orDash(cv.State),
			millis(cv.Lag), millis(cv.Uncommitted), bytesText(cv.Backlog), rate(cv.EventsPerSecond)))
		if !bars(cv.Name) {
			continue
		}
		for _, tp := range cv.Tables {
			lines = append(lines, "  "+tableBar(tp))
		}
	}
	v.redraw(lines)
	return nil
}

// redraw replaces the last drawing on the terminal with lines: the cursor goes back to the
// drawing's first line, and everything below it is cleared.
func (v *statusView) redraw(lines []string) {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", v.drawn)
	}
	b.WriteString("\x1b[J")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	v.drawn = len(lines)
	_ = v.write(b.String())
}

// plain prints one line per connector and per snapshot table, each with the time.
func (v *statusView) plain(conns []connectorView, now time.Time, bars func(string) bool) error {
	var b strings.Builder
	ts := now.Format(time.TimeOnly)
	for _, cv := range conns {
		fmt.Fprintf(&b, "%s connector=%s state=%s lag_ms=%s uncommitted_lag_ms=%s retained_bytes=%s events_per_second=%s\n",
			ts, cv.Name, orDash(cv.State), plainNumber(cv.Lag*1000, cv.Lag), plainNumber(cv.Uncommitted*1000, cv.Uncommitted),
			plainNumber(cv.Backlog, cv.Backlog), plainNumber(cv.EventsPerSecond, cv.EventsPerSecond))
		if !bars(cv.Name) {
			continue
		}
		for _, tp := range cv.Tables {
			pct, left := progress(tp)
			fmt.Fprintf(&b, "%s connector=%s table=%s rows=%d estimated=%.0f percent=%.0f rows_per_second=%.0f left=%s\n",
				ts, cv.Name, tp.Table, tp.Rows, tp.EstimatedTotal, pct, tp.RowsPerSecond, left)
		}
	}
	return v.write(b.String())
}

// write writes s to the view's output.
func (v *statusView) write(s string) error {
	_, err := io.WriteString(v.out, s)
	return err
}

// snapshotRunning tells whether a table of a snapshot is still being read.
func snapshotRunning(tables []api.TableProgress) bool {
	for _, tp := range tables {
		if !tp.Done {
			return true
		}
	}
	return false
}

// progress returns a table's percentage read (100 once done; at most 99 before, whatever the
// estimate says: the statistics may count fewer rows than there are) and the time left ("-"
// when unknown).
func progress(tp api.TableProgress) (float64, string) {
	if tp.Done {
		return 100, "0s"
	}
	if tp.EstimatedTotal <= 0 {
		return 0, "-"
	}
	pct := math.Min(99, 100*float64(tp.Rows)/tp.EstimatedTotal)
	left := "-"
	if tp.RowsPerSecond > 0 {
		rest := math.Max(tp.EstimatedTotal-float64(tp.Rows), 0) / tp.RowsPerSecond
		left = (time.Duration(rest) * time.Second).String()
	}
	return pct, left
}

// tableBar is a table's progress line: the bar, the percentage, rows done of the estimate,
// the rate and the time left.
func tableBar(tp api.TableProgress) string {
	pct, left := progress(tp)
	full := int(pct / 100 * barWidth)
	bar := strings.Repeat("#", full) + strings.Repeat("-", barWidth-full)
	return fmt.Sprintf("%-22s [%s] %3.0f%%  %d/%.0f rows  %.0f rows/s  %s left", tp.Table, bar, pct,
		tp.Rows, tp.EstimatedTotal, tp.RowsPerSecond, left)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// millis shows seconds as milliseconds; "-" when unknown (negative).
func millis(s float64) string {
	if s < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

func rate(r float64) string {
	if r < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", r)
}

// bytesText shows a byte count in binary units; "-" when unknown (negative).
func bytesText(n float64) string {
	switch {
	case n < 0:
		return "-"
	case n < 1<<10:
		return fmt.Sprintf("%.0f B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	default:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	}
}

// plainNumber prints v, or "-" when the value it comes from (raw) is unknown (negative).
func plainNumber(v, raw float64) string {
	if raw < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}
