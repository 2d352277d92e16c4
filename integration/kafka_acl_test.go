package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// aclUser is the principal the ACL test gives exactly docs/security.md's ACLs; it is no super
// user, unlike KafkaSASLUser.
const (
	aclUser     = "cdcd-acl"
	aclPassword = "cdcd-acl-secret"
)

// cdcdACL is one ACL of docs/security.md: an operation on a resource.
type cdcdACL struct {
	resource string // connector topics, heartbeat topic, offsets topic, registry topic, transactional id
	op       kadm.ACLOperation
}

func (a cdcdACL) String() string { return a.resource + " " + a.op.String() }

// cdcdACLList is docs/security.md's list for a PostgreSQL connector with heartbeats, the API
// off (no config topic) and the embedded registry. Kafka implies DESCRIBE by READ and WRITE,
// so it is not listed; nor are READ and DESCRIBE_CONFIGS on the connector's topics, nor
// IDEMPOTENT_WRITE on the cluster (a transactional producer needs WRITE on its transactional
// id only), nor DESCRIBE_CONFIGS on the offsets topic (cdcd checks the registry topic's
// cleanup policy only).
var cdcdACLList = []cdcdACL{
	{"connector topics", kadm.OpCreate}, {"connector topics", kadm.OpWrite},
	{"heartbeat topic", kadm.OpCreate}, {"heartbeat topic", kadm.OpWrite},
	{"offsets topic", kadm.OpCreate}, {"offsets topic", kadm.OpWrite}, {"offsets topic", kadm.OpRead},
	{"registry topic", kadm.OpCreate}, {"registry topic", kadm.OpWrite}, {"registry topic", kadm.OpRead},
	{"registry topic", kadm.OpDescribeConfigs},
	{"transactional id", kadm.OpWrite},
}

// aclResource is the name of an ACL's resource for the connector c: a topic's, a prefix's or
// the transactional id's.
func aclResource(resource string, c *PostgresConnector) string {
	switch resource {
	case "connector topics":
		return c.Prefix + "."
	case "heartbeat topic":
		return "__debezium-heartbeat." + c.Prefix
	case "offsets topic":
		return c.Prefix + "_offsets"
	case "registry topic":
		return c.Prefix + "_schemas"
	case "config topic":
		return c.Prefix + "_configs"
	case "history topic":
		return c.Name + ".schema-history"
	default:
		return "cdcd-" + c.Name
	}
}

// aclBuilder is acl for principal and the connector c.
func aclBuilder(acl cdcdACL, principal string, c *PostgresConnector) *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow("User:" + principal).AllowHosts().Operations(acl.op)
	name := aclResource(acl.resource, c)
	switch acl.resource {
	case "connector topics":
		return b.Topics(name).ResourcePatternType(kadm.ACLPatternPrefixed)
	case "transactional id":
		return b.TransactionalIDs(name).ResourcePatternType(kadm.ACLPatternLiteral)
	default:
		return b.Topics(name).ResourcePatternType(kadm.ACLPatternLiteral)
	}
}

// grant creates acl for principal and the connector c.
func grant(t *testing.T, admin *kadm.Client, acl cdcdACL, principal string, c *PostgresConnector) {
	t.Helper()
	res, err := admin.CreateACLs(t.Context(), aclBuilder(acl, principal, c))
	if err != nil {
		t.Fatalf("%s: %v", acl, err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", acl, r.Err)
		}
	}
}

// revoke deletes acl of principal and the connector c.
func revoke(t *testing.T, admin *kadm.Client, acl cdcdACL, principal string, c *PostgresConnector) {
	t.Helper()
	res, err := admin.DeleteACLs(t.Context(), aclBuilder(acl, principal, c))
	if err != nil {
		t.Fatalf("revoking %s: %v", acl, err)
	}
	n := 0
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("revoking %s: %v", acl, r.Err)
		}
		n += len(r.Deleted)
	}
	if n != 1 {
		t.Fatalf("revoking %s deleted %d ACLs, want 1", acl, n)
	}
}

