// Package connectors holds what the sources in its subpackages share: postgres (logical
// replication) and mysql (the binlog of MySQL and MariaDB) each implement connectors.Source,
// and each is one connector Kind, the daemon's only way to know a source.
package connectors
