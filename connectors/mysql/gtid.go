package mysql

import (
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"
)

// Flavor is the server family, which decides the GTID notation and how a binlog dump starts.
type Flavor uint8

// The flavors. The zero Flavor is unknown: Open detects it from SELECT VERSION().
const (
	FlavorUnknown Flavor = iota
	// FlavorMySQL: GTIDs are "uuid:gno" (or "uuid:tag:gno"); a GTID set is a set of intervals
	// per source uuid, "uuid:1-5:7-9,uuid2:1-3".
	FlavorMySQL
	// FlavorMariaDB: GTIDs are "domain-server-seq"; a GTID position holds the last GTID of
	// each replication domain, "0-1-100,1-2-7".
	FlavorMariaDB
)

// String names the flavor as go-mysql and the position JSON spell it.
func (f Flavor) String() string {
	switch f {
	case FlavorMySQL:
		return gomysql.MySQLFlavor
	case FlavorMariaDB:
		return gomysql.MariaDBFlavor
	default:
		return "unknown"
	}
}

func parseFlavor(s string) (Flavor, bool) {
	switch s {
	case gomysql.MySQLFlavor:
		return FlavorMySQL, true
	case gomysql.MariaDBFlavor:
		return FlavorMariaDB, true
	}
	return FlavorUnknown, false
}

// GTIDSet is a set of executed transactions in one flavor's notation: for MySQL the executed
// GTID set, for MariaDB the GTID position (the last GTID of each domain), which is what
// MariaDB resumes a binlog dump from. A GTIDSet is immutable: With returns a new one. The zero
// GTIDSet is empty and of unknown flavor.
type GTIDSet struct {
	flavor Flavor
	set    gomysql.GTIDSet
}

// ParseGTIDSet reads s in f's notation; the empty string is the empty set.
func ParseGTIDSet(f Flavor, s string) (GTIDSet, error) {
	var set gomysql.GTIDSet
	var err error
	switch f {
	case FlavorMySQL:
		set, err = gomysql.ParseMysqlGTIDSet(s)
	case FlavorMariaDB:
		set, err = parseMariaDBSet(s)
	default:
		return GTIDSet{}, fmt.Errorf("GTID set %q: flavor %s", s, f)
	}
	if err != nil {
		return GTIDSet{}, fmt.Errorf("%s GTID set %q: %w", f, s, err)
	}
	return GTIDSet{flavor: f, set: set}, nil
}

// parseMariaDBSet reads "d-s-n,d-s-n", refusing two GTIDs of one domain: a position has one
// per domain, and go-mysql would silently keep the last.
func parseMariaDBSet(s string) (gomysql.GTIDSet, error) {
	set := &gomysql.MariadbGTIDSet{Sets: make(map[uint32]*gomysql.MariadbGTID)}
	if s == "" {
		return set, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		g, err := parseMariaDBGTID(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if _, dup := set.Sets[g.DomainID]; dup {
			return nil, fmt.Errorf("domain %d appears twice", g.DomainID)
		}
		set.Sets[g.DomainID] = g
	}
	return set, nil
}

// parseMariaDBGTID reads one "domain-server-seq" strictly (go-mysql accepts "" as 0-0-0).
func parseMariaDBGTID(s string) (*gomysql.MariadbGTID, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return nil, fmt.Errorf("GTID %q is not domain-server-sequence", s)
	}
	d, err1 := strconv.ParseUint(parts[0], 10, 32)
	sv, err2 := strconv.ParseUint(parts[1], 10, 32)
	n, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("GTID %q is not domain-server-sequence in decimal", s)
	}
	return &gomysql.MariadbGTID{DomainID: uint32(d), ServerID: uint32(sv), SequenceNumber: n}, nil
}

// Flavor returns the set's flavor.
func (g GTIDSet) Flavor() Flavor { return g.flavor }

// IsEmpty tells whether the set holds no transaction.
func (g GTIDSet) IsEmpty() bool { return g.set == nil || g.set.IsEmpty() }

// String returns the set in its flavor's notation, in a canonical order (uuids, domains
// sorted; MySQL intervals merged), so that equal sets have equal strings.
func (g GTIDSet) String() string {
	if g.set == nil {
		return ""
	}
	return g.set.String()
}

