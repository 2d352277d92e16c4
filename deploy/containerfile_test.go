package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one instruction of a Containerfile: its keyword (upper case) and arguments,
// continuation lines joined.
type instruction struct {
	keyword string
	args    string
}

// parseContainerfile reads the instructions of a Containerfile, in order.
func parseContainerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		keyword, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(keyword), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// finalStage returns the instructions after the last FROM, and that FROM's image.
func finalStage(ins []instruction) (string, []instruction) {
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].keyword == "FROM" {
			return strings.Fields(ins[i].args)[0], ins[i+1:]
		}
	}
	return "", nil
}

// TestContainerfile checks what the issue asks of the image, in the file's instructions: a
// multi-stage build of a static cdcd (CGO off, -trimpath, the version by -ldflags) into an
// image from scratch, run as a non-root numeric user, with the config at a fixed path, the
// API port exposed, STOPSIGNAL SIGTERM and OCI labels with version and source.
func TestContainerfile(t *testing.T) {
	ins := parseContainerfile(t, "Containerfile")
	all := map[string][]string{}
	froms := 0
	for _, in := range ins {
		all[in.keyword] = append(all[in.keyword], in.args)
		if in.keyword == "FROM" {
			froms++
		}
	}
	if froms < 2 {
		t.Errorf("%d stages, want a multi-stage build", froms)
	}
	joined := func(keyword string) string { return strings.Join(all[keyword], "\n") }
	if env := joined("ENV"); !strings.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the build stage's ENV %q does not turn CGO off", env)
	}
	var build string
	for _, run := range all["RUN"] {
		if strings.Contains(run, "go build") {
			build = run
		}
	}
	for _, want := range []string{"-trimpath", "-X main.version=${VERSION}", "./cmd/cdcd"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build %q has no %s", build, want)
		}
	}

	base, final := finalStage(ins)
	if base != "scratch" {
		t.Errorf("the final image is FROM %s, want scratch (nothing but cdcd)", base)
	}
	got := map[string]string{}
	var copies []string
	for _, in := range final {
		if in.keyword == "COPY" || in.keyword == "LABEL" {
			copies = append(copies, in.args)
		}
		got[in.keyword] = in.args
	}
	user, _, _ := strings.Cut(got["USER"], ":")
	if uid, err := strconv.Atoi(user); err != nil || uid == 0 {
		t.Errorf("USER %q, want a non-root numeric user (Kubernetes' runAsNonRoot checks the number)", got["USER"])
	}
	if got["STOPSIGNAL"] != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q, want SIGTERM", got["STOPSIGNAL"])
	}
	if !slicesContainsField(got["EXPOSE"], "8083") || !slicesContainsField(got["EXPOSE"], "8081") {
		t.Errorf("EXPOSE %q, want the API (8083) and the health listener (8081)", got["EXPOSE"])
	}
	if got["ENTRYPOINT"] != `["/usr/local/bin/cdcd"]` || got["CMD"] != `["run", "--config", "/etc/cdcd/cdcd.yaml"]` {
		t.Errorf("ENTRYPOINT %s CMD %s, want cdcd run --config /etc/cdcd/cdcd.yaml", got["ENTRYPOINT"], got["CMD"])
	}
	labels := strings.Join(copies, "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`org\.opencontainers\.image\.version="\$\{VERSION\}"`),
		regexp.MustCompile(`org\.opencontainers\.image\.source="\$\{SOURCE\}"`),
		regexp.MustCompile(`/etc/ssl/certs/ca-certificates\.crt`),
		regexp.MustCompile(`/etc/passwd`),
	} {
		if !want.MatchString(labels) {
			t.Errorf("the final stage has no %s", want)
		}
	}
	// The ARGs a label uses must be declared in the final stage, where a FROM resets them.
	for _, arg := range []string{"VERSION", "SOURCE"} {
		found := false
		for _, in := range final {
			if in.keyword == "ARG" && strings.HasPrefix(in.args, arg+"=") {
				found = true
			}
		}
		if !found {
			t.Errorf("the final stage does not declare ARG %s, which its labels use", arg)
		}
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil || !regexp.MustCompile(`(?m)^\.stack$`).Match(ignore) {
		t.Errorf("../.dockerignore does not keep the local stack (.stack) out of the build context: %v", err)
	}
}

func slicesContainsField(s, field string) bool {
	for _, f := range strings.Fields(s) {
		if f == field {
			return true
		}
	}
	return false
}

// TestStaticBinary builds cdcd as the Containerfile does (CGO off, -trimpath, the version by
// -ldflags) and checks that the binary is static (no program interpreter, no shared library:
// it runs FROM scratch) and prints its version.
func TestStaticBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cdcd")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version=7.7.7-static", "-o", bin, "../cmd/cdcd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %s program header: it is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "cdcd 7.7.7-static" {
		t.Fatalf("cdcd version: %q, %v; want cdcd 7.7.7-static", out, err)
	}
}
