package worker

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
)

// configRecords returns the values of the config topic's records, as any client reads them.
func configRecords(t *testing.T, kafka []kgo.Opt) [][]byte {
	t.Helper()
	ctx := testCtx(t)
	cl, err := kgo.NewClient(append(kafka, kgo.ConsumeTopics(DefaultConfigTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, DefaultConfigTopic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(DefaultConfigTopic, 0)
	var out [][]byte
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading the config topic: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	return out
}

// TestSealedSecretsInTheConfigTopic: with a secrets key, a connector's literal secret is in
// none of the config topic's records, a reference is stored as it is, and a manager with the
// same key restores the connector with its secret; one with another key restores it FAILED,
// naming both keys' ids and not the secret; one without a key reads a plain record of before
// as it is.
func TestSealedSecretsInTheConfigTopic(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	key := bytes.Repeat([]byte{7}, SecretsKeySize)
	other := bytes.Repeat([]byte{9}, SecretsKeySize)
	f := newFakeFactory()
	m := newManager(ctx, t, kafka, f, SealSecrets(key))
	mustPut(ctx, t, m, "lit", fakeConfig("pa"))
	ref := fakeConfig("pb")
	ref[secretKey] = "${env:PB_PASSWORD}"
	mustPut(ctx, t, m, "ref", ref)
	waitState(ctx, t, m, "lit", api.StateRunning)
	if c := f.conn("lit"); c.cfg[secretKey] != "s3cret" {
		t.Fatalf("the connector was built with %q, want its secret", c.cfg[secretKey])
	}
	m.Close()

	records := configRecords(t, kafka)
	if len(records) < 2 {
		t.Fatalf("%d records in the config topic, want 2", len(records))
	}
	sealed := 0
	for _, v := range records {
		if bytes.Contains(v, []byte("s3cret")) {
			t.Errorf("a config record holds the secret: %s", v)
		}
		if bytes.Contains(v, []byte(sealedPrefix+KeyID(key)+":")) {
			sealed++
		}
		if bytes.Contains(v, []byte(`"topic_prefix":"pb"`)) && !bytes.Contains(v, []byte(`"${env:PB_PASSWORD}"`)) {
			t.Errorf("the reference is not stored as it is: %s", v)
		}
	}
	if sealed != 1 {
		t.Errorf("%d records hold a value sealed with key %s, want 1 (lit's)", sealed, KeyID(key))
	}

	f2 := newFakeFactory()
	m2 := newManager(ctx, t, kafka, f2, SealSecrets(key))
	waitState(ctx, t, m2, "lit", api.StateRunning)
	if c := f2.conn("lit"); c.cfg[secretKey] != "s3cret" {
		t.Fatalf("restored with %q, want the secret opened", c.cfg[secretKey])
	}
	m2.Close()

	m3 := newManager(ctx, t, kafka, newFakeFactory(), SealSecrets(other))
	st := waitState(ctx, t, m3, "lit", api.StateFailed)
	if tr := st.Connector.Trace; !strings.Contains(tr, KeyID(key)) || !strings.Contains(tr, KeyID(other)) || strings.Contains(tr, "s3cret") {
		t.Errorf("trace %q, want both keys' ids and no secret", tr)
	}
	waitState(ctx, t, m3, "ref", api.StateRunning)
	m3.Close()
}

// TestSealedValueBoundToItsConnector: a sealed value copied into another connector or key
// does not open, and the error does not show it.
func TestSealedValueBoundToItsConnector(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{1}, SecretsKeySize))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.seal("a", "postgres.password", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.open("a", "postgres.password", v); err != nil || got != "hunter2" {
		t.Fatalf("open = %q, %v", got, err)
	}
	for _, c := range []struct{ name, key string }{{"b", "postgres.password"}, {"a", "mysql.password"}} {
		if _, err := s.open(c.name, c.key, v); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("open as %s %s: %v, want an error without the secret", c.name, c.key, err)
		}
	}
	if w, _ := s.seal("a", "postgres.password", "hunter2"); w == v {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was taken")
	}
}
