package worker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
)

func TestOffsets(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	f := newFakeFactory()
	m := newManager(ctx, t, kafka, f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	key := offsets.Key{Connector: "a", Server: "pa"}
	one := func(partition map[string]any, offset string) api.Offsets {
		return api.Offsets{Offsets: []api.Offset{{Partition: partition, Offset: json.RawMessage(offset)}}}
	}
	good := one(map[string]any{"server": "pa"}, `{"source":{"lsn":"0/16B3748"},"skip":3}`)

	got, err := m.Offsets(ctx, "a")
	if err != nil || got.Offsets == nil || len(got.Offsets) != 0 {
		t.Fatalf("Offsets with none committed = %+v, %v; want an empty list", got, err)
	}

	// Changes only while STOPPED.
	err = m.AlterOffsets(ctx, "a", good)
	wantErr(t, "AlterOffsets while running", err, api.ErrConflict)
	if !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("conflict message: %v", err)
	}
	wantErr(t, "ResetOffsets while running", m.ResetOffsets(ctx, "a"), api.ErrConflict)
	if err := m.Pause(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "AlterOffsets while paused", m.AlterOffsets(ctx, "a", good), api.ErrConflict)
	if err := m.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}

	for what, offs := range map[string]api.Offsets{
		"no entry":          {},
		"two entries":       {Offsets: append(good.Offsets, good.Offsets...)},
		"another partition": one(map[string]any{"server": "pb"}, `{"source":{"lsn":"0/1"}}`),
		"extra partition":   one(map[string]any{"server": "pa", "x": "y"}, `{"source":{"lsn":"0/1"}}`),
		"no source":         one(map[string]any{"server": "pa"}, `{"skip":1}`),
		"unknown field":     one(map[string]any{"server": "pa"}, `{"source":1,"lsn":2}`),
		"negative skip":     one(map[string]any{"server": "pa"}, `{"source":1,"skip":-1}`),
		"not an object":     one(map[string]any{"server": "pa"}, `"0/1"`),
		"refused by source": one(map[string]any{"server": "pa"}, `{"source":"purged"}`),
	} {
		wantErr(t, what, m.AlterOffsets(ctx, "a", offs), api.ErrInvalid)
	}

	if err := m.AlterOffsets(ctx, "a", good); err != nil {
		t.Fatalf("AlterOffsets: %v", err)
	}
	pos, err := kafkalog.ReadOffset(ctx, kafka, offsets.DefaultTopic, key)
	if err != nil || string(pos.Source) != `{"lsn":"0/16B3748"}` || pos.Skip != 3 {
		t.Fatalf("committed offset = %v, %v", pos, err)
	}
	got, err = m.Offsets(ctx, "a")
	if err != nil || len(got.Offsets) != 1 || got.Offsets[0].Partition["server"] != "pa" ||
		string(got.Offsets[0].Offset) != `{"source":{"lsn":"0/16B3748"},"skip":3}` {
		t.Fatalf("Offsets = %+v, %v", got, err)
	}

	if err := m.ResetOffsets(ctx, "a"); err != nil {
		t.Fatalf("ResetOffsets: %v", err)
	}
	if pos, err := kafkalog.ReadOffset(ctx, kafka, offsets.DefaultTopic, key); err != nil || !pos.IsZero() {
		t.Fatalf("after reset: %v, %v; want zero", pos, err)
	}
	if got, err := m.Offsets(ctx, "a"); err != nil || len(got.Offsets) != 0 {
		t.Fatalf("Offsets after reset = %+v, %v", got, err)
	}

	// A null offset resets too.
	if err := m.AlterOffsets(ctx, "a", good); err != nil {
		t.Fatal(err)
	}
	if err := m.AlterOffsets(ctx, "a", one(map[string]any{"server": "pa"}, `null`)); err != nil {
		t.Fatalf("AlterOffsets null: %v", err)
	}
	if pos, err := kafkalog.ReadOffset(ctx, kafka, offsets.DefaultTopic, key); err != nil || !pos.IsZero() {
		t.Fatalf("after a null offset: %v, %v; want zero", pos, err)
	}

	if err := m.Resume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "a", api.StateRunning)
	_, err = m.Offsets(ctx, "zz")
	wantErr(t, "Offsets of an unknown connector", err, api.ErrNotFound)
}
