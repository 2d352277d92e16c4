package connectors

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/transform"
)

// This file is the one syntax both sources use to name a table in their settings (tables,
// signal table), in signals and in stored positions: "<namespace>.<table>", the namespace
// being PostgreSQL's schema or MySQL's database.
//
// A part is written as it is (case-sensitive, any character but '.', ',' and a leading '"'),
// or double-quoted as in SQL, a '"' inside doubled: shop.orders, "my schema"."Ümlaut Tab",
// public."my.table", public."say ""hi""". Quoting is needed only for a part that holds a
// '.' or a ',' (the API's lists are comma-separated), starts with '"', or starts or ends with
// a space (list items are trimmed). The canonical
// form (JoinTable) quotes only those parts, so the names that needed no quotes before keep
// their spelling in stored positions.

// ErrTableName means a table name does not parse as "<namespace>.<table>".
var ErrTableName = errors.New("not a qualified table name")

// SplitTable parses s, "<namespace>.<table>" with each part plain or double-quoted, into its
// parts. Neither part may be empty.
func SplitTable(s string) (namespace, table string, err error) {
	namespace, rest, err := transform.TablePart(s)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %w", ErrTableName, s, err)
	}
	if !strings.HasPrefix(rest, ".") {
		return "", "", fmt.Errorf("%w: %q: no '.' between the namespace and the table", ErrTableName, s)
	}
	table, rest, err = transform.TablePart(rest[1:])
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %w", ErrTableName, s, err)
	}
	if rest != "" {
		return "", "", fmt.Errorf("%w: %q: %q after the table (quote a name that holds a '.')", ErrTableName, s, rest)
	}
	return namespace, table, nil
}

// JoinTable returns the canonical "<namespace>.<table>": each part as it is, unless it holds
// a '.' or a ',', starts with '"', starts or ends with a space, or is empty; then
// double-quoted.
func JoinTable(namespace, table string) string {
	return quoteTablePart(namespace) + "." + quoteTablePart(table)
}

func quoteTablePart(s string) string {
	if s != "" && !strings.ContainsAny(s, ".,") && !strings.HasPrefix(s, `"`) && strings.TrimSpace(s) == s {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// CanonicalTable returns s in JoinTable's form: `"public"."orders"` becomes public.orders.
func CanonicalTable(s string) (string, error) {
	ns, t, err := SplitTable(s)
	if err != nil {
		return "", err
	}
	return JoinTable(ns, t), nil
}

// CanonicalTables returns tables with each name in JoinTable's form; a name that does not
// parse is kept as it is, for the configuration's check to name it.
func CanonicalTables(tables []string) []string {
	if tables == nil {
		return nil
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		if c, err := CanonicalTable(t); err == nil {
			out[i] = c
		} else {
			out[i] = t
		}
	}
	return out
}

// CheckTableTopics fails with a ConfigError of source naming the first two tables (in
// JoinTable's form, already checked) whose default topics would be the same once their names
// are sanitised (transform.DefaultTopic): their records would mix in one topic.
func CheckTableTopics(source string, tables []string) error {
	pairs := make([][2]string, 0, len(tables))
	for _, t := range tables {
		if ns, name, err := SplitTable(t); err == nil {
			pairs = append(pairs, [2]string{ns, name})
		}
	}
	a, b, ok := transform.TopicCollision(pairs)
	if !ok {
		return nil
	}
	return &ConfigError{Source: source, Field: "tables",
		Problem: fmt.Sprintf("tables %s and %s both map to topic <prefix>%s once their names are sanitised",
			JoinTable(a[0], a[1]), JoinTable(b[0], b[1]), transform.DefaultTopic("", a[0], a[1])),
		Fix: "capture only one of them, or rename one"}
}

// SplitTableList splits a comma-separated list of table names at the commas outside double
// quotes: `a.b,s."x,y"` is a.b and s."x,y". The items are not trimmed.
func SplitTableList(s string) []string { return transform.SplitTableList(s) }
