package mysql

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "shop", Host: "db", User: "cdcd", Password: "secret", Tables: []string{"shop.orders"},
		History: fakeHistory{}}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"valid", func(*Config) {}, ""},
		{"all tables", func(c *Config) { c.Tables = nil }, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name"},
		{"no host", func(c *Config) { c.Host = "" }, "host"},
		{"no user", func(c *Config) { c.User = "" }, "user"},
		{"heartbeat too short", func(c *Config) { c.HeartbeatPeriod = time.Millisecond }, "heartbeat period"},
		{"negative timeout", func(c *Config) { c.ConnectTimeout = -time.Second }, "connect timeout"},
		{"table without database", func(c *Config) { c.Tables = []string{"orders"} }, "tables"},
		{"table twice", func(c *Config) { c.Tables = []string{"shop.orders", "shop.orders"} }, "tables"},
		{"bad database", func(c *Config) { c.Databases = []string{"ab "} }, "databases"},
		{"database with a dot", func(c *Config) { c.Databases = []string{"a.b"} }, ""},
		{"names that need quoting in SQL", func(c *Config) {
			c.Tables = []string{"shop.Ümlaut Tab", "shop.o'brien", `"my db"."my.table"`, "shop.`t`", `shop."a,b"`}
		}, ""},
		{"table of 65 characters", func(c *Config) { c.Tables = []string{"shop." + strings.Repeat("é", 65)} }, "tables"},
		{"table with a space at the end", func(c *Config) { c.Tables = []string{`shop."t "`} }, "tables"},
		{"table twice, once quoted", func(c *Config) { c.Tables = []string{"shop.orders", `"shop"."orders"`} }, "tables"},
		{"two tables of one topic", func(c *Config) { c.Tables = []string{"shop.a b", "shop.a-b", "shop.a_b"} }, "tables"},
		{"database twice", func(c *Config) { c.Databases = []string{"a", "a"} }, "databases"},
		{"table in whole database", func(c *Config) { c.Databases = []string{"shop"} }, "tables"},
		{"no history reader", func(c *Config) { c.History = nil }, "history reader"},
		{"no data", func(c *Config) { c.SnapshotMode = SnapshotNoData }, ""},
		{"initial only", func(c *Config) { c.SnapshotMode = SnapshotInitialOnly }, ""},
		{"when needed", func(c *Config) { c.SnapshotMode = SnapshotWhenNeeded }, ""},
		{"always", func(c *Config) { c.SnapshotMode = SnapshotAlways }, ""},
		{"unknown snapshot mode", func(c *Config) { c.SnapshotMode = 9 }, "snapshot mode"},
		{"negative chunk", func(c *Config) { c.SnapshotChunkRows = -1 }, "snapshot chunk rows"},
		{"negative chunk bytes", func(c *Config) { c.SnapshotChunkBytes = -1 }, "snapshot chunk bytes"},
		{"tiny chunk bytes", func(c *Config) { c.SnapshotChunkBytes = connectors.MinSnapshotChunkBytes - 1 }, "snapshot chunk bytes"},
		{"huge chunk bytes", func(c *Config) { c.SnapshotChunkBytes = connectors.MaxSnapshotChunkBytes + 1 }, "snapshot chunk bytes"},
		{"2 MiB chunks", func(c *Config) { c.SnapshotChunkBytes = 2 << 20 }, ""},
		{"huge chunk", func(c *Config) { c.SnapshotChunkRows = maxSnapshotChunkRows + 1 }, "snapshot chunk rows"},
		{"name not a topic", func(c *Config) { c.Name = "shop/eu" }, "history topic"},
		{"name not a topic, topic set", func(c *Config) { c.Name, c.HistoryTopic = "shop/eu", "shop-eu.history" }, ""},
		{"bad topic", func(c *Config) { c.HistoryTopic = "a b" }, "history topic"},
		{"skip ddl", func(c *Config) { c.UnparseableDDL = UnparseableDDLSkip }, ""},
		{"unknown ddl mode", func(c *Config) { c.UnparseableDDL = 7 }, "unparseable ddl"},
		{"signal table", func(c *Config) { c.SignalTable = "shop.cdcd_signal" }, ""},
		{"signal table without database", func(c *Config) { c.SignalTable = "cdcd_signal" }, "signal table"},
		{"signal table captured", func(c *Config) { c.SignalTable = "shop.orders" }, "signal table"},
		{"incremental chunk", func(c *Config) { c.IncrementalChunkRows = 10 }, ""},
		{"negative incremental chunk", func(c *Config) { c.IncrementalChunkRows = -1 }, "incremental snapshot chunk rows"},
		{"huge incremental chunk", func(c *Config) { c.IncrementalChunkRows = maxSnapshotChunkRows + 1 }, "incremental snapshot chunk rows"},
		{"heartbeats", func(c *Config) { c.HeartbeatInterval, c.TopicPrefix = time.Second, "shop" }, ""},
		{"heartbeats at the minimum", func(c *Config) { c.HeartbeatInterval, c.TopicPrefix = connectors.MinHeartbeatInterval, "shop" }, ""},
		{"heartbeats below the minimum", func(c *Config) { c.HeartbeatInterval, c.TopicPrefix = connectors.MinHeartbeatInterval-1, "shop" }, "heartbeat interval"},
		{"negative heartbeat interval", func(c *Config) { c.HeartbeatInterval = -time.Second }, "heartbeat interval"},
		{"heartbeats without a topic prefix", func(c *Config) { c.HeartbeatInterval = time.Second }, "topic prefix"},
		{"bad heartbeat topic", func(c *Config) { c.HeartbeatInterval, c.TopicPrefix = time.Second, "shop/eu" }, "heartbeat topic"},
		{"heartbeat topic set", func(c *Config) {
			c.HeartbeatInterval, c.TopicPrefix, c.HeartbeatTopic = time.Second, "shop/eu", "beats"
		}, ""},
		{"no heartbeats need no prefix", func(c *Config) { c.TopicPrefix = "" }, ""},
	} {
		c := ok
		tc.edit(&c)
		err := c.withDefaults().validate()
		var ce *ConfigError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
			t.Errorf("%s: %v, want a ConfigError on %s", tc.name, err, tc.field)
		}
	}
	bad := ok
	bad.SnapshotMode = SnapshotAlways + 1
	var ce *ConfigError
	if err := bad.withDefaults().validate(); !errors.As(err, &ce) ||
		!strings.Contains(ce.Fix, "initial, initial_only, no_data, when_needed or always") {
		t.Errorf("unknown snapshot mode: %v, want a fix naming the modes", err)
	}
	c := ok.withDefaults()
	if c.Port != DefaultPort || c.ServerID != DefaultServerID("shop") || c.HeartbeatPeriod != DefaultHeartbeatPeriod ||
		c.HistoryTopic != "shop.schema-history" || c.HeartbeatInterval != 0 || c.HeartbeatTopic != "" {
		t.Errorf("defaults: %+v", c)
	}
	if got := (Config{TopicPrefix: "shop"}).withDefaults().HeartbeatTopic; got != "__debezium-heartbeat.shop" {
		t.Errorf("default heartbeat topic = %q, want Debezium's __debezium-heartbeat.shop", got)
	}
	if s := c.String() + c.GoString(); strings.Contains(s, "secret") {
		t.Errorf("the password shows: %s", s)
	}
}

func TestDefaultServerID(t *testing.T) {
	a, b := DefaultServerID("orders-connector"), DefaultServerID("users-connector")
	if a == b || a < 1<<31 || b < 1<<31 || a != DefaultServerID("orders-connector") {
		t.Errorf("DefaultServerID: %d, %d", a, b)
	}
}

func TestScope(t *testing.T) {
	s := newScope(Config{Databases: []string{"crm"}, Tables: []string{"shop.orders"}})
	for _, tc := range []struct {
		db, table string
		want      bool
	}{{"crm", "x", true}, {"shop", "orders", true}, {"shop", "other", false}, {"mysql", "user", false}} {
		if s.captures(tc.db, tc.table) != tc.want {
			t.Errorf("captures(%s, %s) != %t", tc.db, tc.table, tc.want)
		}
	}
	if !s.capturesAnyOf("shop") || s.capturesAnyOf("other") {
		t.Error("capturesAnyOf")
	}
	all := newScope(Config{})
	if !all.captures("any", "t") || all.captures("mysql", "user") || all.capturesAnyOf("sys") {
		t.Error("the all-tables scope")
	}
}
