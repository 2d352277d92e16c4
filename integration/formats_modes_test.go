package integration

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestPostgresModesAndSubjectStrategies streams a PostgreSQL table through cdcd with format
// avro, decimal.handling.mode string, time.precision.mode connect, binary.handling.mode hex and
// the key and value subjects named by RecordNameStrategy and TopicRecordNameStrategy (the
// class name): a consumer reading through the registry gets the values in those forms, and the
// embedded registry's REST API lists exactly the subjects the strategies name.
func TestPostgresModesAndSubjectStrategies(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2), nu numeric, d date,
		tm time, ts timestamp, data bytea)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.ConnectorExtra = []string{"decimal_handling_mode: string", "time_precision_mode: connect", "binary_handling_mode: hex",
		"key_subject_name_strategy: RecordNameStrategy",
		"value_subject_name_strategy: io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"}
	cdcd := c.StartStreaming(t, conn)

	mustExec(t, conn, `INSERT INTO items VALUES (1, -1234.5, 3.14159, '2024-02-29', '12:34:56.789012',
		'2024-02-29 11:14:15.123456', '\xdeadbeef')`)
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 1, 2*time.Minute)
	after := got[0].After()
	want := map[string]any{
		"id": 1, "price": "-1234.50", "nu": "3.14159",
		"d":    time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"tm":   12*time.Hour + 34*time.Minute + 56*time.Second + 789*time.Millisecond,
		"ts":   time.Date(2024, 2, 29, 11, 14, 15, 123e6, time.UTC),
		"data": "deadbeef",
	}
	for col, w := range want {
		g := after[col]
		if wt, ok := w.(time.Time); ok {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("%s = %#v, want %v", col, g, wt)
			}
			continue
		}
		if g != w {
			t.Errorf("%s = %#v (%T), want %#v", col, g, g, w)
		}
	}

	body, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	if err := json.Unmarshal(body, &subjects); err != nil {
		t.Fatalf("GET /subjects: %v: %s", err, body)
	}
	slices.Sort(subjects)
	topic := c.Topic("items")
	wantSubjects := []string{topic + ".Key", topic + "-" + topic + ".Envelope"}
	slices.Sort(wantSubjects)
	if !slices.Equal(subjects, wantSubjects) {
		t.Errorf("subjects %v, want %v", subjects, wantSubjects)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
