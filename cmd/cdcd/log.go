package main

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// newLogger builds the daemon's logger from the config's log section (already validated).
// Durations are logged with their unit ("8s", Stringer), never zerolog's Dur, whose bare
// number of milliseconds a reader takes for seconds (TestNoUnitlessDurationsInLogs).
func newLogger(cfg LogConfig, out io.Writer) zerolog.Logger {
	if out == nil {
		out = os.Stderr
	}
	if cfg.Format == "console" {
		// Colour codes only on a terminal: in a file or a pipe they are noise a reader and
		// grep stumble on.
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.RFC3339Nano, NoColor: !isTerminal(out)}
	}
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger()
}

// isTerminal tells whether w is a character device (a terminal), not a file, pipe or buffer.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
