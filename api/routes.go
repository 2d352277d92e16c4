package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// CreateConnectorRequest is the body of POST /connectors and PUT /connectors/{name}.
type CreateConnectorRequest struct {
	Name   string `json:"name"`
	Config Config `json:"config"`
}

// SnapshotRequest is the body of POST /connectors/{name}/snapshots: the tables to snapshot
// incrementally, as the connector names them ("schema.table" for PostgreSQL, "db.table" for MySQL).
type SnapshotRequest struct {
	Tables []string `json:"tables"`
}

// Message is the body of answers that only tell what was done (PATCH and DELETE
// /connectors/{name}/offsets, as KIP-875; POST /connectors/{name}/snapshots).
type Message struct {
	Message string `json:"message"`
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

// ServerInfo is GET /, as Kafka Connect's root resource.
type ServerInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// Limits of a snapshot request.
const (
	maxSnapshotTables = 1000
	maxTableNameLen   = 512
)

// Plugin is a connector type the daemon runs (WithPlugins): its name, and the other names
// accepted for it in /connector-plugins/{type}/... (Debezium's connector classes, their short
// names: Kafka Connect accepts a class's simple name as an alias).
type Plugin struct {
	Type    string
	Aliases []string
}

// WithPlugins sets the connector types listed by GET /connector-plugins and accepted by
// PUT /connector-plugins/{type}/config/validate: the daemon's table of connector kinds. None
// by default.
func WithPlugins(plugins ...Plugin) Option {
	return func(c *config) { c.plugins = slices.Clone(plugins) }
}

// pluginType resolves a plugin name of the path to cdcd's connector type.
func (s *Server) pluginType(name string) (string, bool) {
	for _, p := range s.cfg.plugins {
		if name == p.Type || slices.Contains(p.Aliases, name) {
			return p.Type, true
		}
	}
	return "", false
}

// route is one endpoint: a ServeMux pattern ("METHOD /path/{wildcard}") and its handler. The
// table is walked by the tests to check that the OpenAPI document covers every route.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

// routes is the server's route table.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/{$}", s.getRoot},
		{"GET", "/connectors", s.listConnectors},
		{"POST", "/connectors", s.createConnector},
		{"GET", "/connectors/{name}", s.withName(s.getConnector)},
		{"PUT", "/connectors/{name}", s.withName(s.putConnector)},
		{"DELETE", "/connectors/{name}", s.withName(s.deleteConnector)},
		{"GET", "/connectors/{name}/config", s.withName(s.getConfig)},
		{"PUT", "/connectors/{name}/config", s.withName(s.putConfig)},
		{"GET", "/connectors/{name}/status", s.withName(s.getStatus)},
		{"PUT", "/connectors/{name}/pause", s.withName(s.stateChange(Backend.Pause, http.StatusAccepted))},
		{"PUT", "/connectors/{name}/resume", s.withName(s.stateChange(Backend.Resume, http.StatusAccepted))},
		// Kafka Connect answers stop with 204 (the stop is complete), pause and resume with 202.
		{"PUT", "/connectors/{name}/stop", s.withName(s.stateChange(Backend.Stop, http.StatusNoContent))},
		{"POST", "/connectors/{name}/restart", s.withName(s.restart)},
		{"GET", "/connectors/{name}/offsets", s.withName(s.getOffsets)},
		{"PATCH", "/connectors/{name}/offsets", s.withName(s.alterOffsets)},
		{"DELETE", "/connectors/{name}/offsets", s.withName(s.resetOffsets)},
		{"POST", "/connectors/{name}/snapshots", s.withName(s.snapshot)},
		{"GET", "/cluster", s.getCluster},
		{"GET", "/connector-plugins", s.listPlugins},
		{"PUT", "/connector-plugins/{type}/config/validate", s.validateConfig},
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"GET", "/metrics", s.metrics.ServeHTTP},
		{"GET", "/openapi.json", serveOpenAPI},
	}
}

// namedHandler handles a request about the connector name.
type namedHandler func(w http.ResponseWriter, r *http.Request, name string)

