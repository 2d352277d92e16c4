package schemaregistry

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/hamba/avro/v2"

	avroformat "github.com/cdcd-dev/cdcd/format/avro"
)

// schemaTypeAvro is Avro, the default type. Confluent omits schemaType for Avro in its answers
// and records, so the package does too (schematypes.go has the other types).
const schemaTypeAvro = "AVRO"

// errIDConflict marks a SCHEMA record whose id is already taken by a different schema earlier in
// the log: two processes issued the same id at the same time. The first in the log wins, in
// every process, because they all read the same order.
var errIDConflict = errors.New("schema id already used by another schema")

// subjectVersion is one version of a subject.
type subjectVersion struct {
	subject string
	version int
	id      int
	deleted bool
}

// idEntry is the schema an id stands for.
type idEntry struct {
	// schema is the canonical text (see canonicalize); it is the schema's identity.
	schema string
	// schemaType is AVRO or JSON; parsed is the schema parsed by it.
	schemaType string
	parsed     parsedSchema
	// refs counts the versions (live or soft-deleted) that carry the id: the id is forgotten
	// when the last of them is hard-deleted.
	refs int
}

// state is the registry's content, rebuilt by applying the records of the schemas topic in
// order. It does no I/O and takes no lock: the Registry guards it.
type state struct {
	subjects map[string]map[int]*subjectVersion
	ids      map[int]*idEntry
	// byText maps a schema's identity (its type and canonical text) to its id, so that the same
	// schema under another subject gets the same id.
	byText map[string]int
	// maxID is the highest id ever seen, including ids whose versions were hard-deleted since,
	// so that an id is never issued twice.
	maxID int
	// global is the configured global level, "" when none is configured.
	global avroformat.Compatibility
	// levels holds the subject-level compatibility settings.
	levels map[string]avroformat.Compatibility
}

func newState() *state {
	return &state{
		subjects: make(map[string]map[int]*subjectVersion),
		ids:      make(map[int]*idEntry),
		byText:   make(map[string]int),
		levels:   make(map[string]avroformat.Compatibility),
	}
}

// apply changes the state by one record. An error means the record was not applied; the state
// is unchanged.
func (s *state) apply(r record) error {
	switch r.key.KeyType {
	case keyTypeSchema:
		return s.applySchema(*r.key.Subject, r.key.Version, r.schema)
	case keyTypeConfig:
		return s.applyConfig(r.key.Subject, r.config)
	case keyTypeIDWatermark:
		if r.watermark != nil {
			s.maxID = max(s.maxID, r.watermark.MaxID)
		}
		return nil
	}
	return fmt.Errorf("%w: key type %q", errBadRecord, r.key.KeyType)
}

func (s *state) applySchema(subject string, version int, v *schemaValue) error {
	old := s.subjects[subject][version]
	if v == nil {
		if old != nil {
			s.removeVersion(old)
		}
		return nil
	}
	schemaType, served := normalType(v.SchemaType)
	if !served {
		return fmt.Errorf("%w: schema type %q", errBadRecord, v.SchemaType)
	}
	// Writers store the canonical text, so the comparison with the id's schema is usually
	// enough; a record in another form (Confluent's, or an older cdcd's if hamba/avro's JSON
	// form changes) is canonicalized here, so that identity never depends on who wrote it.
	text := v.Schema
	var parsed parsedSchema
	if entry := s.ids[v.ID]; entry == nil || entry.schema != text || entry.schemaType != schemaType {
		p, canonical, err := canonicalizeTyped(schemaType, text)
		if err != nil {
			return fmt.Errorf("%w: subject %q version %d: %w", errBadRecord, subject, version, err)
		}
		text, parsed = canonical, p
	}
	entry := s.ids[v.ID]
	if entry != nil && (entry.schema != text || entry.schemaType != schemaType) {
		return fmt.Errorf("%w: subject %q version %d id %d", errIDConflict, subject, version, v.ID)
	}
	if old != nil && old.id == v.ID {
		// The same version again, typically soft-deleted: only the flag changes.
		old.deleted = v.Deleted
		return nil
	}
	if entry == nil {
		entry = &idEntry{schema: text, schemaType: schemaType, parsed: parsed}
	}
	if old != nil {
		// old carries another id, so removing it leaves entry alone.
		s.removeVersion(old)
	}
	if s.ids[v.ID] == nil {
		s.ids[v.ID] = entry
		if _, taken := s.byText[identity(schemaType, text)]; !taken {
			s.byText[identity(schemaType, text)] = v.ID
		}
	}
	entry.refs++
	s.maxID = max(s.maxID, v.ID)
	versions := s.subjects[subject]
	if versions == nil {
		versions = make(map[int]*subjectVersion)
		s.subjects[subject] = versions
	}
	versions[version] = &subjectVersion{subject: subject, version: version, id: v.ID, deleted: v.Deleted}
	return nil
}

