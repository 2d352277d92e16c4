package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// stepsMetric is the histogram of cdcd's commit latency steps (worker/steps.go).
const stepsMetric = "cdcd_connector_step_seconds"

// stepHist is one step's histogram as scraped: cumulative counts per upper bound, in seconds.
type stepHist struct {
	bounds []float64
	cum    []uint64
}

// stepsScrape is the step histograms of one connector at one moment, by step, with the steps'
// order as exported.
type stepsScrape struct {
	order []string
	hists map[string]*stepHist
}

// stepFigure is one step's share of the latency over a measurement.
type stepFigure struct {
	step     string
	count    uint64
	p50, p99 float64 // milliseconds, interpolated in the histogram's buckets
}

// readSteps reads the step histograms of connector from cdcd's /metrics at url.
func readSteps(ctx context.Context, url, connector string) (stepsScrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return stepsScrape{}, fmt.Errorf("reading the latency steps: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return stepsScrape{}, fmt.Errorf("reading the latency steps: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return stepsScrape{}, fmt.Errorf("reading the latency steps from %s: %s", url, resp.Status)
	}
	return parseSteps(resp.Body, connector)
}

// parseSteps reads the bucket lines of stepsMetric for connector from a Prometheus text
// exposition.
func parseSteps(r io.Reader, connector string) (stepsScrape, error) {
	s := stepsScrape{hists: make(map[string]*stepHist)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	prefix := stepsMetric + "_bucket{"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			return stepsScrape{}, fmt.Errorf("latency steps: malformed line %q", line)
		}
		labels := parseLabels(line[len(prefix):end])
		if labels["connector"] != connector {
			continue
		}
		count, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return stepsScrape{}, fmt.Errorf("latency steps: line %q: %w", line, err)
		}
		le, err := strconv.ParseFloat(labels["le"], 64) // "+Inf" parses as +Inf
		if err != nil {
			return stepsScrape{}, fmt.Errorf("latency steps: line %q: %w", line, err)
		}
		step := labels["step"]
		h := s.hists[step]
		if h == nil {
			h = &stepHist{}
			s.hists[step] = h
			s.order = append(s.order, step)
		}
		h.bounds = append(h.bounds, le)
		h.cum = append(h.cum, uint64(count))
	}
	if err := sc.Err(); err != nil {
		return stepsScrape{}, fmt.Errorf("latency steps: %w", err)
	}
	if len(s.order) == 0 {
		return stepsScrape{}, fmt.Errorf("latency steps: no %s of connector %s in /metrics", stepsMetric, connector)
	}
	return s, nil
}

// parseLabels splits the labels of an exposition line, whose values hold no comma or quote
// here (connector names, step names, numbers).
func parseLabels(s string) map[string]string {
	out := make(map[string]string)
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.Trim(v, `"`)
		}
	}
	return out
}

// stepOrder is the order a source transaction goes through cdcd's steps; /metrics sorts them
// by name.
var stepOrder = []string{"receive", "queue", "linger", "flush", "end_txn", "committed"}

// since returns the steps' figures over what was observed after before, in stepOrder (a step
// it does not know last).
func (s stepsScrape) since(before stepsScrape) []stepFigure {
	order := slices.Clone(s.order)
	rank := func(step string) int {
		if i := slices.Index(stepOrder, step); i >= 0 {
			return i
		}
		return len(stepOrder)
	}
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	out := make([]stepFigure, 0, len(order))
	for _, step := range order {
		h := s.hists[step]
		cum := slices.Clone(h.cum)
		if b := before.hists[step]; b != nil && len(b.cum) == len(cum) {
			for i := range cum {
				cum[i] -= min(b.cum[i], cum[i])
			}
		}
		f := stepFigure{step: step}
		if len(cum) > 0 {
			f.count = cum[len(cum)-1]
		}
		f.p50 = bucketQuantile(0.5, h.bounds, cum) * 1000
		f.p99 = bucketQuantile(0.99, h.bounds, cum) * 1000
		out = append(out, f)
	}
	return out
}

// bucketQuantile estimates the q quantile from cumulative bucket counts as Prometheus's
// histogram_quantile does: linearly inside the bucket that holds it, from 0 for the first; a
// quantile in the +Inf bucket is the last finite bound. NaN without observations.
func bucketQuantile(q float64, bounds []float64, cum []uint64) float64 {
	if len(cum) == 0 || cum[len(cum)-1] == 0 {
		return math.NaN()
	}
	rank := q * float64(cum[len(cum)-1])
	for i, c := range cum {
		if float64(c) < rank {
			continue
		}
		if math.IsInf(bounds[i], 1) {
			if i == 0 {
				return math.NaN()
			}
			return bounds[i-1]
		}
		lo, below := 0.0, uint64(0)
		if i > 0 {
			lo, below = bounds[i-1], cum[i-1]
		}
		in := c - below
		if in == 0 {
			return bounds[i]
		}
		return lo + (bounds[i]-lo)*(rank-float64(below))/float64(in)
	}
	return bounds[len(bounds)-1]
}

// stepNotes say what each of cdcd's steps covers, in the order a source transaction goes
// through them.
var stepNotes = map[string]string{
	"receive":   "source commit to cdcd's encode stage taking the transaction's end (sending, decoding, source queue)",
	"queue":     "encode stage to Kafka stage (encoding of the batch, encode queue)",
	"linger":    "Kafka stage taking the transaction's end to the start of the Kafka commit (batching)",
	"flush":     "offset record produced to every record acknowledged, per Kafka transaction",
	"end_txn":   "EndTxn (the coordinator's commit), per Kafka transaction",
	"committed": "source commit to Kafka commit done, per source transaction",
}

// addSteps adds the latency's steps to the table, p50 and p99 of each, and what is left of the
// latency after cdcd's commit: the consumer's read_committed visibility (the transaction
// markers, the fetch), as the difference of the percentiles.
func addSteps(add func(measurement string, value float64, unit, note string), r latencyResult) {
	for _, f := range r.steps {
		if f.count == 0 {
			// A source without commit times (MariaDB's, whose binlog has whole seconds only)
			// leaves the steps timed from them, receive and committed, empty.
			continue
		}
		note := fmt.Sprintf("%s; %d observations", stepNotes[f.step], f.count)
		add("latency step "+f.step+" p50", f.p50, "ms", note)
		add("latency step "+f.step+" p99", f.p99, "ms", note)
		if f.step == "committed" {
			add("latency step visible p50", r.p50-f.p50, "ms", "latency p50 minus committed p50: transaction markers and the consumer's fetch")
			add("latency step visible p99", r.p99-f.p99, "ms", "latency p99 minus committed p99 (a difference of percentiles, not a percentile)")
		}
	}
}

// lingerYAML is the connector's batch_linger line, none for cdcd's default.
func (c cdcdConfig) lingerYAML() string {
	if c.batchLinger == "" {
		return ""
	}
	return "    batch_linger: " + c.batchLinger + "\n"
}