// withName checks the {name} of the path before h runs.
func (s *Server) withName(h namedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := validName("connector", name); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, name)
	}
}

func (s *Server) getRoot(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, ServerInfo{Version: s.cfg.version, Commit: ""})
}

// listConnectors is GET /connectors: the names, or with ?expand=status and/or ?expand=info,
// Kafka Connect's map of name to {"status": ..., "info": ...}.
func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	names, err := s.backend.Connectors(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, names)
		return
	}
	var wantStatus, wantInfo bool
	for _, e := range expand {
		switch e {
		case "status":
			wantStatus = true
		case "info":
			wantInfo = true
		default:
			s.writeError(w, r, badRequest("expand must be status or info"))
			return
		}
	}
	out := make(map[string]map[string]any, len(names))
	for _, n := range names {
		m := map[string]any{}
		if wantStatus {
			st, err := s.backend.Status(r.Context(), n)
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			} else if err != nil {
				s.writeError(w, r, err)
				return
			}
			m["status"] = s.fillStatus(st)
		}
		if wantInfo {
			info, err := s.backend.Connector(r.Context(), n)
			if errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				s.writeError(w, r, err)
				return
			}
			m["info"] = fillInfo(info)
		}
		out[n] = m
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeCreate(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		s.writeError(w, r, badRequest(`"name" is required`))
		return
	}
	if err := validName("connector", req.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.put(w, r, req.Name, req.Config, putCreateOnly)
}

