package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cdcd-dev/cdcd/api"
)

// `cdcd status` shows what a running daemon's connectors are doing, from two things the daemon
// serves anyway: GET /metrics (state, lag, retained WAL, records committed) and GET
// /connectors/{name}/status (the snapshot's progress per table). With --watch it asks again
// every --interval and redraws in place on a terminal, or prints plain lines, one per connector
// and per snapshot table, when its output is not one (a pipe, a log file).

func newStatusCommand() *cobra.Command {
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each connector's state, lag, retained WAL, events per second and snapshot progress",
		Args:  cobra.NoArgs,
	}
	c := apiFlags(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "ask again every --interval until interrupted, redrawing in place on a terminal")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "the time between two looks with --watch")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if interval <= 0 {
			return fmt.Errorf("--interval %s: must be positive", interval)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		out := cmd.OutOrStdout()
		v := &statusView{out: out, terminal: isTerminal(out), base: c.base}
		if !watch {
			return v.once(ctx, c)
		}
		return v.watch(ctx, c, interval)
	}
	return cmd
}

// connectorView is what status shows of one connector at one look.
type connectorView struct {
	Name  string
	State string
	// Lag and Uncommitted are cdcd_connector_lag_seconds and _uncommitted_lag_seconds; Backlog
	// is cdcd_connector_source_backlog_bytes; negative when the daemon has none.
	Lag, Uncommitted, Backlog float64
	// Records is cdcd_connector_records_total; EventsPerSecond its rate since the last look
	// (negative at the first).
	Records         float64
	EventsPerSecond float64
	Tables          []api.TableProgress
}

// statusView draws the looks; it keeps the last one, for rates and to redraw in place.
type statusView struct {
	out      io.Writer
	terminal bool
	base     string
	// drawn is the number of lines the last drawing took on the terminal.
	drawn int
	last  map[string]connectorView
	at    time.Time
	// snapshotting holds the connectors whose bars the last look drew.
	snapshotting map[string]bool
}

func (v *statusView) once(ctx context.Context, c *apiClient) error {
	conns, err := look(ctx, c)
	if err != nil {
		return err
	}
	return v.draw(conns, time.Now())
}

func (v *statusView) watch(ctx context.Context, c *apiClient, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		conns, err := look(ctx, c)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !v.terminal:
			return err
		case err != nil: // on a terminal, say it in place and look again
			v.redraw([]string{"cdcd status: " + err.Error()})
		default:
			if err := v.draw(conns, time.Now()); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// look reads the daemon's metrics and each connector's snapshot progress.
func look(ctx context.Context, c *apiClient) ([]connectorView, error) {
	text, err := c.getText(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	byName := map[string]*connectorView{}
	get := func(name string) *connectorView {
		cv := byName[name]
		if cv == nil {
			cv = &connectorView{Name: name, Lag: -1, Uncommitted: -1, Backlog: -1, EventsPerSecond: -1}
			byName[name] = cv
		}
		return cv
	}
	for _, s := range parseMetrics(text) {
		name := s.labels["connector"]
		if name == "" {
			continue
		}
		switch s.name {
		case "cdcd_connector_state":
			cv := get(name)
			if s.value == 1 {
				cv.State = s.labels["state"]
			}
		case "cdcd_connector_lag_seconds":
			get(name).Lag = s.value
		case "cdcd_connector_uncommitted_lag_seconds":
			get(name).Uncommitted = s.value
		case "cdcd_connector_source_backlog_bytes":
			get(name).Backlog = s.value
		case "cdcd_connector_records_total":
			get(name).Records = s.value
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range byName {
			if !yield(n) {
				return
			}
		}
	})
	out := make([]connectorView, 0, len(names))
	for _, n := range names {
		cv := byName[n]
		var st api.ConnectorStatus
		if err := c.do(ctx, http.MethodGet, pathOf("connectors", n, "status"), nil, &st); err == nil {
			cv.Tables = st.Snapshot
			slices.SortFunc(cv.Tables, func(a, b api.TableProgress) int { return strings.Compare(a.Table, b.Table) })
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out = append(out, *cv)
	}
	return out, nil
}

// getText GETs path and returns its body, for /metrics (Prometheus's text format).
func (c *apiClient) getText(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.base, "/")+path, nil)
	if err != nil {
		return "", fmt.Errorf("--api %s: %w", c.base, err)
	}
	req.Header.Set("Accept", "text/plain")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling the daemon at %s: %w", c.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("reading the daemon's %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	return string(raw), nil
}

// sample is one line of Prometheus's text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the samples of Prometheus's text format, skipping comments and any line
// it cannot read (status shows what it finds).
func parseMetrics(text string) []sample {
	var out []sample
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i > 0 {
			s.name, rest = line[:i], line[i:]
		} else {
			continue
		}
		if rest[0] == '{' {
			var ok bool
			if rest, ok = parseLabels(rest[1:], s.labels); !ok {
				continue
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

// parseLabels reads `name="value",...}` into labels and returns what follows the brace.
func parseLabels(s string, labels map[string]string) (string, bool) {
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return "", false
		}
		if s[0] == '}' {
			return s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", false
		}
		name := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return "", false
		}
		labels[name] = b.String()
		s = s[i+1:]
	}
}
