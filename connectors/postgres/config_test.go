package postgres

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
)

func validConfig() Config {
	return Config{Host: "db", User: "cdc", Password: "s3cret-pw", Database: "shop", Slot: "cdcd_shop",
		Publication: "cdcd_pub", Tables: []string{"public.orders", "sales.Items"}}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string // empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no tables is all tables", func(c *Config) { c.Tables = nil }, ""},
		{"no host", func(c *Config) { c.Host = "" }, "host"},
		{"no user", func(c *Config) { c.User = "" }, "user"},
		{"no database", func(c *Config) { c.Database = "" }, "database"},
		{"no slot", func(c *Config) { c.Slot = "" }, "slot"},
		{"uppercase slot", func(c *Config) { c.Slot = "Slot" }, "slot"},
		{"slot with a quote", func(c *Config) { c.Slot = "a'b" }, "slot"},
		{"slot too long", func(c *Config) { c.Slot = strings.Repeat("s", 64) }, "slot"},
		{"no publication", func(c *Config) { c.Publication = "" }, "publication"},
		{"publication with a quote", func(c *Config) { c.Publication = `p"ub` }, "publication"},
		{"publication starting with a digit", func(c *Config) { c.Publication = "1pub" }, "publication"},
		{"unknown policy", func(c *Config) { c.PublicationPolicy = 9 }, "publication policy"},
		{"negative status interval", func(c *Config) { c.StatusInterval = -time.Second }, "status interval"},
		{"huge status interval", func(c *Config) { c.StatusInterval = 2 * time.Hour }, "status interval"},
		{"negative connect timeout", func(c *Config) { c.ConnectTimeout = -time.Second }, "connect timeout"},
		{"bad sslmode", func(c *Config) { c.SSLMode = "sometimes" }, "sslmode"},
		{"table without schema", func(c *Config) { c.Tables = []string{"orders"} }, "tables"},
		{"table with empty part", func(c *Config) { c.Tables = []string{"public."} }, "tables"},
		{"table with three parts", func(c *Config) { c.Tables = []string{"a.b.c"} }, "tables"},
		{"unknown streaming mode", func(c *Config) { c.Streaming = 5 }, "streaming"},
		{"streaming off", func(c *Config) { c.Streaming = StreamingOff }, ""},
		{"decoding work mem below the minimum", func(c *Config) { c.DecodingWorkMemKB = 63 }, "decoding work mem"},
		{"negative decoding work mem", func(c *Config) { c.DecodingWorkMemKB = -1 }, "decoding work mem"},
		{"decoding work mem at the minimum", func(c *Config) { c.DecodingWorkMemKB = 64 }, ""},
		{"unknown snapshot mode", func(c *Config) { c.SnapshotMode = 7 }, "snapshot mode"},
		{"snapshot no data", func(c *Config) { c.SnapshotMode = SnapshotNoData }, ""},
		{"snapshot when needed", func(c *Config) { c.SnapshotMode = SnapshotWhenNeeded }, ""},
		{"snapshot always", func(c *Config) { c.SnapshotMode = SnapshotAlways }, ""},
		{"snapshot mode past always", func(c *Config) { c.SnapshotMode = SnapshotAlways + 1 }, "snapshot mode"},
		{"negative chunk rows", func(c *Config) { c.SnapshotChunkRows = -1 }, "snapshot chunk rows"},
		{"huge chunk rows", func(c *Config) { c.SnapshotChunkRows = maxSnapshotChunkRows + 1 }, "snapshot chunk rows"},
		{"one-row chunks", func(c *Config) { c.SnapshotChunkRows = 1 }, ""},
		{"negative chunk bytes", func(c *Config) { c.SnapshotChunkBytes = -1 }, "snapshot chunk bytes"},
		{"tiny chunk bytes", func(c *Config) { c.SnapshotChunkBytes = connectors.MinSnapshotChunkBytes - 1 }, "snapshot chunk bytes"},
		{"huge chunk bytes", func(c *Config) { c.SnapshotChunkBytes = connectors.MaxSnapshotChunkBytes + 1 }, "snapshot chunk bytes"},
		{"2 MiB chunks", func(c *Config) { c.SnapshotChunkBytes = 2 << 20 }, ""},
		{"negative snapshot threads", func(c *Config) { c.SnapshotMaxThreads = -1 }, "snapshot max threads"},
		{"too many snapshot threads", func(c *Config) { c.SnapshotMaxThreads = MaxSnapshotMaxThreads + 1 }, "snapshot max threads"},
		{"most snapshot threads", func(c *Config) { c.SnapshotMaxThreads = MaxSnapshotMaxThreads }, ""},
		{"one snapshot thread", func(c *Config) { c.SnapshotMaxThreads = 1 }, ""},
		{"negative progress interval", func(c *Config) { c.SnapshotProgressEvery = -time.Second }, "snapshot progress interval"},
		{"table twice", func(c *Config) { c.Tables = []string{"public.a", "public.a"} }, "tables"},
		{"table twice, once quoted", func(c *Config) { c.Tables = []string{"public.a", `"public"."a"`} }, "tables"},
		{"names that need quoting in SQL", func(c *Config) {
			c.Tables = []string{"public.Ümlaut Tab", "public.o'brien", `"my schema"."my.table"`, `s."a,b"`, "s.日本"}
		}, ""},
		{"table of 64 bytes", func(c *Config) { c.Tables = []string{"public." + strings.Repeat("t", 64)} }, "tables"},
		{"unknown partition routing", func(c *Config) { c.PartitionRouting = PartitionsViaLeaves + 1 }, "publish_via_partition_root"},
		{"two tables of one topic", func(c *Config) { c.Tables = []string{"public.a b", "public.a_b"} }, "tables"},
		{"dots of one topic", func(c *Config) { c.Tables = []string{`"a.b".c`, `a."b.c"`} }, "tables"},
		{"heartbeats", withHeartbeats(time.Second), ""},
		{"heartbeats at the minimum", withHeartbeats(MinHeartbeatInterval), ""},
		{"heartbeats below the minimum", withHeartbeats(MinHeartbeatInterval - 1), "heartbeat interval"},
		{"negative heartbeat interval", withHeartbeats(-time.Second), "heartbeat interval"},
		{"heartbeats without a topic prefix", func(c *Config) { withHeartbeats(time.Second)(c); c.TopicPrefix = "" }, "topic prefix"},
		{"bad heartbeat topic", func(c *Config) { withHeartbeats(time.Second)(c); c.HeartbeatTopic = "beats/shop" }, "heartbeat topic"},
		{"heartbeat topic too long", func(c *Config) { withHeartbeats(time.Second)(c); c.HeartbeatTopic = strings.Repeat("t", 250) }, "heartbeat topic"},
		{"no heartbeats need no Kafka", func(c *Config) { c.TopicPrefix = "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)
			err := cfg.withDefaults().validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("validate() = %v, want a *ConfigError", err)
			}
			if ce.Field != tt.wantField {
				t.Errorf("field = %q, want %q (%v)", ce.Field, tt.wantField, err)
			}
			if ce.Fix == "" {
				t.Errorf("error %v says nothing about how to fix it", err)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// withHeartbeats turns heartbeats on, with what they need.
func withHeartbeats(every time.Duration) func(*Config) {
	return func(c *Config) {
		c.HeartbeatInterval, c.TopicPrefix = every, "shop"
	}
}

func TestConfigTablesCanonical(t *testing.T) {
	cfg := validConfig()
	cfg.Tables = []string{`"public"."Ümlaut Tab"`, `"my schema"."my.table"`}
	cfg.SignalTable = `"public"."sig"`
	cfg = cfg.withDefaults()
	if want := []string{"public.Ümlaut Tab", `my schema."my.table"`}; !slices.Equal(cfg.Tables, want) || cfg.SignalTable != "public.sig" {
		t.Errorf("tables %q signal %q, want %q and public.sig", cfg.Tables, cfg.SignalTable, want)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Tables = []string{"public.a b", "public.a_b"}
	err := cfg.validate()
	if err == nil || !strings.Contains(err.Error(), "public.a b and public.a_b") || !strings.Contains(err.Error(), ".public.a_b") {
		t.Errorf("collision: %v", err)
	}
}

func TestPartitionRouting(t *testing.T) {
	if PartitionRouting(0) != PartitionsViaRoot || PartitionsViaRoot.String() != "true" || PartitionsViaLeaves.String() != "false" {
		t.Error("the zero routing is not via the root, true")
	}
	if got := PartitionsViaRoot.publicationOption(); got != " WITH (publish_via_partition_root = true)" {
		t.Errorf("via root: %q", got)
	}
	if got := PartitionsViaLeaves.publicationOption(); got != "" {
		t.Errorf("via leaves: %q (PostgreSQL's default, left unsaid for servers before 13)", got)
	}
}

func TestConfigHeartbeatTopicDefault(t *testing.T) {
	if got, want := (Config{TopicPrefix: "shop"}).withDefaults().HeartbeatTopic, "__debezium-heartbeat.shop"; got != want {
		t.Errorf("default heartbeat topic = %q, want Debezium's %q", got, want)
	}
	if got := (Config{TopicPrefix: "shop", HeartbeatTopic: "beats"}).withDefaults().HeartbeatTopic; got != "beats" {
		t.Errorf("heartbeat topic = %q, want the one set", got)
	}
	if got := (Config{}).withDefaults(); got.HeartbeatTopic != "" || got.HeartbeatInterval != 0 {
		t.Errorf("heartbeats without a prefix: topic %q, interval %s; want none and off", got.HeartbeatTopic, got.HeartbeatInterval)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.Port != DefaultPort || cfg.StatusInterval != DefaultStatusInterval ||
		cfg.ConnectTimeout != DefaultConnectTimeout || cfg.SSLMode != DefaultSSLMode ||
		cfg.PublicationPolicy != PublicationCreateMissing || cfg.Streaming != StreamingOn || cfg.SpillDir != "" ||
		cfg.SnapshotMode != SnapshotInitial || cfg.SnapshotChunkRows != DefaultSnapshotChunkRows ||
		cfg.SnapshotProgressEvery != DefaultSnapshotProgressEvery || cfg.SnapshotMaxThreads != DefaultSnapshotMaxThreads ||
		cfg.SnapshotChunkBytes != DefaultSnapshotChunkBytes {
		t.Errorf("defaults = %+v", cfg)
	}
	if got, want := (Config{Slot: "s1"}).withDefaults().SpillDir, DefaultSpillDir("s1"); got != want {
		t.Errorf("default spill dir = %q, want %q", got, want)
	}
	set := Config{Port: 6543, StatusInterval: time.Second, SSLMode: "disable"}.withDefaults()
	if set.Port != 6543 || set.StatusInterval != time.Second || set.SSLMode != "disable" {
		t.Errorf("withDefaults overrode set fields: %+v", set)
	}
}

func TestConfigNeverShowsPassword(t *testing.T) {
	cfg := validConfig().withDefaults()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, cfg); strings.Contains(got, "s3cret-pw") {
			t.Errorf("%s shows the password: %s", format, got)
		}
	}
	if got := cfg.String(); !strings.Contains(got, "cdc:***@db:5432/shop") {
		t.Errorf("String() = %q, want the user, a masked password, host, port and database", got)
	}
	if got := cfg.connString(); strings.Contains(got, "s3cret-pw") {
		t.Errorf("connString() = %q holds the password", got)
	}
}

func TestQuoteConnValue(t *testing.T) {
	if got, want := quoteConnValue(`a'b\c`), `'a\'b\\c'`; got != want {
		t.Errorf("quoteConnValue = %s, want %s", got, want)
	}
}

func TestPublicationPolicyString(t *testing.T) {
	if PublicationCreateMissing.String() != "create" || PublicationMustExist.String() != "must-exist" ||
		PublicationPolicy(7).String() != "PublicationPolicy(7)" {
		t.Errorf("policy names: %s %s %s", PublicationCreateMissing, PublicationMustExist, PublicationPolicy(7))
	}
}

func TestStreamingModeString(t *testing.T) {
	if StreamingOn.String() != "on" || StreamingOff.String() != "off" || StreamingMode(7).String() != "StreamingMode(7)" {
		t.Errorf("mode names: %s %s %s", StreamingOn, StreamingOff, StreamingMode(7))
	}
}

// Ack of a position that does not parse names the source once (PrefixOnce at the boundary).
func TestAckErrorNamesSourceOnce(t *testing.T) {
	err := (&Source{}).Ack(offsets.Position{Source: []byte("not json")})
	if !errors.Is(err, ErrBadPosition) || strings.Count(err.Error(), "postgres source: ") != 1 {
		t.Errorf("Ack = %v, want ErrBadPosition naming the source once", err)
	}
}
