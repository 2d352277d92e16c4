// Command cdcd is the change-data-capture daemon: `cdcd run --config FILE` runs the configured
// connectors until SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cdcd:", err)
		os.Exit(1)
	}
}