// putConnector is PUT /connectors/{name}, cdcd's own (Kafka Connect has no PUT there): the body
// of POST /connectors, applied idempotently (create or update), for `cdcd connectors apply`.
func (s *Server) putConnector(w http.ResponseWriter, r *http.Request, name string) {
	req, err := s.decodeCreate(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name != "" && req.Name != name {
		s.writeError(w, r, badRequest(`the body's "name" differs from the path's %q`, name))
		return
	}
	s.put(w, r, name, req.Config, putUpsert)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, name string) {
	cfg, err := s.decodeConfig(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.put(w, r, name, cfg, putUpsert)
}

// decodeCreate reads the body of POST /connectors and PUT /connectors/{name}.
func (s *Server) decodeCreate(w http.ResponseWriter, r *http.Request) (CreateConnectorRequest, error) {
	var wire createWire
	if err := decodeBody(r, w, s.cfg.maxBodyBytes, &wire); err != nil {
		return CreateConnectorRequest{}, err
	}
	cfg, err := wire.Config.config("config")
	if err != nil {
		return CreateConnectorRequest{}, err
	}
	return CreateConnectorRequest{Name: wire.Name, Config: cfg}, nil
}

// decodeConfig reads a body that is a configuration.
func (s *Server) decodeConfig(w http.ResponseWriter, r *http.Request) (Config, error) {
	var rc rawConfig
	if err := decodeBody(r, w, s.cfg.maxBodyBytes, &rc); err != nil {
		return nil, err
	}
	return rc.config("")
}

// putMode tells put whether an existing connector is an error.
type putMode int

const (
	putUpsert putMode = iota
	putCreateOnly
)

// put creates or updates a connector and answers 201 (created, with Location) or 200.
func (s *Server) put(w http.ResponseWriter, r *http.Request, name string, cfg Config, mode putMode) {
	if err := checkConfig(cfg); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := putName(cfg, name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if mode == putCreateOnly {
		// Kafka Connect answers 409 to POST /connectors for an existing name. The Backend has no
		// create-only call, so a create racing with another may still replace it; see the report.
		switch _, err := s.backend.Connector(r.Context(), name); {
		case err == nil:
			s.writeError(w, r, fmt.Errorf("%w: connector %s already exists", ErrConflict, name))
			return
		case !errors.Is(err, ErrNotFound):
			s.writeError(w, r, err)
			return
		}
	}
	info, created, err := s.backend.PutConnector(r.Context(), name, cfg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/connectors/"+name)
	}
	writeJSON(w, status, fillInfo(info))
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request, name string) {
	info, err := s.backend.Connector(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fillInfo(info))
}

// deleteConnector is DELETE /connectors/{name}[?purge=true]. Unlike Kafka Connect (204), it
// answers 200 with what the connector left on its source, so that a slot holding WAL is never
// left behind unsaid.
func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request, name string) {
	purge, err := boolParam(r.URL.Query().Get("purge"), "purge")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mode := DeleteKeep
	if purge {
		mode = DeletePurge
	}
	d, err := s.backend.DeleteConnector(r.Context(), name, mode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if d.Name == "" {
		d.Name = name
	}
	if d.Dropped == nil {
		d.Dropped = []string{}
	}
	if d.Kept == nil {
		d.Kept = []string{}
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, name string) {
	info, err := s.backend.Connector(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fillInfo(info).Config)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, name string) {
	st, err := s.backend.Status(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.fillStatus(st))
}

// stateChange answers pause, resume and stop: the Backend call, then status with no body.
func (s *Server) stateChange(call func(Backend, context.Context, string) error, status int) namedHandler {
	return func(w http.ResponseWriter, r *http.Request, name string) {
		if err := call(s.backend, r.Context(), name); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(status)
	}
}

// restart is POST /connectors/{name}/restart. Without query parameters it restarts and answers
// 204, as Kafka Connect. With includeTasks=true or onlyFailed=true (KIP-745) it answers 202 with
// the status; cdcd's single task restarts with its connector, so includeTasks changes nothing
// else, and onlyFailed=true restarts only a FAILED connector.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	includeTasks, err := boolParam(q.Get("includeTasks"), "includeTasks")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	onlyFailed, err := boolParam(q.Get("onlyFailed"), "onlyFailed")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !includeTasks && !onlyFailed {
		if err := s.backend.Restart(r.Context(), name); err != nil {
			if !s.forward(w, r, err) {
				s.writeError(w, r, err)
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	st, err := s.backend.Status(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !onlyFailed || failed(st) {
		if err := s.backend.Restart(r.Context(), name); err != nil {
			if !s.forward(w, r, err) {
				s.writeError(w, r, err)
			}
			return
		}
		if st, err = s.backend.Status(r.Context(), name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, s.fillStatus(st))
}

func failed(st ConnectorStatus) bool {
	if st.Connector.State == StateFailed {
		return true
	}
	for _, t := range st.Tasks {
		if t.State == StateFailed {
			return true
		}
	}
	return false
}

func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, badRequest("query parameter %s must be true or false", name)
}

func (s *Server) getOffsets(w http.ResponseWriter, r *http.Request, name string) {
	offs, err := s.backend.Offsets(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if offs.Offsets == nil {
		offs.Offsets = []Offset{}
	}
	writeJSON(w, http.StatusOK, offs)
}

func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request, name string) {
	var offs Offsets
	if err := decodeBody(r, w, s.cfg.maxBodyBytes, &offs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkOffsets(offs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.backend.AlterOffsets(r.Context(), name, offs); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Message{Message: "The offsets for this connector have been altered successfully"})
}

// checkOffsets checks the shape KIP-875 gives PATCH bodies: a non-empty "offsets" list whose
// elements have a non-empty "partition" object and an "offset" (an object, or null to remove
// that partition's offset).
func checkOffsets(offs Offsets) error {
	if len(offs.Offsets) == 0 {
		return badRequest(`"offsets" must be a non-empty list of {"partition": {...}, "offset": {...}}`)
	}
	for i, o := range offs.Offsets {
		if len(o.Partition) == 0 {
			return badRequest(`offsets[%d]: "partition" must be a non-empty object`, i)
		}
		if len(o.Offset) == 0 {
			return badRequest(`offsets[%d]: "offset" is required (an object, or null to remove it)`, i)
		}
		if c := o.Offset[0]; c != '{' && string(o.Offset) != "null" {
			return badRequest(`offsets[%d]: "offset" must be an object or null`, i)
		}
	}
	return nil
}

func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request, name string) {
	if err := s.backend.ResetOffsets(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Message{Message: "The offsets for this connector have been reset successfully"})
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request, name string) {
	var req SnapshotRequest
	if err := decodeBody(r, w, s.cfg.maxBodyBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkTables(req.Tables); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.backend.Snapshot(r.Context(), name, req.Tables); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, Message{Message: fmt.Sprintf("incremental snapshot of %d table(s) requested", len(req.Tables))})
}

// checkTables refuses an empty list, empty, over-long or control-character names, and
// duplicates. Names are not quoted back.
func checkTables(tables []string) error {
	if len(tables) == 0 {
		return badRequest(`"tables" must be a non-empty list of table names`)
	}
	if len(tables) > maxSnapshotTables {
		return badRequest(`"tables" holds %d names; at most %d are allowed`, len(tables), maxSnapshotTables)
	}
	seen := make(map[string]struct{}, len(tables))
	for i, t := range tables {
		if t == "" || len(t) > maxTableNameLen || !utf8.ValidString(t) ||
			strings.IndexFunc(t, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			return badRequest("tables[%d] is empty, longer than %d bytes, or holds control characters", i, maxTableNameLen)
		}
		if _, dup := seen[t]; dup {
			return badRequest("tables[%d] repeats an earlier table", i)
		}
		seen[t] = struct{}{}
	}
	return nil
}

func (s *Server) listPlugins(w http.ResponseWriter, _ *http.Request) {
	out := make([]PluginInfo, 0, len(s.cfg.plugins))
	for _, p := range s.cfg.plugins {
		out = append(out, PluginInfo{Class: p.Type, Type: "source", Version: s.cfg.version})
	}
	// Sorted, as Kafka Connect lists its plugins: the order does not depend on the daemon's.
	slices.SortFunc(out, func(a, b PluginInfo) int { return strings.Compare(a.Class, b.Class) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) validateConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("type")
	if err := validName("plugin", name); err != nil {
		s.writeError(w, r, err)
		return
	}
	typ, ok := s.pluginType(name)
	if !ok {
		s.writeError(w, r, &requestError{status: http.StatusNotFound,
			msg: fmt.Sprintf("no connector plugin %q: see GET /connector-plugins", name)})
		return
	}
	cfg, err := s.decodeConfig(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkConfig(cfg); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.backend.Validate(r.Context(), typ, cfg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v.Errors == nil {
		v.Errors = []FieldError{}
	}
	v.ErrorCount = len(v.Errors)
	if v.Name == "" {
		v.Name = typ
	}
	writeJSON(w, http.StatusOK, v)
}

// Health is the body of GET /healthz and a successful GET /readyz.
type Health struct {
	Status string `json:"status"`
}

// readyz answers 200 once the Backend serves its connectors, 503 before. The Backend's reason
// is shown only when it wraps ErrUnavailable (a message meant for users); anything else is
// logged and answered generically.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	err := s.backend.Ready(r.Context())
	if err == nil {
		writeJSON(w, http.StatusOK, Health{Status: "ready"})
		return
	}
	if errors.Is(err, ErrUnavailable) {
		writeErrorStatus(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	s.log.Warn().Err(err).Str("request_id", requestID(r.Context())).Msg("not ready")
	writeErrorStatus(w, http.StatusServiceUnavailable, "not ready; see the daemon's log")
}

// fillInfo gives JSON lists and objects where the Backend left nil, so that clients see [] and
// {} rather than null.
func fillInfo(info ConnectorInfo) ConnectorInfo {
	if info.Config == nil {
		info.Config = Config{}
	}
	if info.Tasks == nil {
		info.Tasks = []TaskID{}
	}
	if info.Type == "" {
		info.Type = "source"
	}
	return info
}

// fillStatus fills what the Backend left empty: the worker id and the type.
func (s *Server) fillStatus(st ConnectorStatus) ConnectorStatus {
	wid := s.cfg.workerID
	if wid == "" {
		wid = s.Addr()
	}
	if st.Connector.WorkerID == "" {
		st.Connector.WorkerID = wid
	}
	tasks := make([]TaskStatus, len(st.Tasks))
	for i, t := range st.Tasks {
		if t.WorkerID == "" {
			t.WorkerID = wid
		}
		tasks[i] = t
	}
	st.Tasks = tasks
	if st.Type == "" {
		st.Type = "source"
	}
	return st
}
