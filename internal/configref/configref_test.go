package configref

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveEnv(t *testing.T) {
	t.Setenv("CONFIGREF_PW", "s3cr=t")
	got, err := Resolve("${env:CONFIGREF_PW}")
	if err != nil || got != "s3cr=t" {
		t.Fatalf("Resolve = %q, %v; want the variable's value", got, err)
	}
	t.Setenv("CONFIGREF_EMPTY", "")
	if got, err := Resolve("${env:CONFIGREF_EMPTY}"); err != nil || got != "" {
		t.Fatalf("an empty variable: %q, %v; want it empty, no error", got, err)
	}
}

func TestResolveEnvMissingNamesTheReferenceOnly(t *testing.T) {
	_, err := Resolve("x${env:CONFIGREF_NOT_SET_ANYWHERE}y")
	var re *Error
	if !errors.As(err, &re) || re.Ref != "${env:CONFIGREF_NOT_SET_ANYWHERE}" {
		t.Fatalf("err = %v; want an *Error naming the reference", err)
	}
	if !strings.Contains(err.Error(), "CONFIGREF_NOT_SET_ANYWHERE is not set") {
		t.Errorf("err = %v; want it to say the variable is not set", err)
	}
}

func TestResolveFileProperties(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.properties")
	props := "# a comment\n! another\n\n" +
		"pg.password = hunter2  \n" +
		"colon:value\n" +
		"space   spaced value\n" +
		"escaped\\ key=a\\tb\\u0041\\\\\n" +
		"long = one \\\n   two\n" +
		"empty=\n" +
		"dup=first\ndup=second\n" +
		"crlf=win\r\n"
	if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"pg.password": "hunter2  ", // Java keeps trailing whitespace
		"colon":       "value",
		"space":       "spaced value",
		"escaped key": "a\tbA\\",
		"long":        "one two",
		"empty":       "",
		"dup":         "second",
		"crlf":        "win",
	} {
		got, err := Resolve("${file:" + path + ":" + key + "}")
		if err != nil || got != want {
			t.Errorf("key %q: %q, %v; want %q", key, got, err, want)
		}
	}
	// A mix of text and references, the escape left as a literal ${.
	t.Setenv("CONFIGREF_USER", "cdc")
	got, err := Resolve("user=${env:CONFIGREF_USER} password=${file:" + path + ":colon} literal=$${env:X} plain=${notref}")
	if err != nil {
		t.Fatal(err)
	}
	if want := "user=cdc password=value literal=${env:X} plain=${notref}"; got != want {
		t.Errorf("mixed: %q, want %q", got, want)
	}
}

func TestResolveFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.properties")
	if err := os.WriteFile(path, []byte("a=the-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ref, want string }{
		{"${file:" + path + ":b}", `has no key "b"`},
		{"${file:" + filepath.Join(dir, "none") + ":a}", "no such file"},
	} {
		_, err := Resolve(tc.ref)
		var re *Error
		if !errors.As(err, &re) || re.Ref != tc.ref || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want an *Error naming it, saying %q", tc.ref, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "the-value") {
			t.Errorf("%s: the error shows a value: %v", tc.ref, err)
		}
	}
}

func TestResolveDir(t *testing.T) {
	dir := t.TempDir()
	// Kubernetes mounts each key as a link to a file in a hidden, timestamped directory.
	data := filepath.Join(dir, "..data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "password"), []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "password"), filepath.Join(dir, "password")); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve("${dir:" + dir + ":password}")
	// As Kafka Connect's DirectoryConfigProvider: the content as it is, newline included.
	if err != nil || got != "pw\n" {
		t.Fatalf("Resolve = %q, %v; want the file's whole content", got, err)
	}
	for _, tc := range []struct{ ref, want string }{
		{"${dir:" + dir + ":missing}", "no such file"},
		{"${dir:" + dir + ":../x}", "not a file name"},
		{"${dir:" + dir + ":..data}", "not a regular file"},
		{"${dir:" + filepath.Join(dir, "nodir") + ":password}", "no such file"},
		{"${dir:" + filepath.Join(data, "password") + ":password}", "not a directory"},
	} {
		_, err := Resolve(tc.ref)
		var re *Error
		if !errors.As(err, &re) || re.Ref != tc.ref || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want an *Error naming it, saying %q", tc.ref, err, tc.want)
		}
	}
}

func TestResolveMalformed(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"${env:}", "no variable name"},
		{"${env:X", "no closing }"},
		{"pre ${file:/only-path}", "want ${file:PATH:KEY}"},
		{"${file::key}", "want ${file:PATH:KEY}"},
		{"${dir:/d:}", "want ${dir:PATH:KEY}"},
		{"${vault:secret/x:y}", `unknown provider "vault"`},
		{"${evn:PGPASSWORD}", `unknown provider "evn"`},
	} {
		_, err := Resolve(tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v; want one saying %q", tc.value, err, tc.want)
		}
		if !Has(tc.value) {
			t.Errorf("Has(%q) = false; want true: a malformed reference is a reference", tc.value)
		}
	}
	// An unterminated reference names its provider, not what follows (literal text).
	if _, err := Resolve("${env:abc-secret-tail"); err == nil || strings.Contains(err.Error(), "secret-tail") {
		t.Errorf("unterminated: %v; want an error without the text after the provider", err)
	}
}

func TestLiteralsUnchanged(t *testing.T) {
	for _, v := range []string{"", "plain", "$", "${", "${}", "${x}", "a$b", "${1:x}", "$${env:X}"} {
		got, err := Resolve(v)
		want := strings.ReplaceAll(v, "$${", "${")
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
	for _, v := range []string{"plain", "${x}", "$${env:X}"} {
		if Has(v) {
			t.Errorf("Has(%q) = true; want false", v)
		}
	}
}

func TestOnly(t *testing.T) {
	for v, want := range map[string]bool{
		"${env:A}":             true,
		"${env:A}${file:/p:k}": true,
		"x${env:A}":            false,
		"${env:A}x":            false,
		"literal":              false,
		"":                     false,
		"${env:":               false,
		"${vault:a:b}":         false,
	} {
		if got := Only(v); got != want {
			t.Errorf("Only(%q) = %v, want %v", v, got, want)
		}
	}
}
