package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Two connectors must never share a slot (each would confirm, and so release, what the other
// has not read yet, and only one can stream at a time) nor a publication cdcd manages (cdcd
// alters it to fit its connector's tables). The default names derive from the connector's
// name and lose distinctions ("coll-a" and "coll.a" both give cdcd_coll_a, as do names equal
// in their first 58 characters), so the owner is recorded on the server: a publication cdcd
// creates gets the comment ownerComment, naming its connector and that connector's slot, and
// Open refuses a publication or slot another connector's comment claims. A slot has no comment
// of its own; its claim rides on its connector's publication, in the same database.

// ownerPattern reads ownerComment back: the connector, then the slot.
var ownerPattern = regexp.MustCompile(`^cdcd connector ([A-Za-z0-9_.-]+) owns this publication and replication slot ([a-z0-9_]+)`)

// ownerComment is the publication comment that records its owner.
func ownerComment(connector, slot string) string {
	return fmt.Sprintf("cdcd connector %s owns this publication and replication slot %s; "+
		"another connector must not use them (drop both once the connector is deleted)", connector, slot)
}

// parseOwner returns the connector and slot an ownerComment names; ok is false for any other
// comment (none, or a user's).
func parseOwner(comment string) (connector, slot string, ok bool) {
	m := ownerPattern.FindStringSubmatch(comment)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// publicationClaim is a publication of the database with an owner comment.
type publicationClaim struct {
	publication, connector, slot string
}

// judgeOwnership tells whether the connector of cfg may use its publication and slot, given
// the database's publications that carry an owner comment.
func judgeOwnership(cfg Config, claims []publicationClaim) error {
	if cfg.Connector == "" {
		return nil
	}
	for _, c := range claims {
		if c.connector == cfg.Connector {
			continue
		}
		gone := fmt.Sprintf("if connector %s no longer exists, drop what it left: DROP PUBLICATION %s; SELECT pg_drop_replication_slot('%s')",
			c.connector, pgx.Identifier{c.publication}.Sanitize(), c.slot)
		switch {
		case c.publication == cfg.Publication:
			return &ConfigError{Source: "postgres", Field: "publication",
				Problem: fmt.Sprintf("publication %s belongs to connector %s (its comment says so), not to connector %s: two connectors cannot share a publication cdcd manages",
					cfg.Publication, c.connector, cfg.Connector),
				Fix: "give this connector a publication and slot of its own (postgres.publication and postgres.slot); " + gone}
		case c.slot == cfg.Slot:
			return &ConfigError{Source: "postgres", Field: "slot",
				Problem: fmt.Sprintf("replication slot %s belongs to connector %s (the comment of its publication %s says so), not to connector %s: two connectors cannot share a slot",
					cfg.Slot, c.connector, c.publication, cfg.Connector),
				Fix: "give this connector a slot and publication of its own (postgres.slot and postgres.publication); " + gone}
		}
	}
	return nil
}

// checkOwnership reads the owner comments of the database's publications and refuses a
// publication or slot that belongs to another connector (see judgeOwnership).
func checkOwnership(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	if cfg.Connector == "" {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT pubname, coalesce(obj_description(oid, 'pg_publication'), '') FROM pg_publication`)
	if err != nil {
		return fmt.Errorf("postgres source: reading the publications' comments: %w", err)
	}
	var claims []publicationClaim
	var pub, comment string
	_, err = pgx.ForEachRow(rows, []any{&pub, &comment}, func() error {
		if connector, slot, ok := parseOwner(comment); ok {
			claims = append(claims, publicationClaim{publication: pub, connector: connector, slot: slot})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres source: reading the publications' comments: %w", err)
	}
	return judgeOwnership(cfg, claims)
}

// claimPublication records cfg's connector as the owner of its existing publication when the
// publication has no comment (one cdcd created before it recorded owners, or one a user made
// for it), and updates the slot its own claim names when the connector's slot changed. A
// publication the user manages (PublicationMustExist), with a comment of the user's, or
// claimed by another connector (checkOwnership refuses it) is left as it is. A failure (the
// user does not own the publication) is only logged: the claim protects against a second
// connector, it is not needed to capture.
func claimPublication(ctx context.Context, conn *pgx.Conn, cfg Config) {
	if cfg.Connector == "" || cfg.PublicationPolicy == PublicationMustExist {
		return
	}
	var comment string
	err := conn.QueryRow(ctx, `SELECT coalesce(obj_description(oid, 'pg_publication'), '') FROM pg_publication WHERE pubname = $1`,
		cfg.Publication).Scan(&comment)
	if err != nil {
		return
	}
	if connector, slot, ok := parseOwner(comment); comment != "" && (!ok || connector != cfg.Connector || slot == cfg.Slot) {
		return
	}
	if _, err := conn.Exec(ctx, commentStatement(cfg)); err != nil {
		cfg.Logger.Warn().Err(err).Str("publication", cfg.Publication).
			Msg("cannot record this connector as the publication's owner; a second connector configured with the same publication or slot would not be refused")
	}
}

// commentStatement is the COMMENT ON PUBLICATION that records cfg's connector as its owner.
func commentStatement(cfg Config) string {
	return fmt.Sprintf("COMMENT ON PUBLICATION %s IS '%s'", pgx.Identifier{cfg.Publication}.Sanitize(),
		strings.ReplaceAll(ownerComment(cfg.Connector, cfg.Slot), "'", "''"))
}

// NameCollision tells whether the connectors configured as a and b (their Connector names
// set) would share a replication slot (same server and slot name: slot names are unique in a
// whole server) or a publication (same server, database and publication name, unless both
// use a publication the user manages, PublicationMustExist, which may be shared). It returns
// an error naming both connectors and the name they share, nil when they do not collide. The
// daemon calls it when a connector is configured, before either one runs; Open checks the
// same on the server.
func NameCollision(a, b Config) error {
	a, b = a.withDefaults(), b.withDefaults()
	if !strings.EqualFold(a.Host, b.Host) || a.Port != b.Port {
		return nil
	}
	server := fmt.Sprintf("%s:%d", a.Host, a.Port)
	var shared []string
	if a.Slot == b.Slot {
		shared = append(shared, "replication slot "+a.Slot)
	}
	if a.Database == b.Database && a.Publication == b.Publication &&
		(a.PublicationPolicy != PublicationMustExist || b.PublicationPolicy != PublicationMustExist) {
		shared = append(shared, "publication "+a.Publication)
	}
	if len(shared) == 0 {
		return nil
	}
	return fmt.Errorf("%w: connectors %q and %q would share %s on %s (names derived from connector names lose case, "+
		"'.', '-' and everything past 58 characters); set postgres.slot and postgres.publication of one of them to names of its own",
		ErrNameCollision, a.Connector, b.Connector, strings.Join(shared, " and "), server)
}

// ErrNameCollision is wrapped by NameCollision's errors.
var ErrNameCollision = errors.New("postgres source: slot or publication names collide")
