package decoder

import (
	"context"
	"encoding/binary"
	"testing"
)

// frame joins messages as the fuzz input and the fixture hold them: a big-endian uint32 length
// before each.
func frame(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
		out = append(out, m...)
	}
	return out
}

// FuzzPGDecode feeds sequences of pgoutput messages (framed as in the fixture, so that a
// Relation can precede the rows that use it) to one decoder: it must never panic, and a
// failure must be one of its typed errors. The seed corpus is in testdata/fuzz/FuzzPGDecode.
func FuzzPGDecode(f *testing.F) {
	f.Add(frame(relationMsg(), newMsg('I').u32(testRelID).u8('N').u16(3).text("7").text("pen").text("1.25").bytes()))
	f.Add(frame(newMsg('S').u32(9).u8(1).bytes(), append(newMsg('R').u32(9), relationMsg()[1:]...).bytes(),
		newMsg('E').bytes()))
	_, fixture := loadFixture(f)
	fixture.Relations[testRelID] = testCatalog().Relations[testRelID]
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewPGDecoder(&fakeCatalog{Relations: fixture.Relations, Types: fixture.Types})
		for len(data) >= 4 {
			n := int(binary.BigEndian.Uint32(data))
			if n > len(data)-4 {
				n = len(data) - 4
			}
			msg := data[4 : 4+n]
			data = data[4+n:]
			m, err := d.Decode(context.Background(), msg)
			if err != nil {
				continue
			}
			if m.Kind == PGChange && m.Change.Table == nil {
				t.Fatalf("change without a table: %+v", m)
			}
		}
	})
}
