package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cleanupTimeout bounds each cleanup step, which runs even after the bench's context ended.
const cleanupTimeout = 60 * time.Second

// bench holds what the measurements share: the settings, the cdcd binary, and the cleanups of
// everything created so far.
type bench struct {
	s   settings
	log io.Writer
	// runID makes every name this run creates unique, so that runs never meet.
	runID string
	// tmp holds the cdcd binary, configs and logs; removed at the end unless a phase failed.
	tmp     string
	cdcdBin string
	// cleanups run last-registered first: cdcd is stopped before its slot is dropped, a slot is
	// dropped before its database.
	cleanups []cleanup
	failed   bool
	// format is the format of the cdcd runs configured meanwhile (newCDCDConfig), set only
	// around the start of a format's throughput run (formats.go); empty is avro.
	format string
	// scraped makes the cdcd runs configured meanwhile open a health listener, whose /metrics
	// the throughput then scrapes (scrape.go); set only around the scraped throughput's start.
	scraped bool
	// health makes the cdcd runs configured meanwhile open a health listener, unscraped, for
	// a phase that reads /metrics once at its end (the latency's steps, latencysteps.go).
	health bool
	// codec is kafka.compression of the cdcd runs configured meanwhile, set only around the
	// start of each of the snapshot phase's runs (-snapshot-codecs); empty: cdcd's default.
	codec string
	// batchRecords is max_batch_records of the cdcd runs configured meanwhile, set with codec.
	batchRecords int
	// warmedUp says the first latency measurement's warm-up ran (measureLatency): later ones
	// find the broker warm.
	warmedUp bool
}

type cleanup struct {
	what string
	fn   func(ctx context.Context) error
}

// onCleanup registers fn to run when the bench ends.
func (b *bench) onCleanup(what string, fn func(ctx context.Context) error) {
	b.cleanups = append(b.cleanups, cleanup{what: what, fn: fn})
}

// cleanup runs the registered cleanups, reporting (not stopping at) each failure.
func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		c := b.cleanups[i]
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if err := c.fn(ctx); err != nil {
			fmt.Fprintf(b.log, "bench: cleanup: %s: %v\n", c.what, err)
		}
		cancel()
	}
	b.cleanups = nil
	if b.tmp != "" {
		if b.failed {
			fmt.Fprintf(b.log, "bench: cdcd configs and logs kept in %s\n", b.tmp)
		} else {
			_ = os.RemoveAll(b.tmp)
		}
	}
}

// name returns a name unique to this run for phase, made of lowercase letters, digits and
// underscores: valid as a PostgreSQL database and slot name and as a Kafka topic name.
func (b *bench) name(phase string) string {
	if b.runID == "" {
		var r [3]byte
		_, _ = rand.Read(r[:])
		b.runID = hex.EncodeToString(r[:])
	}
	return "bench_" + b.runID + "_" + phase
}

// tempDir returns the run's folder of binaries, configs and logs, creating it once.
func (b *bench) tempDir() (string, error) {
	if b.tmp == "" {
		dir, err := os.MkdirTemp("", "cdcd-bench-")
		if err != nil {
			return "", fmt.Errorf("creating a temporary folder: %w", err)
		}
		b.tmp = dir
	}
	return b.tmp, nil
}

// progress prints what the bench is doing to stderr, so that stdout holds only the results.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// machine describes where the figures were measured. A version that cannot be read is shown as
// unknown with the reason: the line is informative, not a measurement.
func (b *bench) machine(ctx context.Context) string {
	pg, err := b.postgresVersion(ctx)
	if err != nil {
		pg = "unknown (" + err.Error() + ")"
	}
	kafka, err := b.kafkaVersion(ctx)
	if err != nil {
		kafka = "unknown (" + err.Error() + ")"
	}
	line := fmt.Sprintf("machine: nproc %s, %s, PostgreSQL %s, Kafka %s", strconv.Itoa(runtime.NumCPU()),
		runtime.Version(), pg, kafka)
	// The load says whether the figures were measured on a quiet machine.
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(load)); len(f) >= 3 {
			line += ", load average " + strings.Join(f[:3], " ")
		}
	}
	if slices.ContainsFunc(mysqlMeasurements, b.s.selected) {
		my, err := b.mysqlVersion(ctx)
		if err != nil {
			my = "unknown (" + err.Error() + ")"
		}
		line += ", MariaDB " + my
	}
	return line
}
