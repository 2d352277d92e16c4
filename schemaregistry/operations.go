package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	avroformat "github.com/cdcd-dev/cdcd/format/avro"
)

// The operations behind the HTTP API. Reads take the state's read lock; writes hold writeMu
// from the decision to the read-back, and answer only once the topic holds the change.

// latest stands for the version "latest" (Confluent also accepts -1).
const latest = -1

// versionInfo is one version of a subject, as GET /subjects/{subject}/versions/{version}
// answers it.
type versionInfo struct {
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version"`
	// SchemaType is omitted for Avro, as Confluent answers.
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
}

// withDeleted says whether soft-deleted versions take part in a read.
type withDeleted bool

// parseVersion reads a version of a URL: an integer in [1, 2^31-1], "latest", or -1.
func parseVersion(s string) (int, error) {
	if s == "latest" {
		return latest, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || (v != latest && (v < 1 || v > math.MaxInt32)) {
		return 0, invalidVersion(s)
	}
	return v, nil
}

// parseCandidate checks a schema sent by a client and returns it parsed and canonical.
func parseCandidate(text, schemaType string, references int) (candidate, error) {
	typ, served := normalType(schemaType)
	if !served {
		return candidate{}, invalidSchema("Invalid schema type %q: the embedded registry serves AVRO and JSON schemas only", schemaType)
	}
	if references > 0 {
		return candidate{}, invalidSchema("Invalid schema: schema references are not supported by the embedded registry")
	}
	if text == "" {
		return candidate{}, invalidSchema("Invalid schema: empty schema")
	}
	parsed, canonical, err := canonicalizeTyped(typ, text)
	if err != nil {
		return candidate{}, &apiError{code: codeInvalidSchema, message: "Invalid schema: " + err.Error(), cause: err}
	}
	return candidate{schemaType: typ, parsed: parsed, canonical: canonical}, nil
}

// same tells whether e is c's schema.
func (e *idEntry) same(c candidate) bool {
	return e.schemaType == c.schemaType && e.schema == c.canonical
}

// asCandidate is e as a schema to check against.
func (e *idEntry) asCandidate() candidate {
	return candidate{schemaType: e.schemaType, parsed: e.parsed, canonical: e.schema}
}

func (r *Registry) subjects(deleted withDeleted) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.subjectNames(bool(deleted))
}

func (r *Registry) versionNumbers(subject string, deleted withDeleted) ([]int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versions(subject, bool(deleted))
	if len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	out := make([]int, len(vs))
	for i, sv := range vs {
		out[i] = sv.version
	}
	return out, nil
}

// findVersion returns the version v of subject (or its latest); r.mu is held.
func (r *Registry) findVersionLocked(subject string, v int, deleted withDeleted) (*subjectVersion, error) {
	vs := r.st.versions(subject, bool(deleted))
	if len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	if v == latest {
		return vs[len(vs)-1], nil
	}
	for _, sv := range vs {
		if sv.version == v {
			return sv, nil
		}
	}
	return nil, versionNotFound(v)
}

func (r *Registry) infoLocked(sv *subjectVersion) versionInfo {
	e := r.st.ids[sv.id]
	return versionInfo{Subject: sv.subject, ID: sv.id, Version: sv.version, SchemaType: answeredType(e.schemaType), Schema: e.schema}
}

func (r *Registry) version(subject string, v int, deleted withDeleted) (versionInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sv, err := r.findVersionLocked(subject, v, deleted)
	if err != nil {
		return versionInfo{}, err
	}
	return r.infoLocked(sv), nil
}

// schemaByID returns the schema of id and its type as answered ("" for Avro).
func (r *Registry) schemaByID(id int) (schema, schemaType string, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.st.ids[id]
	if !ok {
		return "", "", schemaIDNotFound(id)
	}
	return e.schema, answeredType(e.schemaType), nil
}

