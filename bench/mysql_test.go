package main

import (
	"slices"
	"strings"
	"testing"
)

func TestMariadbBinlogArgs(t *testing.T) {
	args := mariadbBinlogArgs("127.0.0.1", 33306, "root", 4, 9000, []string{"mysql-bin.000004", "mysql-bin.000005"})
	if args[0] != "--no-defaults" {
		t.Errorf("first argument %q, want --no-defaults (it must come first)", args[0])
	}
	joined := strings.Join(args, " ")
	for _, want := range []string{"--read-from-remote-server", "--host=127.0.0.1", "--port=33306", "--user=root",
		"--start-position=4", "--stop-position=9000"} {
		if !slices.Contains(args, want) {
			t.Errorf("mariadb-binlog arguments %q lack %q", joined, want)
		}
	}
	// --start-position applies to the first file named, --stop-position to the last: the files
	// come last, in order.
	if !strings.HasSuffix(joined, " mysql-bin.000004 mysql-bin.000005") {
		t.Errorf("mariadb-binlog arguments %q do not end with the files in order", joined)
	}
	if strings.Contains(joined, "password") {
		t.Errorf("mariadb-binlog arguments %q name a password", joined)
	}
}

func TestBinlogFiles(t *testing.T) {
	logs := []string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000004"}
	tests := []struct {
		first, last string
		want        []string
	}{
		{"mysql-bin.000003", "mysql-bin.000003", []string{"mysql-bin.000003"}},
		{"mysql-bin.000002", "mysql-bin.000004", []string{"mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000004"}},
		{"mysql-bin.000000", "mysql-bin.000004", nil},
		{"mysql-bin.000002", "mysql-bin.000009", nil},
		{"mysql-bin.000003", "mysql-bin.000002", nil},
	}
	for _, tt := range tests {
		got, err := binlogFiles(logs, tt.first, tt.last)
		if tt.want == nil {
			if err == nil {
				t.Errorf("binlogFiles(%s, %s) = %v, want an error", tt.first, tt.last, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("binlogFiles(%s, %s) = %v, %v; want %v", tt.first, tt.last, got, err, tt.want)
		}
	}
}
