package decoder

import (
	"errors"
	"testing"
)

// TestPGVectorRejects: pgvector values the plans refuse rather than misread: malformed texts,
// and a sparsevec whose dimension count or indexes pass Debezium's INT16.
func TestPGVectorRejects(t *testing.T) {
	for _, tc := range []struct {
		ext, text, bin string
	}{
		{ext: "sparsevec", text: "{1:1}/40000"},
		{ext: "sparsevec", text: "{40000:1}/5"},
		{ext: "sparsevec", text: "{1:1"},
		{ext: "sparsevec", text: "{1}/3"},
		{ext: "sparsevec", text: "{a:1}/3"},
		{ext: "sparsevec", text: "1:1/3"},
		{ext: "sparsevec", bin: "00009c4000000000000000"},   // short
		{ext: "sparsevec", bin: "00009c400000000000000000"}, // 40000 dimensions
		{ext: "sparsevec", bin: "000000030000000100000000000000003f800000ff"},
		{ext: "vector", text: "[1,x]"},
		{ext: "halfvec", text: "1,2"},
		{ext: "halfvec", bin: "0002000000"},
	} {
		_, plans, ok := extensionPlan(PGTypeInfo{OID: 40000, Name: tc.ext, Kind: PGTypeBase}, HStoreJSON)
		if !ok {
			t.Fatalf("%s: no plan", tc.ext)
		}
		var v Value
		var err error
		if tc.text != "" {
			err = plans.text([]byte(tc.text), &v)
		} else {
			err = plans.bin(mustHex(tc.bin), &v, nil)
		}
		if !errors.Is(err, ErrPGBadValue) {
			t.Errorf("%s %q%s: %v, want ErrPGBadValue", tc.ext, tc.text, tc.bin, err)
		}
	}
}
