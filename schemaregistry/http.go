package schemaregistry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cdcd-dev/cdcd/format/avro"
)

// ContentType is the media type of every answer, Confluent's v1 JSON.
const ContentType = "application/vnd.schemaregistry.v1+json"

// maxBodyBytes bounds a request body: a schema larger than this is no table's.
const maxBodyBytes = 16 << 20

// codeBadRequest answers a body that is not the JSON an endpoint expects, as Confluent's
// JSON layer does.
const codeBadRequest = 400

// Handler returns the HTTP API, Confluent Schema Registry's, behind the guard (guard.go), to
// be served on any listener (see Listen).
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) })
	mux.HandleFunc("GET /subjects", r.getSubjects)
	mux.HandleFunc("GET /subjects/{subject}/versions", r.getVersions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", r.getVersion)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r.getVersionSchema)
	mux.HandleFunc("POST /subjects/{subject}/versions", r.postVersion)
	mux.HandleFunc("POST /subjects/{subject}", r.postLookup)
	mux.HandleFunc("DELETE /subjects/{subject}", r.deleteSubjectHandler)
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", r.deleteVersionHandler)
	mux.HandleFunc("GET /schemas/ids/{id}", r.getSchemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", r.getRawSchemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/versions", r.getIDVersions)
	mux.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, schemaTypes)
	})
	mux.HandleFunc("GET /config", r.getGlobalConfig)
	mux.HandleFunc("PUT /config", r.putConfig)
	mux.HandleFunc("GET /config/{subject}", r.getSubjectConfig)
	mux.HandleFunc("PUT /config/{subject}", r.putConfig)
	mux.HandleFunc("DELETE /config/{subject}", r.deleteSubjectConfig)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.postCompatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.postCompatibility)
	return r.guard(jsonMisses(mux))
}

// jsonMisses answers the requests no route takes (404, 405) with Confluent's JSON error body
// instead of net/http's plain text, so that clients parse every error the same way.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, pattern := mux.Handler(req); pattern != "" {
			mux.ServeHTTP(w, req)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, req)
		status := probe.status
		if status == 0 || status == http.StatusOK {
			status = http.StatusNotFound
		}
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, &apiError{code: status, message: fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))})
	})
}

// statusProbe records the status net/http's fallback handlers choose and drops their body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	// The status is sent; an encoding error can only be a broken connection.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	writeJSON(w, ae.status(), struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{ae.code, ae.message})
}

// queryFlag reads a boolean query parameter; anything but a true value is false.
func queryFlag(req *http.Request, name string) bool {
	b, err := strconv.ParseBool(req.URL.Query().Get(name))
	return err == nil && b
}

func deletedFlag(req *http.Request) withDeleted { return withDeleted(queryFlag(req, "deleted")) }

// writeCtx bounds a write by the request and the configured write timeout.
func (r *Registry) writeCtx(req *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(req.Context(), r.cfg.writeTimeout)
}

// schemaRequest is the body of the endpoints that take a schema.
type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
}

func readJSON(w http.ResponseWriter, req *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return &apiError{code: codeBadRequest, message: "Invalid request body: " + err.Error(), cause: err}
	}
	return nil
}

// readSchema reads a schemaRequest body.
func readSchema(w http.ResponseWriter, req *http.Request) (schemaRequest, error) {
	var body schemaRequest
	err := readJSON(w, req, &body)
	return body, err
}

func (r *Registry) getSubjects(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, r.subjects(deletedFlag(req)))
}

