package prometheus_test

import (
	"os/exec"
	"strings"
	"testing"
)

// promtool runs Debian's promtool (deploy/dev/stack.sh installs the prometheus package) and
// returns its output; a missing promtool fails the test, it does not skip it.
func promtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (deploy/dev/stack.sh installs Debian's prometheus package): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestRulesCheck checks the alert rules' syntax, PromQL and templates.
func TestRulesCheck(t *testing.T) {
	out, err := promtool(t, "check", "rules", "cdcd-alerts.yml")
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules said:\n%s", out)
	}
}

// TestRulesUnit runs the rules' unit tests: each alert fires on the series that should fire it,
// at the time it should, with its labels and annotations, and not on the others.
func TestRulesUnit(t *testing.T) {
	out, err := promtool(t, "test", "rules", "cdcd-alerts.test.yml")
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules said:\n%s", out)
	}
}
