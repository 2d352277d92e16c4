package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitDirectives returns the directives of a unit file, "Section.Key" to its values in order.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section+"."+strings.TrimSpace(k)] = append(out[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemdUnit checks deploy/systemd/cdcd.service: the settings the issue asks for, and
// `systemd-analyze verify` without a complaint (it exits 0 even on an unknown key or a value it
// ignores, so any output fails the test). verify runs in a root of its own holding systemd's
// units and the cdcd binary at the ExecStart path, which it checks.
func TestSystemdUnit(t *testing.T) {
	const unit = "systemd/cdcd.service"
	d := unitDirectives(t, unit)
	for key, want := range map[string]string{
		"Service.Type":            "notify",
		"Service.ExecStart":       "/usr/local/bin/cdcd run --config /etc/cdcd/cdcd.yaml",
		"Service.Restart":         "on-failure",
		"Service.DynamicUser":     "yes",
		"Service.ProtectSystem":   "strict",
		"Service.NoNewPrivileges": "yes",
		"Service.StateDirectory":  "cdcd",
		"Service.KillSignal":      "SIGTERM",
		"Service.WatchdogSec":     "60s",
		"Install.WantedBy":        "multi-user.target",
	} {
		if got := strings.Join(d[key], " "); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	if env := strings.Join(d["Service.Environment"], " "); !strings.Contains(env, "TMPDIR=/var/lib/cdcd") {
		t.Errorf("Environment %q: spill files do not go to the state directory (TMPDIR=/var/lib/cdcd)", env)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze: %v (deploy/dev/tools.sh up installs systemd)", err)
	}
	root := t.TempDir()
	units, err := filepath.Glob("/usr/lib/systemd/system/*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no systemd units under /usr/lib/systemd/system: %v", err)
	}
	for _, dir := range []string{"usr/lib/systemd", "usr/local/bin", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copying systemd's units: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(root, "usr/local/bin/cdcd"), "../cmd/cdcd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/cdcd.service"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--root="+root, "/etc/systemd/system/cdcd.service").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}