// register registers a schema under subject and returns its id: the id it already has under
// subject when the schema is a live version of it, else a new version after the compatibility
// check, with the schema's id elsewhere in the registry or a new one.
func (r *Registry) register(ctx context.Context, subject string, c candidate) (int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()

	r.mu.RLock()
	live := r.st.versions(subject, false)
	for _, sv := range live {
		if r.st.ids[sv.id].same(c) {
			r.mu.RUnlock()
			return sv.id, nil
		}
	}
	level := r.st.level(subject, r.cfg.compatibility)
	existing := make([]candidate, len(live))
	for i, sv := range live {
		existing[i] = r.st.ids[sv.id].asCandidate()
	}
	id, known := r.st.byText[identity(c.schemaType, c.canonical)]
	if !known {
		id = r.st.maxID + 1
	}
	version := r.st.maxVersion(subject) + 1
	r.mu.RUnlock()

	if err := checkCompatibleTyped(level, c, existing); err != nil {
		return 0, &apiError{code: codeIncompatible, cause: err, message: fmt.Sprintf(
			"Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]",
			subject, describeIncompatible(err))}
	}
	if id > math.MaxInt32 || version > math.MaxInt32 {
		return 0, storeError(errors.New("schema ids or versions exhausted"))
	}
	err := r.write(ctx, record{
		key:    schemaKey(subject, version),
		schema: &schemaValue{Subject: subject, Version: version, ID: id, Schema: c.canonical, SchemaType: answeredType(c.schemaType)},
	})
	if err != nil {
		return 0, writeFailure(err)
	}
	r.mu.RLock()
	sv := r.st.subjects[subject][version]
	r.mu.RUnlock()
	if sv == nil || sv.id != id || sv.deleted {
		return 0, storeError(fmt.Errorf("%w: subject %q version %d", ErrConcurrentWriter, subject, version))
	}
	return id, nil
}

// describeIncompatible says why a schema is incompatible in a registry's terms: the field and
// the rule (IncompatibleError's own text speaks of tables, which a registry client never named).
func describeIncompatible(err error) string {
	var ie *avroformat.IncompatibleError
	if !errors.As(err, &ie) {
		return err.Error()
	}
	if ie.Column != "" {
		return fmt.Sprintf("field %q: %s, which %s forbids", ie.Column, ie.Reason, ie.Level)
	}
	return fmt.Sprintf("%s, which %s forbids", ie.Reason, ie.Level)
}

// writeFailure turns a failed write into Confluent's timeout or store error.
func writeFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{code: codeOperationTimeout, message: "Operation timed out: " + err.Error(), cause: err}
	}
	return storeError(err)
}

// lookup returns the version of subject whose schema is c's.
func (r *Registry) lookup(subject string, c candidate, deleted withDeleted) (versionInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versions(subject, bool(deleted))
	if len(vs) == 0 {
		return versionInfo{}, subjectNotFound(subject)
	}
	for _, sv := range vs {
		if r.st.ids[sv.id].same(c) {
			return r.infoLocked(sv), nil
		}
	}
	return versionInfo{}, schemaNotFound()
}

// Permanence of a delete.
type permanence bool

const (
	soft      permanence = false
	permanent permanence = true
)

// deleteSubject soft-deletes every live version of subject, or, permanently, removes every
// version of a subject already soft-deleted (and its compatibility setting), as Confluent does.
// It returns the versions deleted.
func (r *Registry) deleteSubject(ctx context.Context, subject string, p permanence) ([]int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()

	recs, deleted, err := r.planSubjectDelete(subject, p)
	if err != nil {
		return nil, err
	}
	if err := r.write(ctx, recs...); err != nil {
		return nil, writeFailure(err)
	}
	return deleted, nil
}

func (r *Registry) planSubjectDelete(subject string, p permanence) ([]record, []int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	all := r.st.versions(subject, true)
	live := r.st.versions(subject, false)
	if len(all) == 0 {
		return nil, nil, subjectNotFound(subject)
	}
	var recs []record
	var deleted []int
	if p == soft {
		if len(live) == 0 {
			return nil, nil, &apiError{code: codeSubjectSoftDeleted, message: fmt.Sprintf(
				"Subject '%s' was soft deleted. Set permanent=true to delete permanently", subject)}
		}
		for _, sv := range live {
			recs = append(recs, r.softDeleteRecordLocked(sv))
			deleted = append(deleted, sv.version)
		}
		return recs, deleted, nil
	}
	if len(live) > 0 {
		return nil, nil, &apiError{code: codeSubjectNotSoftDeleted, message: fmt.Sprintf(
			"Subject '%s' was not deleted first before being permanently deleted", subject)}
	}
	// The watermark goes first: once the tombstones are compacted, it alone remembers ids.
	recs = append(recs, record{key: watermarkKey(), watermark: &watermarkValue{MaxID: r.st.maxID}})
	for _, sv := range all {
		recs = append(recs, record{key: schemaKey(subject, sv.version)})
		deleted = append(deleted, sv.version)
	}
	if _, ok := r.st.levels[subject]; ok {
		recs = append(recs, record{key: configKey(subject)})
	}
	return recs, deleted, nil
}

