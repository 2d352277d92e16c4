package schemaregistry

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format/avro"
)

// TestEncoderReusesAnOlderVersionOfTheEmbeddedRegistry is a restart after a process was killed
// between registering a table's new schema (qty long) and committing its records: the rows
// replayed first still have the older schema (qty int), already an earlier version of the
// subject. cdcd's encoder, through the HTTP client as cdcd runs it, must find that version and
// reuse it, not check it as a new one against the newer version, which BACKWARD refuses. The
// registry stores its own rendering of a schema, not the encoder's text.
func TestEncoderReusesAnOlderVersionOfTheEmbeddedRegistry(t *testing.T) {
	reg := openRegistry(t, newCluster(t))
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	items := func(version uint64, qty decoder.Type) *decoder.Change {
		return &decoder.Change{Op: decoder.OpCreate,
			Table: &decoder.Table{Namespace: "shop", Name: "items", Version: version, Columns: []decoder.Column{
				{Name: "id", Type: decoder.TypeInt32, SourceType: "int", Key: true},
				{Name: "qty", Type: qty, SourceType: "int"},
			}},
			After: []decoder.Value{{State: decoder.ValueSet, Int: 1}, {State: decoder.ValueSet, Int: 10}},
		}
	}
	// run is one process's encoder: a new one has nothing cached.
	run := func() *avro.Encoder {
		e, err := avro.NewEncoder(avro.WithTopicPrefix("cdc"),
			avro.WithSource(mysql.SourceBlock),
			avro.WithRegistry(avro.NewSRClient(srv.URL, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx := context.Background()
	if _, _, _, err := run().Encode(ctx, items(1, decoder.TypeInt32)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := run().Encode(ctx, items(2, decoder.TypeInt64)); err != nil {
		t.Fatal(err) // the killed run's registration
	}
	restarted := run()
	if _, _, _, err := restarted.Encode(ctx, items(1, decoder.TypeInt32)); err != nil {
		t.Fatalf("replaying a row of the older schema after a restart: %v", err)
	}
	if _, _, _, err := restarted.Encode(ctx, items(2, decoder.TypeInt64)); err != nil {
		t.Fatalf("the newer rows after them: %v", err)
	}
	for _, subject := range []string{"cdc.shop.items-value", "cdc.shop.items-key"} {
		want := map[string]int{"cdc.shop.items-value": 2, "cdc.shop.items-key": 1}[subject]
		if vs, err := reg.versionNumbers(subject, false); err != nil || len(vs) != want {
			t.Errorf("%s versions = %v, %v; want %d", subject, vs, err, want)
		}
	}
}
