package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSASLPostgresExactlyOnce runs a PostgreSQL connector whose every Kafka client (producer,
// offsets, embedded registry) goes through the SASL_SSL listener of deploy/dev/kafka.sh, with
// SCRAM-SHA-512 and with PLAIN: the counters workload arrives exactly once, read back through
// the same listener, and `cdcd tail --config` reads it back through it too.
func TestSASLPostgresExactlyOnce(t *testing.T) {
	kafka := StartPrivateKafka(t)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	for _, mechanism := range []string{"SCRAM-SHA-512", "PLAIN"} {
		t.Run(mechanism, func(t *testing.T) {
			db := NewPostgresDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
			mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
			c := NewPostgresConnector(t, db, "public.counters")
			config := kafka.UseSASLIn(t, c.Config(), mechanism, KafkaSASLPassword)
			cdcd := StartCDCD(t, config)
			c.WaitStreaming(t, conn)
			writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
			consumer := kafka.NewSASLAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
			records := consumer.Collect(t, 500, 2*time.Minute)
			expected := writer.stop(t)
			records = collectCounters(t, consumer, records, expected)
			checkCounters(t, records, expected)
			t.Logf("%s: %d changes in, %d records out", mechanism, expected, len(records))
			if strings.Contains(cdcd.Logs(), KafkaSASLPassword) {
				t.Errorf("cdcd's log shows the SASL password")
			}

			cfgPath := filepath.Join(t.TempDir(), "cdcd.yaml")
			if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), bin, "tail", c.Topic("counters"), "--config", cfgPath,
				"--registry", c.RegistryURL(), "--from-beginning", "--max", "3", "--timeout", "1m").Output()
			if err != nil {
				t.Fatalf("cdcd tail --config: %v\n%s", err, out)
			}
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 3 || !strings.Contains(lines[0], `"id":`) {
				t.Fatalf("cdcd tail printed %d lines, want 3 changes:\n%s", len(lines), out)
			}
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited with %d after SIGTERM", code)
			}
		})
	}
}

// TestSASLMariaDBExactlyOnce is TestSASLPostgresExactlyOnce's MariaDB connector, with
// SCRAM-SHA-512 and with PLAIN: its schema history topic too is written and read through
// SASL_SSL.
func TestSASLMariaDBExactlyOnce(t *testing.T) {
	kafka := StartPrivateKafka(t)
	for _, mechanism := range []string{"SCRAM-SHA-512", "PLAIN"} {
		t.Run(mechanism, func(t *testing.T) {
			my := NewMariaDB(t)
			mustExecMySQL(t, my.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
			for i := 1; i <= counterKeys; i++ {
				mustExecMySQL(t, my.DB, `INSERT INTO counters VALUES (?, 0)`, i)
			}
			c := NewMySQLConnector(t, my, "counters")
			config := kafka.UseSASLIn(t, c.Config(), mechanism, KafkaSASLPassword)
			if !strings.Contains(config, "mechanism: "+mechanism) {
				t.Fatalf("the config does not use %s:\n%s", mechanism, config)
			}
			cdcd := StartCDCD(t, config)
			c.WaitReading(t, cdcd)
			writer := startCounterWriter(t, mysqlIncrement(my.DB))
			consumer := kafka.NewSASLAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
			records := consumer.Collect(t, 500, 2*time.Minute)
			expected := writer.stop(t)
			records = collectCounters(t, consumer, records, expected)
			checkCounters(t, records, expected)
			t.Logf("%s: %d changes in, %d records out", mechanism, expected, len(records))
			if strings.Contains(cdcd.Logs(), KafkaSASLPassword) {
				t.Errorf("cdcd's log shows the SASL password")
			}
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited with %d after SIGTERM", code)
			}
		})
	}
}

// kafkaSecurityFailFast bounds how long cdcd may take to give up on a broker that refuses it
// or that it refuses: the 10 s, from the process's start.
const kafkaSecurityFailFast = 10 * time.Second

// TestKafkaTLSMistakesFailAtStart starts cdcd against the SASL_SSL listener with each mistake a
// deployment makes (a wrong password, a CA that did not sign the broker's certificate, a server
// name the certificate does not carry, no SASL where the listener wants it, TLS to a PLAINTEXT
// listener): cdcd exits within 10 s, not retrying, with a message naming the broker and the
// cause, and never the password.
func TestKafkaTLSMistakesFailAtStart(t *testing.T) {
	kafka := StartPrivateKafka(t)
	db := NewPostgresDB(t)
	mustExec(t, db.Conn(t), `CREATE TABLE items (id int PRIMARY KEY)`)
	if _, err := buildOnce(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		password string
		tls      []string
		// edit, when set, changes the config and says which broker it names.
		edit  func(config string) (string, string)
		cause string
	}{
		{"wrong password", "not-the-password", nil, nil, "SASL_AUTHENTICATION_FAILED"},
		// No ca_file: the system's roots, which did not sign the stack's certificate.
		{"unknown CA", KafkaSASLPassword, []string{"enabled: true"}, nil, "certificate signed by unknown authority"},
		{"wrong server name", KafkaSASLPassword, []string{"enabled: true", "ca_file: " + kafka.CAFile(), "server_name: kafka.example.com"},
			nil, "not kafka.example.com"},
		{"no SASL", KafkaSASLPassword, nil, func(config string) (string, string) {
			sasl := "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: " + KafkaSASLUser + "\n    password: " + KafkaSASLPassword + "\n"
			if !strings.Contains(config, sasl) {
				t.Fatalf("no sasl section %q in:\n%s", sasl, config)
			}
			return strings.Replace(config, sasl, "", 1), kafka.SASLAddr()
		}, "SASL"},
		{"TLS to a PLAINTEXT listener", KafkaSASLPassword, nil, func(config string) (string, string) {
			return strings.Replace(config, kafka.SASLAddr(), kafka.Addr(), 1), kafka.Addr()
		}, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewPostgresConnector(t, db, "public.items")
			config, broker := kafka.UseSASLIn(t, c.Config(), "SCRAM-SHA-512", tc.password, tc.tls...), kafka.SASLAddr()
			if tc.edit != nil {
				config, broker = tc.edit(config)
			}
			started := time.Now()
			cdcd := StartCDCD(t, config)
			code := cdcd.Wait(2 * time.Minute)
			took := time.Since(started)
			logs := cdcd.Logs()
			if code == 0 {
				t.Fatalf("cdcd exited with 0; log:\n%s", logs)
			}
			for _, want := range []string{broker, tc.cause} {
				if !strings.Contains(logs, want) {
					t.Errorf("cdcd's log does not name %q:\n%s", want, logs)
				}
			}
			if strings.Contains(logs, tc.password) {
				t.Errorf("cdcd's log shows the password %q", tc.password)
			}
			t.Logf("cdcd exited with %d after %s:\n%s", code, took.Round(time.Millisecond), lastLines(logs, 3))
			if took > kafkaSecurityFailFast {
				t.Errorf("cdcd took %s to give up, want under %s", took.Round(time.Millisecond), kafkaSecurityFailFast)
			}
		})
	}
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
