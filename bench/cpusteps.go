package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// cpuStep is a share of a CPU profile's samples: those whose stack a step's code is in.
type cpuStep struct {
	name string
	// what says which code the step counts.
	what string
	// share is the step's part of all samples, 0 to 1.
	share float64
}

// cpuStepRules classify a sample by its stack. GC first: a collector's work is GC wherever
// it was triggered (an assist runs inside the allocating code). Then from the leaf up, the
// first frame that belongs to a step names it, so that an allocation or a copy is counted to
// the code that asked for it; the step of a frame is the first rule whose pattern it holds.
var cpuStepRules = []struct {
	name, what string
	patterns   []string
}{
	{"compression", "the producer's codec: snappy, lz4, zstd, gzip", []string{"klauspost/compress", "pierrec/lz4", "golang/snappy", "compress/flate", "compress/gzip"}},
	{"Kafka client", "franz-go: batching, the wire protocol, its connections", []string{"twmb/franz-go"}},
	{"COPY read", "pgx/pgconn: the connection and the COPY protocol", []string{"jackc/pgx", "jackc/pgconn", "jackc/pglogrepl"}},
	{"decode", "the source: COPY rows into values (connectors/postgres, decoder, snapshot)", []string{"cdcd/decoder", "cdcd/connectors/", "cdcd/snapshot"}},
	{"encode", "the format: values into Avro envelopes (format, hamba/avro)", []string{"cdcd/format", "hamba/avro"}},
	{"pipeline", "the stages between: queues, batches, Kafka transactions (pipeline, transform, connectors.Queue)", []string{"cdcd/pipeline", "cdcd/transform", "cdcd/connectors."}},
}

// gcFrames are the frames of the collector's own work.
var gcFrames = []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcDrain"}

// cpuSteps splits the CPU profile of the cdcd binary into steps, with go tool pprof.
func (b *bench) cpuSteps(ctx context.Context, profile string) ([]cpuStep, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", b.cdcdBin, profile).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -traces %s: %w", profile, err)
	}
	return classifyTraces(out)
}

// classifyTraces splits pprof's -traces output (stacks, leaf first, each headed by its
// samples' time) into the steps of cpuStepRules, GC and "other" (the scheduler, syscalls
// outside a step, the runtime).
func classifyTraces(traces []byte) ([]cpuStep, error) {
	const gc, other = "GC", "other"
	sums := map[string]time.Duration{}
	var total time.Duration
	var value time.Duration
	var stack []string
	flush := func() {
		if len(stack) > 0 {
			step := classifyStack(stack)
			if step == "" {
				step = other
			}
			sums[step] += value
			total += value
		}
		stack, value = stack[:0], 0
	}
	sc := bufio.NewScanner(bytes.NewReader(traces))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	inTraces := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			inTraces = true
			continue
		}
		if !inTraces || strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		if line[0] != ' ' || len(stack) == 0 && value == 0 {
			// The first line of a stack: its time, then its leaf frame.
			if d, err := time.ParseDuration(fields[0]); err == nil && len(fields) > 1 {
				value = d
				stack = append(stack, fields[1])
				continue
			}
		}
		if strings.HasPrefix(fields[0], "bytes:") || strings.Contains(line, ":") && !strings.Contains(line, ".") {
			continue // a label line
		}
		stack = append(stack, fields[0])
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading pprof's traces: %w", err)
	}
	if total == 0 {
		return nil, fmt.Errorf("the CPU profile holds no samples")
	}
	var steps []cpuStep
	for _, r := range cpuStepRules {
		steps = append(steps, cpuStep{name: r.name, what: r.what, share: float64(sums[r.name]) / float64(total)})
	}
	steps = append(steps,
		cpuStep{name: gc, what: "the collector: mark workers, assists, sweeping", share: float64(sums[gc]) / float64(total)},
		cpuStep{name: other, what: "the rest: scheduler, runtime, syscalls outside a step", share: float64(sums[other]) / float64(total)})
	return steps, nil
}

// classifyStack names the step of one stack, leaf first; "" when none holds it.
func classifyStack(stack []string) string {
	for _, f := range stack {
		for _, g := range gcFrames {
			if strings.HasPrefix(f, g) {
				return "GC"
			}
		}
	}
	for _, f := range stack {
		for _, r := range cpuStepRules {
			for _, p := range r.patterns {
				if strings.Contains(f, p) {
					return r.name
				}
			}
		}
	}
	return ""
}
