package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

const validConfig = `
kafka:
  brokers: [127.0.0.1:19092]
connectors:
  - name: inventory
    type: postgres
    topic_prefix: demo
    postgres:
      host: 127.0.0.1
      user: cdcd
      password: s3cret
      database: shop
      slot: cdcd_inventory
      publication: cdcd_inventory
      tables: [public.items]
`

func TestParseConfigAppliesDefaults(t *testing.T) {
	cfg, err := parseConfig([]byte(validConfig))
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	if cfg.Registry.Listen != defaultRegistryListen || cfg.Kafka.OffsetsTopic != defaultOffsetsTopic ||
		cfg.Registry.Compatibility != defaultCompatibility || cfg.Connectors[0].Postgres.Port != postgres.DefaultPort {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if got := postgres.DefaultSlotName("Shop-Orders.v2"); got != "cdcd_shop_orders_v2" {
		t.Errorf("DefaultSlotName = %q, want cdcd_shop_orders_v2", got)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(string) string
		mention string
	}{
		{"unknown field", func(s string) string { return s + "    colour: blue\n" }, `connectors[0].colour: unknown field`},
		{"unknown nested field", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", "hots: 127.0.0.1", 1)
		}, `connectors[0].postgres.hots: unknown field; did you mean host?`},
		{"no brokers", func(s string) string { return strings.Replace(s, "[127.0.0.1:19092]", "[]", 1) }, "kafka.brokers"},
		{"broker without port", func(s string) string { return strings.Replace(s, "127.0.0.1:19092", "kafka", 1) }, `"kafka" is not host:port`},
		{"unknown type", func(s string) string { return strings.Replace(s, "type: postgres", "type: oracle", 1) }, `connectors[0].type: unknown type "oracle", known: postgres, mysql`},
		{"missing postgres section", func(s string) string { return s[:strings.Index(s, "    postgres:")] }, "needs its postgres section"},
		{"bad name", func(s string) string { return strings.Replace(s, "name: inventory", "name: 'in ventory'", 1) }, "only letters"},
		{"no prefix", func(s string) string { return strings.Replace(s, "topic_prefix: demo", "topic_prefix: ''", 1) }, "topic_prefix"},
		{"bad port", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", "host: 127.0.0.1\n      port: 70000", 1)
		}, "70000 is not a TCP port"},
		{"wrong type of value", func(s string) string { return strings.Replace(s, "tables: [public.items]", "tables: 7", 1) }, "tables"},
		{"bad streaming mode", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", "host: 127.0.0.1\n      streaming: maybe", 1)
		}, `"maybe" is not on or off`},
		{"too many snapshot threads", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", "host: 127.0.0.1\n      snapshot_max_threads: 17", 1)
		}, "snapshot_max_threads: 17 is not 0 to 16"},
		{"bad log level", func(s string) string { return s + "log:\n  level: loud\n" }, `"loud"`},
		{"bogus sslmode", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", "host: 127.0.0.1\n      sslmode: bogus", 1)
		}, `postgres.sslmode: "bogus" is not one of disable, allow, prefer, require, verify-ca, verify-full`},
		{"prefix past the topic name limit", func(s string) string {
			return strings.Replace(s, "topic_prefix: demo", "topic_prefix: "+strings.Repeat("p", 300), 1)
		}, "topic_prefix: 300 characters, at most 228"},
		{"host with a newline", func(s string) string {
			return strings.Replace(s, "host: 127.0.0.1", `host: "db\nexample"`, 1)
		}, "postgres.host: \"db\\nexample\" holds a space or a control character"},
		{"database with a newline", func(s string) string {
			return strings.Replace(s, "database: shop", `database: "shop\nx"`, 1)
		}, "postgres.database: \"shop\\nx\" holds a control character"},
		{"empty table entry", func(s string) string {
			return strings.Replace(s, "tables: [public.items]", `tables: [public.items, ""]`, 1)
		}, "postgres.tables: entry 2 is empty"},
		{"linger of three years", func(s string) string {
			return strings.Replace(s, "topic_prefix: demo", "topic_prefix: demo\n    max_batch_linger_ms: 94608000000", 1)
		}, "max_batch_linger_ms: 94608000000 is out of range: 0 (the default, 20ms) or 1 to 29999 ms"},
		{"queue of one byte", func(s string) string {
			return strings.Replace(s, "topic_prefix: demo", "topic_prefix: demo\n    max_queue_size_in_bytes: 1", 1)
		}, "max_queue_size_in_bytes: 1 is out of range: 0 (the default, 16 MiB) or 65536 to 2147483648 bytes"},
		{"producer buffer of one byte", func(s string) string {
			return strings.Replace(s, "topic_prefix: demo", "topic_prefix: demo\n    producer_buffer_bytes: 1", 1)
		}, "producer_buffer_bytes: 1 is out of range"},
		{"broker with a newline", func(s string) string {
			return strings.Replace(s, "[127.0.0.1:19092]", `["kafka\nx:9092"]`, 1)
		}, "kafka.brokers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.edit(validConfig)))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want an ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestParseConfigRejectsDuplicateNames(t *testing.T) {
	twice := validConfig + strings.TrimPrefix(validConfig[strings.Index(validConfig, "  - name"):], "")
	_, err := parseConfig([]byte(twice))
	if err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("err = %v, want a duplicate-name error", err)
	}
}