func (r *Registry) getVersions(w http.ResponseWriter, req *http.Request) {
	vs, err := r.versionNumbers(req.PathValue("subject"), deletedFlag(req))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (r *Registry) lookupVersion(req *http.Request) (versionInfo, error) {
	v, err := parseVersion(req.PathValue("version"))
	if err != nil {
		return versionInfo{}, err
	}
	return r.version(req.PathValue("subject"), v, deletedFlag(req))
}

func (r *Registry) getVersion(w http.ResponseWriter, req *http.Request) {
	info, err := r.lookupVersion(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// writeRawSchema answers the schema text itself, which is JSON.
func writeRawSchema(w http.ResponseWriter, schema string) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(schema))
}

func (r *Registry) getVersionSchema(w http.ResponseWriter, req *http.Request) {
	info, err := r.lookupVersion(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeRawSchema(w, info.Schema)
}

func (r *Registry) postVersion(w http.ResponseWriter, req *http.Request) {
	body, err := readSchema(w, req)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := parseCandidate(body.Schema, body.SchemaType, len(body.References))
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := r.writeCtx(req)
	defer cancel()
	id, err := r.register(ctx, req.PathValue("subject"), c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID int `json:"id"`
	}{id})
}

func (r *Registry) postLookup(w http.ResponseWriter, req *http.Request) {
	body, err := readSchema(w, req)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := parseCandidate(body.Schema, body.SchemaType, len(body.References))
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := r.lookup(req.PathValue("subject"), c, deletedFlag(req))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func permanenceOf(req *http.Request) permanence {
	if queryFlag(req, "permanent") {
		return permanent
	}
	return soft
}

func (r *Registry) deleteSubjectHandler(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := r.writeCtx(req)
	defer cancel()
	deleted, err := r.deleteSubject(ctx, req.PathValue("subject"), permanenceOf(req))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

func (r *Registry) deleteVersionHandler(w http.ResponseWriter, req *http.Request) {
	v, err := parseVersion(req.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := r.writeCtx(req)
	defer cancel()
	deleted, err := r.deleteVersion(ctx, req.PathValue("subject"), v, permanenceOf(req))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

// schemaForID returns the schema of the request's id, its type as answered, and the id.
func (r *Registry) schemaForID(req *http.Request) (string, string, int, error) {
	raw := req.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil {
		return "", "", 0, &apiError{code: codeSchemaNotFound, message: fmt.Sprintf("Schema %s not found", raw)}
	}
	schema, schemaType, err := r.schemaByID(id)
	return schema, schemaType, id, err
}

func (r *Registry) getSchemaByID(w http.ResponseWriter, req *http.Request) {
	schema, schemaType, _, err := r.schemaForID(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		SchemaType string `json:"schemaType,omitempty"`
		Schema     string `json:"schema"`
	}{schemaType, schema})
}

func (r *Registry) getRawSchemaByID(w http.ResponseWriter, req *http.Request) {
	schema, _, _, err := r.schemaForID(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeRawSchema(w, schema)
}

func (r *Registry) getIDVersions(w http.ResponseWriter, req *http.Request) {
	_, _, id, err := r.schemaForID(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, r.idVersions(id, deletedFlag(req)))
}

// subjectVersionRef is one entry of GET /schemas/ids/{id}/versions.
type subjectVersionRef struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (r *Registry) idVersions(id int, deleted withDeleted) []subjectVersionRef {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []subjectVersionRef{}
	for _, subject := range r.st.subjectNames(true) {
		for _, sv := range r.st.versions(subject, bool(deleted)) {
			if sv.id == id {
				out = append(out, subjectVersionRef{Subject: subject, Version: sv.version})
			}
		}
	}
	return out
}

// levelAnswer is the body of GET /config and GET /config/{subject}.
type levelAnswer struct {
	CompatibilityLevel avro.Compatibility `json:"compatibilityLevel"`
}

// levelUpdate is the body of PUT /config and PUT /config/{subject}, and their answer.
type levelUpdate struct {
	Compatibility string `json:"compatibility"`
}

func (r *Registry) getGlobalConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, levelAnswer{r.globalLevel()})
}

func (r *Registry) getSubjectConfig(w http.ResponseWriter, req *http.Request) {
	level, err := r.subjectLevel(req.PathValue("subject"), queryFlag(req, "defaultToGlobal"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, levelAnswer{level})
}

// putConfig sets the global level (PUT /config) or a subject's (PUT /config/{subject}).
func (r *Registry) putConfig(w http.ResponseWriter, req *http.Request) {
	var body levelUpdate
	if err := readJSON(w, req, &body); err != nil {
		writeError(w, err)
		return
	}
	level, err := avro.ParseCompatibility(body.Compatibility)
	if err != nil {
		writeError(w, invalidCompatibilityLevel())
		return
	}
	ctx, cancel := r.writeCtx(req)
	defer cancel()
	if err := r.setLevel(ctx, req.PathValue("subject"), level); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, levelUpdate{string(level)})
}

func (r *Registry) deleteSubjectConfig(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := r.writeCtx(req)
	defer cancel()
	level, err := r.deleteSubjectLevel(ctx, req.PathValue("subject"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, levelAnswer{level})
}

// compatibilityAnswer is the body of POST /compatibility/...
type compatibilityAnswer struct {
	IsCompatible bool `json:"is_compatible"`
}

// verboseCompatibilityAnswer is the body of POST /compatibility/...?verbose=true.
type verboseCompatibilityAnswer struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages"`
}

func (r *Registry) postCompatibility(w http.ResponseWriter, req *http.Request) {
	v := 0 // every version the subject's level names
	if raw := req.PathValue("version"); raw != "" {
		parsedVersion, err := parseVersion(raw)
		if err != nil {
			writeError(w, err)
			return
		}
		v = parsedVersion
	}
	body, err := readSchema(w, req)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := parseCandidate(body.Schema, body.SchemaType, len(body.References))
	if err != nil {
		writeError(w, err)
		return
	}
	incompatible, err := r.checkCompatibility(req.PathValue("subject"), v, c)
	if err != nil {
		writeError(w, err)
		return
	}
	if !queryFlag(req, "verbose") {
		writeJSON(w, http.StatusOK, compatibilityAnswer{IsCompatible: incompatible == nil})
		return
	}
	answer := verboseCompatibilityAnswer{IsCompatible: incompatible == nil, Messages: []string{}}
	if incompatible != nil {
		answer.Messages = append(answer.Messages, describeIncompatible(incompatible))
	}
	writeJSON(w, http.StatusOK, answer)
}
