// Package configref resolves references to secrets in configuration values, in Kafka Connect's
// config-provider syntax, so that a configuration can be stored and shown without the secrets
// it needs:
//
//	${env:NAME}                  the environment variable NAME
//	${file:/path/to/file:key}    the key of a Java properties file (FileConfigProvider)
//	${dir:/path/to/dir:file}     the content of a file of a directory, as it is, a trailing
//	                             newline included (DirectoryConfigProvider; Kubernetes secret
//	                             volumes mount one file per key)
//
// A value may mix text and references ("postgres://u:${env:PW}@h"). "$${" is a literal "${".
// Text that only looks like a reference without being one ("${x}", with no provider) is left
// as it is; a reference to a provider other than env, file and dir is an error rather than a
// silently literal value, so that a misspelt provider is caught.
//
// An error names the reference, never a value: a reference is not secret, what it resolves
// to is.
package configref

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Providers are the providers a reference may name.
var Providers = []string{"env", "file", "dir"}

// Error is the failure of one reference: the reference as written and why it failed. Neither
// holds a resolved value.
type Error struct {
	// Ref is the reference as written, e.g. "${env:PGPASSWORD}".
	Ref string
	// Reason says why it could not be resolved.
	Reason string
}

func (e *Error) Error() string { return e.Ref + ": " + e.Reason }

// ErrMalformed is the error (under *Error) of text that starts a reference but is none.
var ErrMalformed = errors.New("malformed reference")

// ref is one reference found in a value.
type ref struct {
	start, end int // the byte range of the reference in the value, "${" to "}"
	provider   string
	path, key  string
}

func (r ref) text(value string) string { return value[r.start:r.end] }

// Has tells whether value holds at least one reference (well formed or not).
func Has(value string) bool {
	refs, err := scan(value)
	return err != nil || len(refs) > 0
}

// Only tells whether value is made of references alone, with no literal text: such a value is
// no secret and can be shown as it is.
func Only(value string) bool {
	refs, err := scan(value)
	if err != nil || len(refs) == 0 {
		return false
	}
	at := 0
	for _, r := range refs {
		if r.start != at {
			return false
		}
		at = r.end
	}
	return at == len(value)
}

// Resolve returns value with every reference replaced by what it names and every "$${"
// replaced by "${". A resolved value is not scanned again. The error is an *Error naming the
// first reference that failed.
func Resolve(value string) (string, error) {
	if !strings.Contains(value, "${") {
		return value, nil
	}
	refs, err := scan(value)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	at := 0
	for _, r := range refs {
		b.WriteString(unescape(value[at:r.start]))
		v, err := r.resolve()
		if err != nil {
			return "", &Error{Ref: r.text(value), Reason: err.Error()}
		}
		b.WriteString(v)
		at = r.end
	}
	b.WriteString(unescape(value[at:]))
	return b.String(), nil
}

// unescape turns "$${" into "${" in text between references.
func unescape(text string) string { return strings.ReplaceAll(text, "$${", "${") }

// scan finds value's references, in order. "$${" is an escape, not a reference; "${" not
// followed by a provider name and a colon is text.
func scan(value string) ([]ref, error) {
	var refs []ref
	for i := 0; i < len(value); {
		j := strings.Index(value[i:], "${")
		if j < 0 {
			break
		}
		j += i
		if j > 0 && value[j-1] == '$' {
			i = j + 2 // "$${": a literal "${"
			continue
		}
		provider, rest, ok := providerAt(value[j+2:])
		if !ok {
			i = j + 2
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, &Error{Ref: "${" + provider + ":...", Reason: "no closing } (" + ErrMalformed.Error() + ")"}
		}
		body := rest[:end]
		r := ref{start: j, end: j + 2 + len(provider) + 1 + end + 1, provider: provider}
		text := value[r.start:r.end]
		switch provider {
		case "env":
			r.key = body
			if body == "" {
				return nil, &Error{Ref: text, Reason: "no variable name; write ${env:NAME} (" + ErrMalformed.Error() + ")"}
			}
		case "file", "dir":
			// As Kafka Connect's syntax: the path ends at the first colon, the key is the rest.
			path, key, found := strings.Cut(body, ":")
			if !found || path == "" || key == "" {
				return nil, &Error{Ref: text, Reason: fmt.Sprintf("want ${%s:PATH:KEY} (%s)", provider, ErrMalformed)}
			}
			r.path, r.key = path, key
		default:
			return nil, &Error{Ref: text, Reason: fmt.Sprintf("unknown provider %q (known: %s; write $${ for a literal ${)",
				provider, strings.Join(Providers, ", "))}
		}
		refs = append(refs, r)
		i = r.end
	}
	return refs, nil
}

