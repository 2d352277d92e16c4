package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "cdcd",
		Short:         "Change data capture from PostgreSQL and MySQL into Kafka, exactly once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCommand(), newTailCommand(), newVersionCommand(), newConnectorsCommand(), newOffsetsCommand(),
		newClusterCommand(), newStatusCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cdcd's version",
		// On stdout, as any asked-for output (cobra's Println writes to stderr).
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "cdcd", version)
			return err
		},
	}
}
