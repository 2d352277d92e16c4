package connectors

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The checks the kinds' sections share (Kind.Validate), each adding its problems with add.

// CheckText refuses a control character (a newline, say) in a source's connection settings:
// they go into connection strings and logs, where one would cut or forge a line. The host is
// checked as a host name or address.
func CheckText(section string, fields map[string]string, add AddFunc) {
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		v := fields[key]
		if key == "host" {
			if v != "" {
				if err := CheckHost(v); err != nil {
					add(section+".host", "%s", err)
				}
			}
			continue
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			add(section+"."+key, "%q holds a control character", v)
		}
	}
}

// CheckList refuses an empty entry in a list of names (`a,,b` over the API) and one listed twice.
func CheckList(key string, items []string, add AddFunc) {
	seen := make(map[string]bool, len(items))
	for i, item := range items {
		switch {
		case strings.TrimSpace(item) == "":
			add(key, "entry %d is empty (two commas in a row?)", i+1)
		case strings.ContainsFunc(item, unicode.IsControl):
			add(key, "%q holds a control character", item)
		case seen[item]:
			add(key, "%q is listed twice", item)
		}
		seen[item] = true
	}
}

// CheckPort refuses a port outside 1 to 65535 (defaults applied: 0 is not a port).
func CheckPort(key string, port int, add AddFunc) {
	if port < 1 || port > 65535 {
		add(key, "%d is not a TCP port", port)
	}
}

// CheckSnapshotShared checks the snapshot and heartbeat settings every source section has,
// named under section.
func CheckSnapshotShared(section string, chunkRows int, chunkBytes int64, incrementalRows int, heartbeat string, add AddFunc) {
	if chunkRows < 0 {
		add(section+".snapshot_chunk_rows", "cannot be negative")
	}
	if chunkBytes != 0 && (chunkBytes < MinSnapshotChunkBytes || chunkBytes > MaxSnapshotChunkBytes) {
		add(section+".snapshot_chunk_bytes", "%d is not 0 (16 MiB) or %d to %d bytes", chunkBytes,
			MinSnapshotChunkBytes, MaxSnapshotChunkBytes)
	}
	if incrementalRows < 0 {
		add(section+".incremental_snapshot_chunk_rows", "cannot be negative")
	}
	if heartbeat != "" {
		d, err := time.ParseDuration(heartbeat)
		if err != nil || d < 0 || d > 0 && d < MinHeartbeatInterval {
			add(section+".heartbeat_interval", "%q is not 0 (off) or a duration of at least %s like 10s",
				heartbeat, MinHeartbeatInterval)
		}
	}
}

// CheckQualified refuses a table named without its schema (PostgreSQL) or database (MySQL),
// part: `tables: [items]` would pass the file and the API and then stop the connector when the
// source opens. Nothing is guessed (public is not the only schema a search_path finds): the
// message gives the qualified name to write, with example as the qualifier.
func CheckQualified(key, table, part, example string, add AddFunc) {
	if table != "" && !HasUnquotedDot(table) {
		add(key, "%s", fmt.Sprintf("%q has no %s: write %s.table, e.g. %s.%s", table, part, part, example, table))
	}
}

// HasUnquotedDot tells whether name has a dot outside double quotes (PostgreSQL) and
// backquotes (MySQL): the separator of a qualified name, "my.schema".items counting once.
func HasUnquotedDot(name string) bool {
	var quote rune
	for _, r := range name {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '`':
			quote = r
		case r == '.':
			return true
		}
	}
	return false
}
