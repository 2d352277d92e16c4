package main

import (
	"flag"
	"fmt"
)

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
}

func defaultScaleSettings() scaleSettings {
	return scaleSettings{tables: 1_000, rows: 200_000, connectors: 50, connectorRows: 200_000, partitionRows: 300_000}
}

func (s *scaleSettings) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.tables, "scale-tables", s.tables, "tables of the scale phase's one connector")
	fs.IntVar(&s.rows, "scale-rows", s.rows, "rows spread over the scale phase's tables")
	fs.IntVar(&s.connectors, "scale-connectors", s.connectors, "connectors of the scale phase's daemon, one database each")
	fs.IntVar(&s.connectorRows, "scale-connector-rows", s.connectorRows, "rows written over all of the scale phase's connectors")
	fs.IntVar(&s.partitionRows, "scale-partition-rows", s.partitionRows, "rows of each of the scale phase's partitions runs")
	fs.IntVar(&s.pgPort, "scale-pg-port", s.pgPort, "PostgreSQL port of the scale phase (0: a private server it starts; "+
		"it needs more max_replication_slots than -scale-connectors)")
}

func (s scaleSettings) validate() error {
	switch {
	case s.tables < 1 || s.rows < 1 || s.connectors < 1 || s.connectorRows < 1 || s.partitionRows < 1:
		return fmt.Errorf("%w: the -scale-* counts must be positive", ErrSettings)
	case s.pgPort < 0 || s.pgPort > 65535:
		return fmt.Errorf("%w: -scale-pg-port %d is not a TCP port", ErrSettings, s.pgPort)
	}
	return nil
}