// providerAt reads a provider name (letters, digits, '.', '_', '-', starting with a letter)
// and the colon after it at the start of s.
func providerAt(s string) (provider, rest string, ok bool) {
	n := 0
	for n < len(s) {
		c := s[n]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || n > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			n++
			continue
		}
		break
	}
	if n == 0 || n >= len(s) || s[n] != ':' {
		return "", "", false
	}
	return s[:n], s[n+1:], true
}

func (r ref) resolve() (string, error) {
	switch r.provider {
	case "env":
		v, ok := os.LookupEnv(r.key)
		if !ok {
			return "", fmt.Errorf("the environment variable %s is not set", r.key)
		}
		return v, nil
	case "file":
		return fileKey(r.path, r.key)
	default: // "dir"
		return dirFile(r.path, r.key)
	}
}

// fileKey reads key from the properties file at path.
func fileKey(path, key string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the properties file: %w", pathError(err))
	}
	v, ok := parseProperties(raw)[key]
	if !ok {
		return "", fmt.Errorf("the properties file %s has no key %q", path, key)
	}
	return v, nil
}

// dirFile reads the file named name in the directory dir, whole: Kafka Connect's
// DirectoryConfigProvider keeps the content as it is, trailing newline included.
func dirFile(dir, name string) (string, error) {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("%q is not a file name: the key names a file directly in the directory", name)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("the directory: %w", pathError(err))
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	p := filepath.Join(dir, name)
	// As Connect, only a regular file is a key (a symbolic link to one too: Kubernetes
	// mounts each key as a link).
	if st, err := os.Stat(p); err == nil && !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading the file: %w", pathError(err))
	}
	return string(raw), nil
}

// pathError keeps an os error's path and cause, which are no secret.
func pathError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// parseProperties reads a Java properties file, as java.util.Properties.load does: "#" and "!"
// comments, "key=value", "key: value" or "key value", whitespace before the value dropped,
// backslash escapes (\t \n \r \f \uXXXX, any other character as itself) and lines continued
// by a final backslash. The last of a repeated key wins.
func parseProperties(raw []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var logical strings.Builder
	continued := false
	flush := func() {
		line := logical.String()
		logical.Reset()
		k, v := splitProperty(line)
		out[unescapeProperty(k)] = unescapeProperty(v)
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t\f")
		if !continued {
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
		}
		line = trimmed
		// A line ending in an odd number of backslashes continues on the next one.
		n := len(line) - len(strings.TrimRight(line, `\`))
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continued = true
			continue
		}
		logical.WriteString(line)
		continued = false
		flush()
	}
	if continued {
		flush()
	}
	return out
}

// splitProperty splits a logical line at the first unescaped '=', ':' or whitespace; the
// separator and the whitespace around it are dropped.
func splitProperty(line string) (key, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i >= len(line) {
		return line, ""
	}
	key = line[:i]
	rest := strings.TrimLeft(line[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f' || line[i] == rest[0]) {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

// unescapeProperty applies the backslash escapes of a properties file.
func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 <= len(s) {
				if n, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(n))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
