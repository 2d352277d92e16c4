package avro

import (
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
)

// itemsValue derives the value schema of public.items with id plus the given columns.
func itemsValue(t *testing.T, cols ...decoder.Column) avro.Schema {
	t.Helper()
	tab := &decoder.Table{Namespace: "public", Name: "items",
		Columns: append([]decoder.Column{{Name: "id", Type: decoder.TypeInt32, Key: true}}, cols...)}
	s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, tab)
	if err != nil {
		t.Fatal(err)
	}
	return s.Value
}

func col(name string, typ decoder.Type, optional bool) decoder.Column {
	return decoder.Column{Name: name, Type: typ, Optional: optional}
}

func TestCheckCompatible(t *testing.T) {
	priceInt := itemsValue(t, col("price", decoder.TypeInt32, false))
	priceLong := itemsValue(t, col("price", decoder.TypeInt64, false))
	priceString := itemsValue(t, col("price", decoder.TypeString, false))
	priceOptString := itemsValue(t, col("price", decoder.TypeString, true))
	onlyID := itemsValue(t)
	addRequired := itemsValue(t, col("price", decoder.TypeInt32, false), col("qty", decoder.TypeInt64, false))
	addOptional := itemsValue(t, col("price", decoder.TypeInt32, false), col("qty", decoder.TypeInt64, true))
	qtyOptLong := itemsValue(t, col("qty", decoder.TypeInt64, true))
	qtyOptString := itemsValue(t, col("qty", decoder.TypeString, true))

	for _, tc := range []struct {
		name      string
		level     Compatibility
		existing  []avro.Schema
		candidate avro.Schema
		column    string // "" = compatible
		reason    string
	}{
		{"none allows anything", CompatNone, []avro.Schema{priceInt}, priceString, "", ""},
		{"no versions", CompatFull, nil, priceString, "", ""},
		{"backward same", CompatBackward, []avro.Schema{priceInt}, priceInt, "", ""},
		{"backward type change", CompatBackward, []avro.Schema{priceInt}, priceString, "price", "changed from int to string"},
		{"backward promotion", CompatBackward, []avro.Schema{priceInt}, priceLong, "", ""},
		{"backward add optional", CompatBackward, []avro.Schema{priceInt}, addOptional, "", ""},
		{"backward add required", CompatBackward, []avro.Schema{priceInt}, addRequired, "qty", "added as long without a default"},
		{"backward drop column", CompatBackward, []avro.Schema{priceInt}, onlyID, "", ""},
		{"backward checks latest only", CompatBackward, []avro.Schema{priceInt, onlyID}, priceOptString, "", ""},
		{"backward transitive", CompatBackwardTransitive, []avro.Schema{priceInt, onlyID}, priceOptString, "price", "changed from int to optional string"},
		{"forward add required", CompatForward, []avro.Schema{priceInt}, addRequired, "", ""},
		{"forward drop required", CompatForward, []avro.Schema{priceInt}, onlyID, "price", "removed although it was int without a default"},
		{"forward demotion", CompatForward, []avro.Schema{priceLong}, priceInt, "", ""},
		{"forward promotion", CompatForward, []avro.Schema{priceInt}, priceLong, "price", "changed from int to long"},
		{"forward checks latest only", CompatForward, []avro.Schema{qtyOptLong, onlyID}, qtyOptString, "", ""},
		{"forward transitive", CompatForwardTransitive, []avro.Schema{qtyOptLong, onlyID}, qtyOptString, "qty", "changed from optional long to optional string"},
		{"full add optional", CompatFull, []avro.Schema{priceInt}, addOptional, "", ""},
		{"full promotion", CompatFull, []avro.Schema{priceInt}, priceLong, "price", "changed from int to long"},
		{"full add required", CompatFull, []avro.Schema{priceInt}, addRequired, "qty", "added as long without a default"},
		{"full transitive", CompatFullTransitive, []avro.Schema{qtyOptLong, onlyID}, qtyOptString, "qty", "changed from optional long to optional string"},
		{"full transitive ok", CompatFullTransitive, []avro.Schema{priceInt, addOptional}, addOptional, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCompatible(tc.level, tc.candidate, tc.existing)
			if tc.column == "" {
				if err != nil {
					t.Fatalf("want compatible, got %v", err)
				}
				return
			}
			var ie *IncompatibleError
			if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) {
				t.Fatalf("want *IncompatibleError, got %v", err)
			}
			if ie.Column != tc.column || ie.Reason != tc.reason || ie.Level != tc.level {
				t.Errorf("got column %q reason %q level %s, want %q %q %s", ie.Column, ie.Reason, ie.Level, tc.column, tc.reason, tc.level)
			}
			msg := err.Error()
			for _, part := range []string{"table cdc.public.items", `column "` + tc.column + `"`, string(tc.level) + " forbids"} {
				if !strings.Contains(msg, part) {
					t.Errorf("message %q lacks %q", msg, part)
				}
			}
		})
	}
}

func TestIncompatibleErrorMessage(t *testing.T) {
	e := &IncompatibleError{Subject: "cdc.public.items-value", Table: "public.items", Column: "price",
		Level: CompatBackward, Reason: "changed from int to string"}
	want := `table public.items: column "price" changed from int to string, which BACKWARD forbids (subject cdc.public.items-value)`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
}

func TestParseCompatibility(t *testing.T) {
	for in, want := range map[string]Compatibility{
		"NONE": CompatNone, "backward": CompatBackward, "BACKWARD_TRANSITIVE": CompatBackwardTransitive,
		"FORWARD": CompatForward, "forward_transitive": CompatForwardTransitive, "FULL": CompatFull,
		" FULL_TRANSITIVE ": CompatFullTransitive,
	} {
		if got, err := ParseCompatibility(in); err != nil || got != want {
			t.Errorf("ParseCompatibility(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "SIDEWAYS", "FULLTRANSITIVE"} {
		if _, err := ParseCompatibility(in); !errors.Is(err, ErrUnknownCompatibility) {
			t.Errorf("ParseCompatibility(%q): err %v", in, err)
		}
	}
}