// deleteVersion soft-deletes one live version, or permanently removes one soft-deleted version.
func (r *Registry) deleteVersion(ctx context.Context, subject string, v int, p permanence) (int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()

	recs, version, err := r.planVersionDelete(subject, v, p)
	if err != nil {
		return 0, err
	}
	if err := r.write(ctx, recs...); err != nil {
		return 0, writeFailure(err)
	}
	return version, nil
}

func (r *Registry) planVersionDelete(subject string, v int, p permanence) ([]record, int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	// "latest" is the latest live version for a soft delete, as Confluent reads it; a numbered
	// version is found even when soft-deleted, to say so.
	sv, err := r.findVersionLocked(subject, v, withDeleted(v != latest || p == permanent))
	if err != nil {
		return nil, 0, err
	}
	if p == soft {
		if sv.deleted {
			return nil, 0, &apiError{code: codeVersionSoftDeleted, message: fmt.Sprintf(
				"Subject '%s' Version %d was soft deleted. Set permanent=true to delete permanently", subject, sv.version)}
		}
		return []record{r.softDeleteRecordLocked(sv)}, sv.version, nil
	}
	if !sv.deleted {
		return nil, 0, &apiError{code: codeVersionNotSoftDeleted, message: fmt.Sprintf(
			"Subject '%s' Version %d was not deleted first before being permanently deleted", subject, sv.version)}
	}
	return []record{
		{key: watermarkKey(), watermark: &watermarkValue{MaxID: r.st.maxID}},
		{key: schemaKey(subject, sv.version)},
	}, sv.version, nil
}

func (r *Registry) softDeleteRecordLocked(sv *subjectVersion) record {
	return record{
		key: schemaKey(sv.subject, sv.version),
		schema: &schemaValue{Subject: sv.subject, Version: sv.version, ID: sv.id,
			Schema: r.st.ids[sv.id].schema, SchemaType: answeredType(r.st.ids[sv.id].schemaType), Deleted: true},
	}
}

// globalLevel returns the configured global level, or the default.
func (r *Registry) globalLevel() avroformat.Compatibility {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.level("", r.cfg.compatibility)
}

// subjectLevel returns subject's own level; without one, the global level if toGlobal, else
// error 40408.
func (r *Registry) subjectLevel(subject string, toGlobal bool) (avroformat.Compatibility, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if l, ok := r.st.levels[subject]; ok {
		return l, nil
	}
	if toGlobal {
		return r.st.level("", r.cfg.compatibility), nil
	}
	return "", &apiError{code: codeSubjectConfigNotFound, message: fmt.Sprintf(
		"Subject '%s' does not have subject-level compatibility configured", subject)}
}

// setLevel sets subject's level, or the global one when subject is empty.
func (r *Registry) setLevel(ctx context.Context, subject string, level avroformat.Compatibility) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	err := r.write(ctx, record{key: configKey(subject), config: &configValue{CompatibilityLevel: string(level)}})
	if err != nil {
		return writeFailure(err)
	}
	return nil
}

// deleteSubjectLevel removes subject's own level and returns it.
func (r *Registry) deleteSubjectLevel(ctx context.Context, subject string) (avroformat.Compatibility, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.RLock()
	l, ok := r.st.levels[subject]
	_, exists := r.st.subjects[subject]
	r.mu.RUnlock()
	if !ok {
		if !exists {
			return "", subjectNotFound(subject)
		}
		return "", &apiError{code: codeSubjectConfigNotFound, message: fmt.Sprintf(
			"Subject '%s' does not have subject-level compatibility configured", subject)}
	}
	if err := r.write(ctx, record{key: configKey(subject)}); err != nil {
		return "", writeFailure(err)
	}
	return l, nil
}

// checkCompatibility tests c against version v of subject, or, when v is 0, against the
// versions the subject's level names. It returns the reason it is incompatible, or nil.
func (r *Registry) checkCompatibility(subject string, v int, c candidate) (*avroformat.IncompatibleError, error) {
	r.mu.RLock()
	level := r.st.level(subject, r.cfg.compatibility)
	var existing []candidate
	if v != 0 {
		sv, err := r.findVersionLocked(subject, v, false)
		if err != nil {
			r.mu.RUnlock()
			return nil, err
		}
		existing = []candidate{r.st.ids[sv.id].asCandidate()}
	} else {
		for _, sv := range r.st.versions(subject, false) {
			existing = append(existing, r.st.ids[sv.id].asCandidate())
		}
	}
	r.mu.RUnlock()
	err := checkCompatibleTyped(level, c, existing)
	if err == nil {
		return nil, nil
	}
	var ie *avroformat.IncompatibleError
	if errors.As(err, &ie) {
		return ie, nil
	}
	return nil, fmt.Errorf("checking compatibility: %w", err)
}
