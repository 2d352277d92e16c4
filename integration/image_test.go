package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// buildah runs buildah (through sudo -n when the test is not root: buildah needs root here,
// rootless needs subordinate ids the machine may not have) and returns its output.
func buildah(t *testing.T, args ...string) (string, error) {
	t.Helper()
	name := "buildah"
	if os.Getuid() != 0 {
		name, args = "sudo", append([]string{"-n", "buildah"}, args...)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("buildah %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustBuildah(t *testing.T, args ...string) string {
	t.Helper()
	out, err := buildah(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// offlineGoImage returns an image holding the machine's Go toolchain, a shell and the CA
// certificates, for the Containerfile's build stage (GO_IMAGE) when no registry is reachable;
// made once per Go version and kept.
func offlineGoImage(t *testing.T) string {
	t.Helper()
	goroot := goEnv(t, "GOROOT")
	image := "localhost/cdcd-offline-go:" + goEnv(t, "GOVERSION")
	if _, err := buildah(t, "inspect", "--type", "image", image); err == nil {
		return image
	}
	ctr := mustBuildah(t, "from", "scratch")
	defer func() { _, _ = buildah(t, "rm", ctr) }()
	empty := t.TempDir()
	mustBuildah(t, "copy", "-q", ctr, goroot, "/usr/local/go")
	mustBuildah(t, "copy", "-q", ctr, empty, "/tmp")
	// The build stage's RUN lines run in /bin/sh.
	for _, f := range []string{"/bin/sh", "/etc/ssl/certs/ca-certificates.crt"} {
		mustBuildah(t, "copy", "-q", ctr, f, f)
	}
	out, err := exec.Command("ldd", "/bin/sh").Output()
	if err != nil {
		t.Fatalf("ldd /bin/sh: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			mustBuildah(t, "copy", "-q", ctr, f, f)
		}
	}
	mustBuildah(t, "config", "--env", "PATH=/usr/local/go/bin:/bin", "--env", "HOME=/root",
		"--env", "GOPATH=/go", "--env", "GOMODCACHE=/go/pkg/mod", "--env", "GOCACHE=/root/.cache/go-build", ctr)
	mustBuildah(t, "commit", "-q", ctr, image)
	return image
}

// goEnv returns `go env name`.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// imageBuildCache is the Go build cache the image's build stage uses: the test's own when it
// runs as root (the static builds of the unit tests have filled it), else a folder of the
// stack's, so that buildah, run as root through sudo, leaves no root-owned file in the user's
// cache.
func imageBuildCache(t *testing.T, root string) string {
	t.Helper()
	if os.Getuid() == 0 {
		return goEnv(t, "GOCACHE")
	}
	dir := filepath.Join(root, ".stack", "image-gocache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestImageBuildsAndRuns builds deploy/Containerfile with buildah, offline (the build stage on
// the machine's Go, the module cache mounted, GOPROXY off), checks the image's configuration
// (non-root numeric user, SIGTERM, the ports, the OCI labels) and runs its cdcd version inside
// the image's root (buildah run, chroot isolation: podman run cannot set RLIMIT_NOFILE in
// this sandbox).
func TestImageBuildsAndRuns(t *testing.T) {
	version := "0.0.0-it-" + strconv.Itoa(os.Getpid())
	image := "localhost/cdcd-it:" + version
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mustBuildah(t, "bud", "--isolation", "chroot", "-q", "-f", filepath.Join(root, "deploy", "Containerfile"),
		"--build-arg", "GO_IMAGE="+offlineGoImage(t), "--build-arg", "GOPROXY=off", "--build-arg", "GOFLAGS=-mod=mod",
		"--build-arg", "VERSION="+version, "--build-arg", "REVISION=test",
		"-v", goEnv(t, "GOMODCACHE")+":/go/pkg/mod:ro", "-v", imageBuildCache(t, root)+":/root/.cache/go-build",
		"-t", image, root)
	t.Cleanup(func() { _, _ = buildah(t, "rmi", "-f", image) })

	var inspect struct {
		OCIv1 struct {
			Config struct {
				User         string
				StopSignal   string
				ExposedPorts map[string]struct{}
				Entrypoint   []string
				Cmd          []string
				Labels       map[string]string
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(mustBuildah(t, "inspect", "--type", "image", image)), &inspect); err != nil {
		t.Fatalf("buildah inspect: %v", err)
	}
	c := inspect.OCIv1.Config
	if uid, err := strconv.Atoi(strings.Split(c.User, ":")[0]); err != nil || uid == 0 {
		t.Errorf("user %q, want a non-root numeric user", c.User)
	}
	if c.StopSignal != "SIGTERM" {
		t.Errorf("stop signal %q, want SIGTERM", c.StopSignal)
	}
	for _, port := range []string{"8083/tcp", "8081/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("exposed ports %v, want %s", c.ExposedPorts, port)
		}
	}
	if got := strings.Join(append(c.Entrypoint, c.Cmd...), " "); got != "/usr/local/bin/cdcd run --config /etc/cdcd/cdcd.yaml" {
		t.Errorf("entrypoint and command %q", got)
	}
	if c.Labels["org.opencontainers.image.version"] != version || c.Labels["org.opencontainers.image.source"] == "" ||
		c.Labels["org.opencontainers.image.revision"] != "test" {
		t.Errorf("labels %v, want version %s, a source, revision test", c.Labels, version)
	}

	ctr := mustBuildah(t, "from", "-q", image)
	t.Cleanup(func() { _, _ = buildah(t, "rm", ctr) })
	out := mustBuildah(t, "run", "--isolation", "chroot", ctr, "--", "/usr/local/bin/cdcd", "version")
	if out != "cdcd "+version {
		t.Fatalf("cdcd version in the image: %q, want cdcd %s", out, version)
	}
	// Nothing but cdcd: no shell to run.
	if out, err := buildah(t, "run", "--isolation", "chroot", ctr, "--", "/bin/sh", "-c", "true"); err == nil {
		t.Errorf("the image runs /bin/sh (%q): it should hold nothing but cdcd", out)
	}
}