// TestKafkaACLs gives a restricted SASL user exactly docs/security.md's ACLs: a PostgreSQL
// connector with heartbeats runs. Without each ACL in turn, cdcd stops (its connector FAILED,
// the daemon without API exits) with an error naming the server (the broker's address), the
// resource (the topic or transactional id) and the permission refused, instead of retrying.
func TestKafkaACLs(t *testing.T) {
	kafka := StartPrivateKafka(t)
	admin := kadm.NewClient(kafka.Client(t))
	if _, err := admin.AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: aclUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: aclPassword}}); err != nil {
		t.Fatal(err)
	}
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	// start runs a connector with the ACLs of cdcdACLList but without.
	start := func(t *testing.T, without cdcdACL) (*PostgresConnector, *CDCD) {
		c := NewPostgresConnector(t, db, "public.counters")
		c.Extra = []string{"heartbeat_interval: 1s"}
		// Each run's slot goes when it ends (after its cdcd, stopped by a later cleanup),
		// not with the database: the shared server has few slots.
		t.Cleanup(func() { dropSlot(t, db, c.Name) })
		for _, acl := range cdcdACLList {
			if acl != without {
				grant(t, admin, acl, aclUser, c)
			}
		}
		config := kafka.UseSASLIn(t, c.Config(), "SCRAM-SHA-512", aclPassword)
		config = strings.Replace(config, "username: "+KafkaSASLUser, "username: "+aclUser, 1)
		return c, StartCDCD(t, config)
	}

	t.Run("all", func(t *testing.T) {
		c, cdcd := start(t, cdcdACL{})
		records := kafka.NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters")).Collect(t, counterKeys, 2*time.Minute)
		checkCounters(t, records, counterKeys)
		hb := kafka.Client(t, kgo.ConsumeTopics("__debezium-heartbeat."+c.Prefix), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		WaitFor(t, 2*time.Minute, "a heartbeat record", func() error {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if n := len(hb.PollFetches(ctx).Records()); n == 0 {
				return fmt.Errorf("no heartbeat record yet")
			}
			return nil
		})
		if code := cdcd.Stop(time.Minute); code != 0 {
			t.Errorf("cdcd exited with %d after SIGTERM", code)
		}
	})
	// permission is the words cdcd's error names the refused operation with.
	permission := map[kadm.ACLOperation]string{kadm.OpCreate: "CREATE", kadm.OpWrite: "WRITE", kadm.OpRead: "READ",
		kadm.OpDescribeConfigs: "DESCRIBE_CONFIGS"}
	for _, without := range cdcdACLList {
		t.Run("without "+without.String(), func(t *testing.T) {
			var c *PostgresConnector
			var cdcd *CDCD
			if without.op == kadm.OpRead || without.op == kadm.OpDescribeConfigs {
				// A topic is read back and checked at a restart only (cdcd created it, and
				// empty there is nothing to read): a first run with every ACL writes it,
				// the second runs without.
				c, cdcd = start(t, cdcdACL{})
				kafka.NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters")).Collect(t, counterKeys, 2*time.Minute)
				if code := cdcd.Stop(time.Minute); code != 0 {
					t.Fatalf("cdcd exited with %d after SIGTERM", code)
				}
				revoke(t, admin, without, aclUser, c)
				cdcd = cdcd.Restart()
			} else {
				c, cdcd = start(t, without)
			}
			if code := cdcd.Wait(2 * time.Minute); code == 0 {
				t.Fatalf("cdcd exited with 0")
			}
			logs := cdcd.Logs()
			resource := aclResource(without.resource, c)
			if without.resource == "connector topics" {
				resource = c.Topic("counters")
			}
			what := " on the topic"
			if without.resource == "transactional id" {
				what = " on the transactional id"
			}
			for _, want := range []string{"denied " + permission[without.op] + what + " by Kafka at " + kafka.SASLAddr(), resource, "AUTHORIZATION_FAILED"} {
				if !strings.Contains(logs, want) {
					t.Errorf("cdcd's log does not name %q:\n%s", want, grepLines(logs, "error", "warn"))
				}
			}
			for _, retry := range []string{"restarting from the committed position", "retrying"} {
				if n := strings.Count(logs, retry); n > 0 {
					t.Errorf("cdcd logged %q %d times on a missing ACL", retry, n)
				}
			}
			t.Logf("%s", lastLines(grepLines(logs, "error"), 1))
		})
	}
}

