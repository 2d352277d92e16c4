package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// The runs of the scale phase, as -scale-runs names them.
const (
	scaleRunTables     = "tables"
	scaleRunConnectors = "connectors"
	scaleRunPartitions = "partitions"
)

// scaleRuns are every run of the scale phase, in the order they run.
var scaleRuns = []string{scaleRunTables, scaleRunConnectors, scaleRunPartitions}

// scaleSettings are the scale phase's knobs.
type scaleSettings struct {
	// tables are the tables of the one connector of the many-tables run, rows the rows spread
	// over them.
	tables, rows int
	// connectors are the connectors of the many-connectors daemon, one database each;
	// connectorRows the rows written over all of them.
	connectors, connectorRows int
	// partitionRows are the rows of each partitions run.
	partitionRows int
	// pgPort is the PostgreSQL the phase uses; 0 starts a private one (the phase restarts
	// cdcd with 50 slots, which the shared server has no room for).
	pgPort int
	// runs are the runs of the phase that run (scaleRuns' names); the -scale-runs flag sets
	// them, all by default.
	runs []string
	// logLevel is the log.level of the phase's daemons (debug shows each Kafka commit).
	logLevel string
}

// runs tells whether the run named run is selected.
func (s scaleSettings) selected(run string) bool { return slices.Contains(s.runs, run) }

func defaultScaleSettings() scaleSettings {
	return scaleSettings{tables: 1_000, rows: 200_000, connectors: 50, connectorRows: 200_000, partitionRows: 300_000,
		runs: slices.Clone(scaleRuns), logLevel: "info"}
}

func (s *scaleSettings) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.tables, "scale-tables", s.tables, "tables of the scale phase's one connector")
	fs.IntVar(&s.rows, "scale-rows", s.rows, "rows spread over the scale phase's tables")
	fs.IntVar(&s.connectors, "scale-connectors", s.connectors, "connectors of the scale phase's daemon, one database each")
	fs.IntVar(&s.connectorRows, "scale-connector-rows", s.connectorRows, "rows written over all of the scale phase's connectors")
	fs.IntVar(&s.partitionRows, "scale-partition-rows", s.partitionRows, "rows of each of the scale phase's partitions runs")
	fs.IntVar(&s.pgPort, "scale-pg-port", s.pgPort, "PostgreSQL port of the scale phase (0: a private server it starts; "+
		"it needs more max_replication_slots than -scale-connectors)")
	fs.StringVar(&s.logLevel, "scale-log-level", s.logLevel, "log.level of the scale phase's cdcd (debug, info, warn, error)")
	fs.Func("scale-runs", "runs of the scale phase, comma-separated: "+strings.Join(scaleRuns, ", ")+" (default all)",
		func(v string) error {
			s.runs = nil
			for r := range strings.SplitSeq(v, ",") {
				if r = strings.TrimSpace(r); r != "" && !slices.Contains(s.runs, r) {
					s.runs = append(s.runs, r)
				}
			}
			return nil
		})
}

func (s scaleSettings) validate() error {
	switch {
	case s.tables < 1 || s.rows < 1 || s.connectors < 1 || s.connectorRows < 1 || s.partitionRows < 1:
		return fmt.Errorf("%w: the -scale-* counts must be positive", ErrSettings)
	case len(s.runs) == 0:
		return fmt.Errorf("%w: -scale-runs names no run (%s)", ErrSettings, strings.Join(scaleRuns, ", "))
	case slices.ContainsFunc(s.runs, func(r string) bool { return !slices.Contains(scaleRuns, r) }):
		return fmt.Errorf("%w: -scale-runs %s: each must be one of %s", ErrSettings, strings.Join(s.runs, ","), strings.Join(scaleRuns, ", "))
	case !slices.Contains([]string{"debug", "info", "warn", "error"}, s.logLevel):
		return fmt.Errorf("%w: -scale-log-level %q is not one of debug, info, warn, error", ErrSettings, s.logLevel)
	case s.pgPort < 0 || s.pgPort > 65535:
		return fmt.Errorf("%w: -scale-pg-port %d is not a TCP port", ErrSettings, s.pgPort)
	}
	return nil
}
