package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cdcd-dev/cdcd/internal/httpguard"
)

// MaxNameLen is the longest connector name accepted.
const MaxNameLen = 128

// validName checks a connector name (or plugin type) taken from the path: letters, digits,
// '_', '.', '-', 1 to MaxNameLen bytes, and not "." or "..". The rule is stricter than Kafka
// Connect's on purpose: names become parts of Kafka topic, transactional id and replication
// slot names, and a strict rule leaves no room for path tricks (%2F, NUL, "..").
func validName(kind, name string) error {
	if name == "" {
		return badRequest("%s name is empty", kind)
	}
	if len(name) > MaxNameLen {
		return badRequest("%s name is %d bytes long; at most %d are allowed", kind, len(name), MaxNameLen)
	}
	if name == "." || name == ".." {
		return badRequest("%s name %q is not allowed", kind, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return badRequest("%s name holds the character %q at byte %d: only letters, digits, '_', '.' and '-' are allowed",
				kind, rune(c), i)
		}
	}
	return nil
}

// checkJSONContentType refuses a body that does not say it is JSON. A missing Content-Type is
// refused too: a browser may send a body without one, or with text/plain, cross-origin and
// without a CORS preflight, and insisting on application/json closes that door on a daemon that
// listens on loopback without a token.
func checkJSONContentType(r *http.Request) error {
	if err := httpguard.CheckContentType(r, "application/json"); err != nil {
		return &requestError{status: http.StatusUnsupportedMediaType, msg: err.Error()}
	}
	return nil
}

// decodeBody reads the JSON body of r into v, strictly: JSON Content-Type, at most max bytes
// (413 beyond), exactly one JSON value, no field v does not have, every value of the right type.
// Error messages name the field and the position, never a value: a body may hold passwords.
func decodeBody(r *http.Request, w http.ResponseWriter, max int64, v any) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, max)
	}
	// Exactly one value: "{} {}" or "{}x" is a client bug that would otherwise pass half-read.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return badRequest("the body holds data after its JSON value, at byte %d", dec.InputOffset()-int64(len(extra)))
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, max)
		}
		return badRequest("the body holds data after its JSON value")
	}
}

// jsonError turns an encoding/json error into a request error that says what and where.
func jsonError(err error, max int64) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("the body is larger than %d bytes", max)}
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty: a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends inside a value")
	case errors.As(err, &se):
		return badRequest("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return badRequest("the body is a JSON %s; a JSON %s is expected", ute.Value, jsonKind(ute.Type.String()))
		}
		return badRequest("field %q is a JSON %s; a JSON %s is expected", field, ute.Value, jsonKind(ute.Type.String()))
	}
	// DisallowUnknownFields' error has no type of its own; its text is `json: unknown field "x"`,
	// produced by encoding/json from the field name alone (no value).
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if !utf8.ValidString(msg) || len(msg) > 200 {
			return badRequest("unknown field")
		}
		return badRequest("unknown field %s", msg)
	}
	return badRequest("malformed JSON body")
}

// jsonKind names the JSON kind that decodes into a Go type, for error messages.
func jsonKind(goType string) string {
	switch {
	case goType == "string" || goType == "api.State":
		return "string"
	case strings.HasPrefix(goType, "map[") || goType == "api.Config" || strings.HasPrefix(goType, "api.") ||
		strings.HasPrefix(goType, "struct"):
		return "object"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean"
	}
	return goType
}

// checkConfig refuses configurations the Backend could not make sense of: absent, or with an
// empty or control-character key. Values are not looked at here (the Backend validates them)
// and never quoted: they may be secrets.
func checkConfig(cfg Config) error {
	if cfg == nil {
		return badRequest("the configuration is missing: a JSON object of string values is required")
	}
	for k := range cfg {
		if k == "" {
			return badRequest("the configuration has an empty key")
		}
		if strings.IndexFunc(k, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 || !utf8.ValidString(k) {
			return badRequest("the configuration has a key with control characters or invalid UTF-8")
		}
	}
	return nil
}

// putName checks the "name" key of cfg against the connector's name, and sets it when absent,
// as Kafka Connect does.
func putName(cfg Config, name string) error {
	if n, ok := cfg["name"]; ok && n != name {
		// n is not quoted back: it is the client's, of any length and content.
		return badRequest("the configuration's \"name\" differs from the connector's name %q", name)
	}
	cfg["name"] = name
	return nil
}

// rawConfig is how a configuration is decoded: values kept raw so that a value of the wrong
// type is reported with its key ("config.port"), which encoding/json does not do for maps.
type rawConfig map[string]json.RawMessage

// config converts rc, checking every value is a JSON string; field prefixes keys in messages
// ("config" gives "config.port"; "" gives "port"). A nil rc (absent or null) gives a nil Config.
func (rc rawConfig) config(field string) (Config, error) {
	if rc == nil {
		return nil, nil
	}
	cfg := make(Config, len(rc))
	for k, raw := range rc {
		var v string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
			key := k
			if field != "" {
				key = field + "." + k
			}
			if len(key) > 200 || !utf8.ValidString(key) {
				return nil, badRequest("a configuration value is a JSON %s; a JSON string is expected", rawKind(raw))
			}
			return nil, badRequest("field %q is a JSON %s; a JSON string is expected", key, rawKind(raw))
		}
		cfg[k] = v
	}
	return cfg, nil
}

// rawKind names the JSON kind of a raw value.
func rawKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '"':
		return "string"
	}
	return "number"
}

// createWire is CreateConnectorRequest as decoded.
type createWire struct {
	Name   string    `json:"name"`
	Config rawConfig `json:"config"`
}
