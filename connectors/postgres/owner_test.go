package postgres

import (
	"errors"
	"strings"
	"testing"
)

func TestOwnerCommentRoundTrips(t *testing.T) {
	connector, slot, ok := parseOwner(ownerComment("coll-a.v2", "cdcd_coll_a_v2"))
	if !ok || connector != "coll-a.v2" || slot != "cdcd_coll_a_v2" {
		t.Errorf("parseOwner(ownerComment) = %q, %q, %t", connector, slot, ok)
	}
	for _, other := range []string{"", "the orders of the shop", "cdcd connector"} {
		if _, _, ok := parseOwner(other); ok {
			t.Errorf("parseOwner(%q) claims an owner", other)
		}
	}
}

// Open refuses a publication or a slot that another connector's publication comment claims,
// saying whose it is and what to do; its own claim, or none, is accepted.
func TestJudgeOwnership(t *testing.T) {
	cfg := validConfig() // slot cdcd_shop, publication cdcd_pub
	cfg.Connector = "shop.a"
	for _, tc := range []struct {
		name      string
		claims    []publicationClaim
		connector string
		wantField string // empty: accepted
	}{
		{"no claims", nil, "shop.a", ""},
		{"its own claim", []publicationClaim{{"cdcd_pub", "shop.a", "cdcd_shop"}}, "shop.a", ""},
		{"other connectors' publications and slots", []publicationClaim{{"cdcd_other", "other", "cdcd_other"}}, "shop.a", ""},
		{"the publication is another's", []publicationClaim{{"cdcd_pub", "shop-a", "cdcd_shop"}}, "shop.a", "publication"},
		{"the slot is another's", []publicationClaim{{"cdcd_b", "shop-a", "cdcd_shop"}}, "shop.a", "slot"},
		{"no connector name: nothing checked", []publicationClaim{{"cdcd_pub", "shop-a", "cdcd_shop"}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Connector = tc.connector
			err := judgeOwnership(c, tc.claims)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("judgeOwnership = %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.wantField {
				t.Fatalf("judgeOwnership = %v, want a ConfigError on %s", err, tc.wantField)
			}
			for _, want := range []string{"belongs to connector shop-a", "not to connector shop.a", "DROP PUBLICATION", "pg_drop_replication_slot"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestNameCollision(t *testing.T) {
	base := validConfig()
	base.Connector = "coll-a"
	for _, tc := range []struct {
		name   string
		change func(*Config)
		shared string // empty: no collision
	}{
		{"same slot and publication", func(c *Config) {}, "replication slot cdcd_shop and publication cdcd_pub"},
		{"same slot, another publication", func(c *Config) { c.Publication = "cdcd_b" }, "replication slot cdcd_shop on db:5432"},
		{"same slot, another database", func(c *Config) { c.Database = "other" }, "replication slot cdcd_shop on"},
		{"same publication, another slot", func(c *Config) { c.Slot = "cdcd_b" }, "publication cdcd_pub"},
		{"another server", func(c *Config) { c.Host = "db2" }, ""},
		{"another port", func(c *Config) { c.Port = 5433 }, ""},
		{"the same server by another case", func(c *Config) { c.Host = "DB" }, "replication slot"},
		{"same publication in another database", func(c *Config) { c.Slot, c.Database = "cdcd_b", "other" }, ""},
		{"a shared publication the user manages", func(c *Config) { c.Slot, c.PublicationPolicy = "cdcd_b", PublicationMustExist }, ""},
		{"different names", func(c *Config) { c.Slot, c.Publication = "cdcd_b", "cdcd_b" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base, base
			b.Connector = "coll.a"
			tc.change(&b)
			if tc.name == "a shared publication the user manages" {
				a.PublicationPolicy = PublicationMustExist
			}
			err := NameCollision(a, b)
			if tc.shared == "" {
				if err != nil {
					t.Fatalf("NameCollision = %v, want none", err)
				}
				return
			}
			if !errors.Is(err, ErrNameCollision) {
				t.Fatalf("NameCollision = %v, want ErrNameCollision", err)
			}
			for _, want := range []string{`"coll-a"`, `"coll.a"`, tc.shared} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
