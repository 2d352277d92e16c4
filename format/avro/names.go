package avro

import (
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
)

// NameCollisionError means two tables were given the same sanitised name: the same default
// topic (transform.DefaultTopic) or the same Avro record names, because the characters that
// set them apart were replaced by '_' (Debezium warns of such "unexpected conflicts"). The
// records of both would share one topic or one schema name, so the connector stops instead:
// it is not retryable. Rename one table, or leave it out of the capture.
type NameCollisionError struct {
	// What is "topic" or "record name"; Name is the shared sanitised name.
	What, Name string
	// First and Second are the two tables, each {namespace, name}, First the one seen first.
	First, Second [2]string
}

// Error names both tables and what they share.
func (e *NameCollisionError) Error() string {
	return fmt.Sprintf("tables %s and %s both map to %s %s once their names are sanitised: rename one of them or capture only one",
		quoteTable(e.First), quoteTable(e.Second), e.What, e.Name)
}

// Unwrap makes the error an ErrSchema: no record of the table can be written.
func (e *NameCollisionError) Unwrap() error { return ErrSchema }

// Retryable is false: a restart would meet the same names.
func (e *NameCollisionError) Retryable() bool { return false }

func quoteTable(t [2]string) string {
	return `"` + strings.ReplaceAll(t[0], `"`, `""`) + `"."` + strings.ReplaceAll(t[1], `"`, `""`) + `"`
}

// tableNames maps each sanitised name given out to the table it was given to.
type tableNames map[string][2]string

// claim records that t's records go to topic, its default topic, unless routed elsewhere,
// under the record name envelope (its value's full name); it fails when another table has
// either already. Routed records do not claim their default topic: a route may merge tables
// on purpose.
func (n tableNames) claim(topic string, routed bool, envelope string, t *decoder.Table) error {
	id := [2]string{t.Namespace, t.Name}
	type claim struct{ what, name string }
	var claims []claim
	if !routed {
		claims = append(claims, claim{"topic", topic})
	}
	claims = append(claims, claim{"record name", envelope})
	for _, c := range claims {
		if prev, ok := n[c.what+"\x00"+c.name]; ok && prev != id {
			return &NameCollisionError{What: c.what, Name: c.name, First: prev, Second: id}
		}
	}
	for _, c := range claims {
		n[c.what+"\x00"+c.name] = id
	}
	return nil
}