// removeVersion forgets a version, and its id when no other version carries it.
func (s *state) removeVersion(sv *subjectVersion) {
	versions := s.subjects[sv.subject]
	delete(versions, sv.version)
	if len(versions) == 0 {
		delete(s.subjects, sv.subject)
	}
	entry := s.ids[sv.id]
	if entry == nil {
		return
	}
	entry.refs--
	if entry.refs > 0 {
		return
	}
	delete(s.ids, sv.id)
	key := identity(entry.schemaType, entry.schema)
	if s.byText[key] == sv.id {
		delete(s.byText, key)
		// Another id may hold the same text (see errIDConflict's sibling case in applySchema).
		for id, e := range s.ids {
			if identity(e.schemaType, e.schema) == key {
				s.byText[key] = id
				break
			}
		}
	}
}

func (s *state) applyConfig(subject *string, v *configValue) error {
	var level avroformat.Compatibility
	if v != nil {
		l, err := avroformat.ParseCompatibility(v.CompatibilityLevel)
		if err != nil {
			return fmt.Errorf("%w: config: %w", errBadRecord, err)
		}
		level = l
	}
	switch {
	case subject == nil || *subject == "":
		s.global = level
	case v == nil:
		delete(s.levels, *subject)
	default:
		s.levels[*subject] = level
	}
	return nil
}

// versions returns subject's versions in ascending order, the soft-deleted ones only when
// withDeleted is true.
func (s *state) versions(subject string, withDeleted bool) []*subjectVersion {
	all := s.subjects[subject]
	out := make([]*subjectVersion, 0, len(all))
	for _, sv := range all {
		if withDeleted || !sv.deleted {
			out = append(out, sv)
		}
	}
	slices.SortFunc(out, func(a, b *subjectVersion) int { return a.version - b.version })
	return out
}

// subjectNames returns the subjects in ascending order: those with a live version, and also
// those with only soft-deleted versions when withDeleted is true.
func (s *state) subjectNames(withDeleted bool) []string {
	out := make([]string, 0, len(s.subjects))
	for name := range s.subjects {
		if len(s.versions(name, withDeleted)) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// maxVersion returns the highest version of subject, soft-deleted ones included, so that a new
// version never reuses the number of a soft-deleted one.
func (s *state) maxVersion(subject string) int {
	m := 0
	for v := range s.subjects[subject] {
		m = max(m, v)
	}
	return m
}

// level returns the compatibility level that applies to subject.
func (s *state) level(subject string, fallback avroformat.Compatibility) avroformat.Compatibility {
	if l, ok := s.levels[subject]; ok {
		return l
	}
	if s.global != "" {
		return s.global
	}
	return fallback
}

// canonicalize parses an Avro schema and returns it with its canonical text: the full JSON
// form written by hamba/avro (names fully qualified, attributes in a fixed order, no
// whitespace), which keeps defaults, docs, logical types and custom properties. It is the
// schema's identity, as Avro's Schema.toString() is for Confluent: two texts that differ only
// in spacing or attribute order are the same schema, two that differ in a default are not.
// Each parse gets its own name cache, so that a schema cannot lean on a named type that only
// another schema defines.
func canonicalize(text string) (avro.Schema, string, error) {
	parsed, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, "", fmt.Errorf("parsing Avro schema: %w", err)
	}
	m, ok := parsed.(interface{ MarshalJSON() ([]byte, error) })
	if !ok {
		return nil, "", fmt.Errorf("writing Avro schema: %T has no JSON form", parsed)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, "", fmt.Errorf("writing Avro schema: %w", err)
	}
	out, err := fixBytesDefaults(parsed, string(b))
	if err != nil {
		return nil, "", fmt.Errorf("writing Avro schema: %w", err)
	}
	return parsed, out, nil
}
