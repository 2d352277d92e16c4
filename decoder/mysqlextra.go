package decoder

import (
	"encoding/binary"
)

// mysqlSpatialTypes are the spatial column types, all read as Debezium's Geometry.
var mysqlSpatialTypes = map[string]bool{
	"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
	"multilinestring": true, "multipolygon": true, "geometrycollection": true, "geomcollection": true,
}

// mysqlValueBytes returns the bytes of a value go-mysql or a snapshot query yields as a
// string or []byte.
func mysqlValueBytes(in any) ([]byte, bool) {
	switch x := in.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

// planMySQLGeometry reads MySQL's internal geometry format, which the binlog and a snapshot
// query both give: the SRID (4 bytes, little-endian), then the WKB. An SRID of 0 (none) is
// Debezium's null SRID.
func planMySQLGeometry(in any, v *Value, a *mysqlArena) error {
	b, ok := mysqlValueBytes(in)
	if !ok || len(b) < 4+5 {
		return mysqlBadValue("geometry (SRID and WKB)", in)
	}
	srid := binary.LittleEndian.Uint32(b)
	v.Int, v.Scale = int64(srid), 0
	if srid != 0 {
		v.Scale = 1
	}
	if _, isString := in.(string); isString {
		v.Bytes = a.copyBytes(b[4:])
	} else {
		v.Bytes = b[4:]
	}
	return nil
}

// planMariaDBInet4 reads an INET4: its 4 bytes from the binlog (trailing zero bytes dropped,
// as a BINARY(4)'s are), or its text from a snapshot query (7 characters or more).
func planMariaDBInet4(in any, v *Value, a *mysqlArena) error {
	b, ok := mysqlValueBytes(in)
	if !ok {
		return mysqlBadValue("inet4", in)
	}
	if len(b) > 4 {
		v.Bytes = a.copyBytes(b)
		return nil
	}
	var addr [4]byte
	copy(addr[:], b)
	out := a.start(15)
	for i, c := range addr {
		if i > 0 {
			out = append(out, '.')
		}
		out = appendInt(out, int64(c))
	}
	v.Bytes = a.commit(out)
	return nil
}

// planMariaDBInet6 reads an INET6's 16 bytes, from the binlog (trailing zero bytes dropped) or
// from a snapshot query, which selects it CAST AS BINARY(16), and writes MariaDB's text of it,
// which is PostgreSQL's (appendIPv6).
func planMariaDBInet6(in any, v *Value, a *mysqlArena) error {
	b, ok := mysqlValueBytes(in)
	if !ok || len(b) > 16 {
		return mysqlBadValue("inet6 (16 bytes)", in)
	}
	var addr [16]byte
	copy(addr[:], b)
	v.Bytes = a.commit(appendIPv6(a.start(39), addr[:]))
	return nil
}

// planMariaDBUUID reads a UUID: its text from a snapshot query (36 characters), or its 16
// bytes from the binlog (trailing zero bytes dropped), in the order of its text: MariaDB 10.11
// stores some UUIDs with their segments swapped (for index locality) but writes the binlog in
// the display order, as CAST(uuid AS BINARY(16)) gives it.
func planMariaDBUUID(in any, v *Value, a *mysqlArena) error {
	b, ok := mysqlValueBytes(in)
	if !ok {
		return mysqlBadValue("uuid", in)
	}
	if len(b) == 36 {
		v.Bytes = a.copyBytes(b)
		return nil
	}
	if len(b) > 16 {
		return mysqlBadValue("uuid (16 bytes or 36 characters)", in)
	}
	var mem [16]byte
	copy(mem[:], b)
	out := a.start(36)
	for i, c := range mem {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	v.Bytes = a.commit(out)
	return nil
}