func TestParseConfigMySQL(t *testing.T) {
	mysqlYAML := `
kafka:
  brokers: [127.0.0.1:19092]
connectors:
  - name: shop
    type: mysql
    topic_prefix: demo
    mysql: {host: 127.0.0.1, user: cdcd, password: s3cret, tables: [shop.items]}
`
	cfg, err := parseConfig([]byte(mysqlYAML))
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	if cfg.Connectors[0].MySQL.Port != mysql.DefaultPort {
		t.Errorf("port = %d, want the default %d", cfg.Connectors[0].MySQL.Port, mysql.DefaultPort)
	}
	if mc := mysqlConfig(cfg, cfg.Connectors[0], zerolog.Nop()); mc.HeartbeatInterval != 0 {
		t.Errorf("no heartbeat_interval: the source gets %s, want heartbeats off", mc.HeartbeatInterval)
	}
	for value, want := range map[string]time.Duration{"10s": 10 * time.Second, "100ms": 100 * time.Millisecond, `"0"`: 0} {
		cfg, err := parseConfig([]byte(strings.Replace(mysqlYAML, "host: 127.0.0.1,", "host: 127.0.0.1, heartbeat_interval: "+value+",", 1)))
		if err != nil {
			t.Errorf("heartbeat_interval %s: %v", value, err)
			continue
		}
		mc := mysqlConfig(cfg, cfg.Connectors[0], zerolog.Nop())
		if mc.HeartbeatInterval != want || mc.TopicPrefix != "demo" || mc.HeartbeatTopic != "__debezium-heartbeat.demo" {
			t.Errorf("heartbeat_interval %s: source gets interval %s, prefix %q, topic %q; want %s, demo, __debezium-heartbeat.demo",
				value, mc.HeartbeatInterval, mc.TopicPrefix, mc.HeartbeatTopic, want)
		}
	}
	for _, tc := range []struct {
		name, from, to, mention string
	}{
		{"missing section", "    mysql: {host: 127.0.0.1, user: cdcd, password: s3cret, tables: [shop.items]}\n", "", "needs its mysql section"},
		{"no host", "host: 127.0.0.1, ", "", "host and user are needed"},
		{"bad port", "host: 127.0.0.1,", "host: 127.0.0.1, port: 0x,", "port"},
		{"other type's section", "    mysql:", "    postgres: {host: h, user: u, database: d}\n    mysql:", "keep only the mysql section"},
		{"bad snapshot mode", "host: 127.0.0.1,", "host: 127.0.0.1, snapshot_mode: sometimes,", `"sometimes" is not initial, initial_only`},
		{"negative chunk", "host: 127.0.0.1,", "host: 127.0.0.1, snapshot_chunk_rows: -1,", "snapshot_chunk_rows"},
		{"negative chunk bytes", "host: 127.0.0.1,", "host: 127.0.0.1, snapshot_chunk_bytes: -1,", "snapshot_chunk_bytes"},
		{"tiny chunk bytes", "host: 127.0.0.1,", "host: 127.0.0.1, snapshot_chunk_bytes: 1000,", "snapshot_chunk_bytes"},
		{"negative queue bytes", "    mysql:", "    max_queue_size_in_bytes: -1\n    mysql:", "max_queue_size_in_bytes"},
		{"short heartbeat interval", "host: 127.0.0.1,", "host: 127.0.0.1, heartbeat_interval: 50ms,", "mysql.heartbeat_interval"},
		{"bad heartbeat interval", "host: 127.0.0.1,", "host: 127.0.0.1, heartbeat_interval: often,", "mysql.heartbeat_interval"},
		{"empty database entry", "tables: [shop.items]", "databases: [a, '', b]", "mysql.databases: entry 2 is empty"},
		{"host with a newline", "host: 127.0.0.1,", `host: "db\nx",`, "mysql.host"},
		{"negative heartbeat interval", "host: 127.0.0.1,", "host: 127.0.0.1, heartbeat_interval: -1s,", "mysql.heartbeat_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(strings.Replace(mysqlYAML, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.mention)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestParseConfigSnapshotMode(t *testing.T) {
	for mode, ok := range map[string]bool{"initial": true, "initial_only": true, "no_data": true, "when_needed": true,
		"always": true, "never": false, "when-needed": false} {
		raw := strings.Replace(validConfig, "host: 127.0.0.1", "host: 127.0.0.1\n      snapshot_mode: "+mode, 1)
		cfg, err := parseConfig([]byte(raw))
		if (err == nil) != ok {
			t.Errorf("snapshot_mode %s: err = %v, want accepted %v", mode, err, ok)
		}
		// Each accepted value maps to the source's mode of the same name.
		if ok && err == nil {
			if m := postgresConfig(cfg.Connectors[0], zerolog.Nop()).SnapshotMode; m.String() != mode {
				t.Errorf("snapshot_mode %s maps to %s", mode, m)
			}
		}
	}
}

func TestParseConfigHeartbeatInterval(t *testing.T) {
	for value, want := range map[string]time.Duration{"10s": 10 * time.Second, "100ms": 100 * time.Millisecond, `"0"`: 0, "0s": 0} {
		cfg, err := parseConfig([]byte(strings.Replace(validConfig, "host: 127.0.0.1", "host: 127.0.0.1\n      heartbeat_interval: "+value, 1)))
		if err != nil {
			t.Errorf("heartbeat_interval %s: %v", value, err)
			continue
		}
		pc := postgresConfig(cfg.Connectors[0], zerolog.Nop())
		if pc.HeartbeatInterval != want || pc.TopicPrefix != "demo" || pc.HeartbeatTopic != "__debezium-heartbeat.demo" {
			t.Errorf("heartbeat_interval %s: source gets interval %s, prefix %q, topic %q; want %s, demo, __debezium-heartbeat.demo",
				value, pc.HeartbeatInterval, pc.TopicPrefix, pc.HeartbeatTopic, want)
		}
	}
	cfg, err := parseConfig([]byte(validConfig))
	if err != nil || postgresConfig(cfg.Connectors[0], zerolog.Nop()).HeartbeatInterval != 0 {
		t.Errorf("no heartbeat_interval: %v; want heartbeats off", err)
	}
	for _, bad := range []string{`"10"`, "-1s", "50ms", "often"} {
		_, err := parseConfig([]byte(strings.Replace(validConfig, "host: 127.0.0.1", "host: 127.0.0.1\n      heartbeat_interval: "+bad, 1)))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "postgres.heartbeat_interval") {
			t.Errorf("heartbeat_interval %s: err = %v, want an ErrConfig naming postgres.heartbeat_interval", bad, err)
		}
	}
}

// Two connectors of one file whose slot or publication names (derived or given) are the same
// on one server are refused, naming both: they would share one slot.
func TestParseConfigRejectsCollidingSlotNames(t *testing.T) {
	connector := func(name string) string {
		return `
  - name: ` + name + `
    type: postgres
    topic_prefix: ` + strings.NewReplacer(".", "_", "-", "_").Replace(name) + `
    postgres:
      host: 127.0.0.1
      user: cdcd
      database: shop
`
	}
	head := "kafka:\n  brokers: [127.0.0.1:19092]\nconnectors:"
	long := strings.Repeat("x", 58)
	for _, pair := range [][2]string{{"coll-a", "coll.a"}, {"A_b", "a-b"}, {long + "1", long + "2"}} {
		_, err := parseConfig([]byte(head + connector(pair[0]) + connector(pair[1])))
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("%s and %s: parseConfig = %v, want ErrConfig", pair[0], pair[1], err)
		}
		for _, want := range []string{`"` + pair[0] + `"`, `"` + pair[1] + `"`, "replication slot " + postgres.DefaultSlotName(pair[0]),
			"postgres.slot"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s and %s: error %q does not say %q", pair[0], pair[1], err, want)
			}
		}
	}
	// Names of their own: accepted, as are the same names on another server.
	if _, err := parseConfig([]byte(head + connector("coll-a") + connector("coll.a") + "      slot: cdcd_coll_dot_a\n      publication: cdcd_coll_dot_a\n")); err != nil {
		t.Errorf("with a slot and publication of its own: %v", err)
	}
	if _, err := parseConfig([]byte(head + connector("coll-a") + strings.Replace(connector("coll.a"), "127.0.0.1", "db2", 1))); err != nil {
		t.Errorf("on another server: %v", err)
	}
}
