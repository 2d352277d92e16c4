package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// aclUser is the principal the ACL test gives exactly docs/security.md's ACLs; it is no super
// user, unlike KafkaSASLUser.
const (
	aclUser     = "cdcd-acl"
	aclPassword = "cdcd-acl-secret"
)

// cdcdACL is one ACL of docs/security.md: an operation on a resource.
type cdcdACL struct {
	resource string // connector topics, internal topics, transactional id
	op       kadm.ACLOperation
}

func (a cdcdACL) String() string { return a.resource + " " + a.op.String() }

// cdcdACLList is docs/security.md's list. Kafka implies DESCRIBE by READ and WRITE, so it is
// not listed; nor are READ and DESCRIBE_CONFIGS on the connector's topics, nor IDEMPOTENT_WRITE
// on the cluster (a transactional producer needs WRITE on its transactional id only).
var cdcdACLList = []cdcdACL{
	{"connector topics", kadm.OpCreate}, {"connector topics", kadm.OpWrite},
	{"internal topics", kadm.OpCreate}, {"internal topics", kadm.OpWrite}, {"internal topics", kadm.OpRead},
	{"internal topics", kadm.OpDescribeConfigs},
	{"transactional id", kadm.OpWrite},
}

// grant creates acl for principal, for a connector named name with topic prefix prefix and
// internal topics starting with internal.
func grant(t *testing.T, admin *kadm.Client, acl cdcdACL, principal, name, prefix, internal string) {
	t.Helper()
	b := kadm.NewACLs().Allow("User:" + principal).AllowHosts().Operations(acl.op)
	switch acl.resource {
	case "connector topics":
		b = b.Topics(prefix).ResourcePatternType(kadm.ACLPatternPrefixed)
	case "internal topics":
		b = b.Topics(internal).ResourcePatternType(kadm.ACLPatternPrefixed)
	case "transactional id":
		b = b.TransactionalIDs("cdcd-" + name).ResourcePatternType(kadm.ACLPatternLiteral)
	}
	res, err := admin.CreateACLs(t.Context(), b)
	if err != nil {
		t.Fatalf("%s: %v", acl, err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", acl, r.Err)
		}
	}
}

// TestKafkaACLs gives a restricted SASL user exactly docs/security.md's ACLs: a PostgreSQL
// connector runs. Without each ACL in turn, cdcd stops (its connector FAILED, the daemon
// without API exits) with Kafka's refusal, naming the resource, instead of retrying forever.
// Without WRITE or READ on the internal topics the embedded registry fails (its store is those
// topics) and the connector retries the registry: those two are not in the table.
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
		for _, acl := range cdcdACLList {
			if acl != without {
				grant(t, admin, acl, aclUser, c.Name, c.Prefix+".", c.Prefix+"_")
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
		if code := cdcd.Stop(time.Minute); code != 0 {
			t.Errorf("cdcd exited with %d after SIGTERM", code)
		}
	})
	for _, tc := range []struct {
		without cdcdACL
		// names is what cdcd's error must name: the resource (by a function of the
		// connector) and Kafka's refusal.
		names func(c *PostgresConnector) []string
	}{
		{cdcdACL{"connector topics", kadm.OpCreate}, func(c *PostgresConnector) []string {
			return []string{c.Topic("counters"), "TOPIC_AUTHORIZATION_FAILED"}
		}},
		{cdcdACL{"connector topics", kadm.OpWrite}, func(*PostgresConnector) []string { return []string{"produce", "TOPIC_AUTHORIZATION_FAILED"} }},
		{cdcdACL{"internal topics", kadm.OpCreate}, func(c *PostgresConnector) []string { return []string{c.Prefix + "_", "TOPIC_AUTHORIZATION_FAILED"} }},
		{cdcdACL{"internal topics", kadm.OpDescribeConfigs}, func(c *PostgresConnector) []string { return []string{c.Prefix + "_", "TOPIC_AUTHORIZATION_FAILED"} }},
		{cdcdACL{"transactional id", kadm.OpWrite}, func(c *PostgresConnector) []string {
			return []string{"cdcd-" + c.Name, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"}
		}},
	} {
		t.Run("without "+tc.without.String(), func(t *testing.T) {
			c, cdcd := start(t, tc.without)
			if code := cdcd.Wait(2 * time.Minute); code == 0 {
				t.Fatalf("cdcd exited with 0")
			}
			logs := cdcd.Logs()
			for _, want := range tc.names(c) {
				if !strings.Contains(logs, want) {
					t.Errorf("cdcd's log does not name %q:\n%s", want, grepLines(logs, "error", "warn"))
				}
			}
			if n := strings.Count(logs, "restarting from the committed position"); n > 0 {
				t.Errorf("the pipeline was restarted %d times on a missing ACL", n)
			}
			t.Logf("%s", lastLines(grepLines(logs, "error"), 2))
		})
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