// Equal tells whether g and o hold the same transactions.
func (g GTIDSet) Equal(o GTIDSet) bool {
	if g.IsEmpty() || o.IsEmpty() {
		return g.IsEmpty() && o.IsEmpty()
	}
	return g.flavor == o.flavor && g.set.Equal(o.set)
}

// Contains tells whether every transaction of o is in g: for MariaDB, whether each domain of
// o is in g at a sequence number at least o's.
func (g GTIDSet) Contains(o GTIDSet) bool {
	if o.IsEmpty() {
		return true
	}
	if g.IsEmpty() || g.flavor != o.flavor {
		return false
	}
	return g.set.Contain(o.set)
}

// With returns g plus the transaction gtid, one GTID in g's notation. For MariaDB, gtid
// replaces its domain's entry: the position is the last GTID applied in each domain.
func (g GTIDSet) With(gtid string) (GTIDSet, error) {
	switch g.flavor {
	case FlavorMariaDB:
		m, err := parseMariaDBGTID(gtid)
		if err != nil {
			return GTIDSet{}, err
		}
		return g.withMariaDB(*m), nil
	case FlavorMySQL:
		u, tag, gno, err := parseMySQLGTID(gtid)
		if err != nil {
			return GTIDSet{}, err
		}
		return g.withMySQL(u, tag, gno), nil
	default:
		return GTIDSet{}, fmt.Errorf("adding GTID %q to a set of flavor %s", gtid, g.flavor)
	}
}

func (g GTIDSet) withMariaDB(m gomysql.MariadbGTID) GTIDSet {
	out := &gomysql.MariadbGTIDSet{Sets: make(map[uint32]*gomysql.MariadbGTID)}
	if cur, ok := g.set.(*gomysql.MariadbGTIDSet); ok {
		for d, v := range cur.Sets {
			c := *v
			out.Sets[d] = &c
		}
	}
	out.Sets[m.DomainID] = &m
	return GTIDSet{flavor: FlavorMariaDB, set: out}
}

func (g GTIDSet) withMySQL(u uuid.UUID, tag gomysql.Tag, gno int64) GTIDSet {
	var out *gomysql.MysqlGTIDSet
	if cur, ok := g.set.(*gomysql.MysqlGTIDSet); ok {
		out = cur.Clone().(*gomysql.MysqlGTIDSet)
	} else {
		s := gomysql.NewMysqlGTIDSet()
		out = &s
	}
	out.AddGTIDWithTag(u, tag, gno)
	return GTIDSet{flavor: FlavorMySQL, set: out}
}

// parseMySQLGTID reads "uuid:gno" or "uuid:tag:gno".
func parseMySQLGTID(s string) (uuid.UUID, gomysql.Tag, int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return uuid.UUID{}, gomysql.Tag{}, 0, fmt.Errorf("GTID %q is not uuid:gno or uuid:tag:gno", s)
	}
	u, err := uuid.Parse(parts[0])
	if err != nil {
		return uuid.UUID{}, gomysql.Tag{}, 0, fmt.Errorf("GTID %q: %w", s, err)
	}
	var tag gomysql.Tag
	if len(parts) == 3 {
		tag = gomysql.NewTag(parts[1])
	}
	gno, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil || gno < 1 {
		return uuid.UUID{}, gomysql.Tag{}, 0, fmt.Errorf("GTID %q: the transaction number is not a positive integer", s)
	}
	return u, tag, gno, nil
}

// mysqlGTIDString formats a MySQL GTID from a GTID event's fields.
func mysqlGTIDString(sid []byte, tag gomysql.Tag, gno int64) (string, error) {
	u, err := uuid.FromBytes(sid)
	if err != nil {
		return "", fmt.Errorf("%w: GTID event with a source id of %d bytes", ErrProtocol, len(sid))
	}
	if tag != (gomysql.Tag{}) {
		return u.String() + ":" + tag.String() + ":" + strconv.FormatInt(gno, 10), nil
	}
	return u.String() + ":" + strconv.FormatInt(gno, 10), nil
}

// mariaDBGTIDString formats a MariaDB GTID.
func mariaDBGTIDString(g gomysql.MariadbGTID) string {
	return strconv.FormatUint(uint64(g.DomainID), 10) + "-" + strconv.FormatUint(uint64(g.ServerID), 10) + "-" +
		strconv.FormatUint(g.SequenceNumber, 10)
}
