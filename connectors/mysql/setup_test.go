package mysql

import (
	"errors"
	"testing"
)

func TestJudgeSettings(t *testing.T) {
	good := settings{logBin: true, binlogFormat: "ROW", rowImage: "FULL", gtidMode: "ON", serverID: 1}
	for _, tc := range []struct {
		name  string
		f     Flavor
		edit  func(*settings)
		field string
	}{
		{"good mysql", FlavorMySQL, func(*settings) {}, ""},
		{"mariadb without gtid_mode", FlavorMariaDB, func(s *settings) { s.gtidMode = "" }, ""},
		{"no binlog", FlavorMariaDB, func(s *settings) { s.logBin = false }, "log_bin"},
		{"mixed", FlavorMySQL, func(s *settings) { s.binlogFormat = "MIXED" }, "binlog_format"},
		{"minimal image", FlavorMySQL, func(s *settings) { s.rowImage = "MINIMAL" }, "binlog_row_image"},
		{"gtid off", FlavorMySQL, func(s *settings) { s.gtidMode = "OFF_PERMISSIVE" }, "gtid_mode"},
		{"same server id", FlavorMySQL, func(s *settings) { s.serverID = 77 }, "server id"},
	} {
		s := good
		tc.edit(&s)
		err := judgeSettings(tc.f, s, 77)
		var ce *ConfigError
		if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field) {
			t.Errorf("%s: %v, want field %q", tc.name, err, tc.field)
		}
	}
}

func TestJudgeGrants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		ok    bool
	}{
		{"mariadb capture user", []string{"GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdcd`@`%` IDENTIFIED BY PASSWORD '*CD'"}, true},
		{"mysql", []string{"GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cdcd`@`%`"}, true},
		{"all", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, true},
		{"database level only", []string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `u`@`%`"}, false},
		{"no reload", []string{"GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cdcd`@`%`"}, false},
	} {
		err := judgeGrants("cdcd", FlavorMariaDB, tc.lines)
		var ce *ConfigError
		if tc.ok != (err == nil) || err != nil && (!errors.As(err, &ce) || ce.Field != "grants") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