// cdcdAPIACLList is docs/security.md's list for a daemon with the API on (its config topic)
// and a PostgreSQL connector without heartbeats.
var cdcdAPIACLList = []cdcdACL{
	{"connector topics", kadm.OpCreate}, {"connector topics", kadm.OpWrite},
	{"offsets topic", kadm.OpCreate}, {"offsets topic", kadm.OpWrite}, {"offsets topic", kadm.OpRead},
	{"registry topic", kadm.OpCreate}, {"registry topic", kadm.OpWrite}, {"registry topic", kadm.OpRead},
	{"registry topic", kadm.OpDescribeConfigs},
	{"config topic", kadm.OpCreate}, {"config topic", kadm.OpWrite}, {"config topic", kadm.OpRead},
	{"transactional id", kadm.OpWrite},
}

// TestKafkaACLsAPI is TestKafkaACLs for a daemon with the API on: with exactly the ACLs of
// docs/security.md (its config topic's too), a connector created over the API runs. Without
// CREATE or READ (at a restart) on the config topic the daemon stops at start naming the
// server, the permission and the topic; without WRITE, creating a connector is answered 500
// naming the topic and Kafka's refusal; without WRITE on the connector's topics the connector
// goes FAILED, its status naming them, and the daemon goes on.
func TestKafkaACLsAPI(t *testing.T) {
	kafka := StartPrivateKafka(t)
	admin := kadm.NewClient(kafka.Client(t))
	if _, err := admin.AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: aclUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: aclPassword}}); err != nil {
		t.Fatal(err)
	}
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	// start starts a daemon with the ACLs of cdcdAPIACLList but without; its topics and its
	// connector are named after c.
	start := func(t *testing.T, without cdcdACL) (*PostgresConnector, *Daemon) {
		c := NewPostgresConnector(t, db, "public.counters")
		t.Cleanup(func() { dropSlot(t, db, c.Name) })
		for _, acl := range cdcdAPIACLList {
			if acl != without {
				grant(t, admin, acl, aclUser, c)
			}
		}
		d := &Daemon{API: "http://" + FreeAddr(t), Registry: c.Registry, Prefix: c.Prefix}
		config := kafka.UseSASLIn(t, DaemonConfig(d.Prefix, strings.TrimPrefix(d.API, "http://"), d.Registry),
			"SCRAM-SHA-512", aclPassword)
		d.config = strings.Replace(config, "username: "+KafkaSASLUser, "username: "+aclUser, 1)
		d.CDCD = StartCDCD(t, d.config)
		return c, d
	}
	create := func(t *testing.T, c *PostgresConnector, d *Daemon) (int, []byte) {
		return d.Call(t, http.MethodPost, "/connectors", map[string]any{"name": c.Name,
			"config": PostgresAPIConfig(c.DB, c.Name, c.Prefix, "public.counters")})
	}
	// runs starts a daemon with every ACL and a connector, and waits for its records.
	runs := func(t *testing.T) (*PostgresConnector, *Daemon) {
		c, d := start(t, cdcdACL{})
		d.WaitReady(t)
		if code, body := create(t, c, d); code != http.StatusCreated {
			t.Fatalf("creating the connector: %d %s", code, body)
		}
		records := kafka.NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters")).Collect(t, counterKeys, 2*time.Minute)
		checkCounters(t, records, counterKeys)
		return c, d
	}
	denied := func(perm string) string { return "denied " + perm + " on the topic by Kafka at " + kafka.SASLAddr() }
	checkLog := func(t *testing.T, d *Daemon, want ...string) {
		t.Helper()
		logs := d.Logs()
		for _, w := range want {
			if !strings.Contains(logs, w) {
				t.Errorf("cdcd's log does not name %q:\n%s", w, grepLines(logs, "error", "warn"))
			}
		}
	}

	t.Run("all", func(t *testing.T) {
		_, d := runs(t)
		if code := d.Stop(time.Minute); code != 0 {
			t.Errorf("cdcd exited with %d after SIGTERM", code)
		}
	})
	t.Run("without config topic CREATE", func(t *testing.T) {
		c, d := start(t, cdcdACL{"config topic", kadm.OpCreate})
		if code := d.Wait(2 * time.Minute); code == 0 {
			t.Fatalf("cdcd exited with 0")
		}
		checkLog(t, d, denied("CREATE"), c.Prefix+"_configs")
	})
	t.Run("without config topic READ", func(t *testing.T) {
		c, d := runs(t)
		if code := d.Stop(time.Minute); code != 0 {
			t.Fatalf("cdcd exited with %d after SIGTERM", code)
		}
		revoke(t, admin, cdcdACL{"config topic", kadm.OpRead}, aclUser, c)
		d.CDCD = d.CDCD.Restart()
		if code := d.Wait(2 * time.Minute); code == 0 {
			t.Fatalf("cdcd exited with 0")
		}
		checkLog(t, d, denied("READ"), c.Prefix+"_configs")
	})
	t.Run("without config topic WRITE", func(t *testing.T) {
		c, d := start(t, cdcdACL{"config topic", kadm.OpWrite})
		d.WaitReady(t)
		code, body := create(t, c, d)
		if code != http.StatusInternalServerError || !strings.Contains(string(body), c.Prefix+"_configs") ||
			!strings.Contains(string(body), "TOPIC_AUTHORIZATION_FAILED") || !strings.Contains(string(body), "an ACL is missing") {
			t.Errorf("creating the connector: %d %s; want 500 (not 503: retrying does not help) naming the config topic, the missing ACL and Kafka's refusal", code, body)
		}
	})
	t.Run("without connector topics WRITE", func(t *testing.T) {
		c, d := start(t, cdcdACL{"connector topics", kadm.OpWrite})
		d.WaitReady(t)
		if code, body := create(t, c, d); code != http.StatusCreated {
			t.Fatalf("creating the connector: %d %s", code, body)
		}
		d.WaitState(t, c.Name, "FAILED")
		_, st := d.Call(t, http.MethodGet, "/connectors/"+c.Name+"/status", nil)
		for _, w := range []string{denied("WRITE"), c.Topic("counters")} {
			if !strings.Contains(string(st), w) {
				t.Errorf("the status does not name %q: %s", w, st)
			}
		}
		if d.LogsContain("restarting from the committed position") {
			t.Errorf("the connector was retried")
		}
		if code, body := d.Call(t, http.MethodGet, "/connectors", nil); code != http.StatusOK {
			t.Errorf("the daemon does not answer after the connector failed: %d %s", code, body)
		}
	})
}

