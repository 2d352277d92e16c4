package postgres

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// The type settings of the section reach the source's Config, and bad ones are refused.
func TestSectionTypeSettings(t *testing.T) {
	no, yes := false, true
	for _, tc := range []struct {
		include *bool
		hstore  string
		unknown decoder.UnknownTypes
		mode    decoder.HStoreMode
	}{
		{nil, "", decoder.UnknownTypesAsText, decoder.HStoreJSON},
		{&yes, "json", decoder.UnknownTypesAsText, decoder.HStoreJSON},
		{&no, "map", decoder.UnknownTypesFail, decoder.HStoreMap},
	} {
		sec := &Section{Host: "db", User: "cdc", Database: "shop", Port: 5432,
			IncludeUnknownDatatypes: tc.include, HStoreHandlingMode: tc.hstore}
		s := connectors.Settings{Name: "types", Section: sec}
		if errs := (Kind{}).Validate(s); len(errs) != 0 {
			t.Fatalf("%+v: %v", tc, errs)
		}
		cfg := SourceConfig(s, connectors.Env{Logger: zerolog.Nop()})
		if cfg.UnknownTypes != tc.unknown || cfg.HStoreMode != tc.mode {
			t.Errorf("%+v: config has %v and %v", tc, cfg.UnknownTypes, cfg.HStoreMode)
		}
	}
	sec := &Section{Host: "db", User: "cdc", Database: "shop", Port: 5432, HStoreHandlingMode: "hash"}
	errs := Kind{}.Validate(connectors.Settings{Name: "types", Section: sec})
	if len(errs) != 1 || errs[0].Key != "postgres.hstore_handling_mode" {
		t.Errorf("hstore_handling_mode hash: %v", errs)
	}
}

// The source warns once per unmapped column, whichever decoder (stream, snapshot, incremental
// snapshot, each with a copy of the Config) meets it.
func TestUnmappedColumnWarnedOnce(t *testing.T) {
	cfg := Config{}.withDefaults()
	copied := cfg
	u := decoder.UnmappedColumn{Namespace: "public", Table: "t", Column: "c", SourceType: "cube"}
	if !cfg.warned.first(u) || copied.warned.first(u) || cfg.warned.first(u) {
		t.Error("a column was warned about more than once, or never")
	}
	if !copied.warned.first(decoder.UnmappedColumn{Namespace: "public", Table: "t", Column: "d", SourceType: "cube"}) {
		t.Error("another column was not warned about")
	}
}