// TestKafkaACLsMariaDB gives a MariaDB connector (API off) exactly docs/security.md's ACLs,
// its schema history topic's included: it streams. Without each operation on the history
// topic in turn (READ at a restart: the topic is read back at every start, and is empty at
// the first), cdcd stops naming the server, the permission and the topic.
func TestKafkaACLsMariaDB(t *testing.T) {
	kafka := StartPrivateKafka(t)
	admin := kadm.NewClient(kafka.Client(t))
	if _, err := admin.AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: aclUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: aclPassword}}); err != nil {
		t.Fatal(err)
	}
	my := NewMariaDB(t)
	mustExecMySQL(t, my.DB, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExecMySQL(t, my.DB, `INSERT INTO items VALUES (1), (2)`)
	list := []cdcdACL{
		{"connector topics", kadm.OpCreate}, {"connector topics", kadm.OpWrite},
		{"offsets topic", kadm.OpCreate}, {"offsets topic", kadm.OpWrite}, {"offsets topic", kadm.OpRead},
		{"registry topic", kadm.OpCreate}, {"registry topic", kadm.OpWrite}, {"registry topic", kadm.OpRead},
		{"registry topic", kadm.OpDescribeConfigs},
		{"history topic", kadm.OpCreate}, {"history topic", kadm.OpWrite}, {"history topic", kadm.OpRead},
		{"transactional id", kadm.OpWrite},
	}
	start := func(t *testing.T, without cdcdACL) (*MySQLConnector, *PostgresConnector, *CDCD) {
		c := NewMySQLConnector(t, my, "items")
		// The ACLs' resources are named after the connector as for PostgreSQL.
		names := &PostgresConnector{testConnector: c.testConnector}
		for _, acl := range list {
			if acl != without {
				grant(t, admin, acl, aclUser, names)
			}
		}
		config := kafka.UseSASLIn(t, c.Config(), "SCRAM-SHA-512", aclPassword)
		config = strings.Replace(config, "username: "+KafkaSASLUser, "username: "+aclUser, 1)
		return c, names, StartCDCD(t, config)
	}
	streams := func(t *testing.T, c *MySQLConnector, p *CDCD) {
		t.Helper()
		if got := ids(kafka.NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, 2*time.Minute)); len(got) != 2 {
			t.Fatalf("streamed ids %v, want 2 rows", got)
		}
		if code := p.Stop(time.Minute); code != 0 {
			t.Fatalf("cdcd exited with %d after SIGTERM", code)
		}
	}
	t.Run("all", func(t *testing.T) {
		c, _, p := start(t, cdcdACL{})
		streams(t, c, p)
	})
	for _, without := range []cdcdACL{{"history topic", kadm.OpCreate}, {"history topic", kadm.OpWrite}, {"history topic", kadm.OpRead}} {
		t.Run("without "+without.String(), func(t *testing.T) {
			var names *PostgresConnector
			var p *CDCD
			if without.op == kadm.OpRead {
				var c *MySQLConnector
				c, names, p = start(t, cdcdACL{})
				streams(t, c, p)
				revoke(t, admin, without, aclUser, names)
				p = p.Restart()
			} else {
				_, names, p = start(t, without)
			}
			if code := p.Wait(2 * time.Minute); code == 0 {
				t.Fatalf("cdcd exited with 0")
			}
			logs := p.Logs()
			perm := map[kadm.ACLOperation]string{kadm.OpCreate: "CREATE", kadm.OpWrite: "WRITE", kadm.OpRead: "READ"}[without.op]
			for _, want := range []string{"denied " + perm + " on the topic by Kafka at " + kafka.SASLAddr(), aclResource(without.resource, names), "AUTHORIZATION_FAILED"} {
				if !strings.Contains(logs, want) {
					t.Errorf("cdcd's log does not name %q:\n%s", want, grepLines(logs, "error", "warn"))
				}
			}
			for _, retry := range []string{"restarting from the committed position", "retrying"} {
				if n := strings.Count(logs, retry); n > 0 {
					t.Errorf("cdcd logged %q %d times on a missing ACL", retry, n)
				}
			}
			t.Logf("%s", lastLines(grepLines(logs, "error"), 1))
		})
	}
}

// dropSlot drops the replication slot name of db's server once no walsender holds it.
func dropSlot(t *testing.T, db *PostgresDB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, db.DSN())
	if err != nil {
		t.Errorf("dropping slot %s: %v", name, err)
		return
	}
	defer func() { _ = admin.Close(ctx) }()
	err = Eventually(20*time.Second, func() error {
		_, err := admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, name)
		return err
	})
	if err != nil {
		t.Errorf("dropping slot %s: %v", name, err)
	}
}

func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, `"level":"`+w) || strings.HasPrefix(l, "cdcd:") {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
