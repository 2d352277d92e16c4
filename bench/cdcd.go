package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cdcd-dev/cdcd/internal/procmem"
)

// ErrCDCD is wrapped by every failure of the cdcd process itself (build, start, early exit).
var ErrCDCD = errors.New("cdcd")

// buildCDCD builds ./cmd/cdcd without the race detector (its overhead would be measured too) and
// checks that the binary has a run command.
func (b *bench) buildCDCD(ctx context.Context) error {
	dir, err := b.tempDir()
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b.progress("building cdcd")
	bin := filepath.Join(dir, "cdcd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cdcd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: go build ./cmd/cdcd: %w\n%s", ErrCDCD, err, out)
	}
	if out, err := exec.CommandContext(ctx, bin, "run", "--help").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: the binary has no working run command (cdcd run --help: %w)\n%s", ErrCDCD, err, out)
	}
	b.cdcdBin = bin
	return nil
}

// moduleRoot is the folder of go.mod, so that the bench builds cdcd from any working folder.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root (go env GOMOD): %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("finding the module root: not inside the cdcd module")
	}
	return filepath.Dir(gomod), nil
}

// cdcdConfig is what a bench run of cdcd varies; everything else keeps cdcd's defaults.
type cdcdConfig struct {
	brokers        string
	registryListen string
	// name is the connector's name and topic prefix; the offsets and registry topics derive
	// from it so that the run can delete them.
	name   string
	source connectorSource
	// format is the connector's format; empty is cdcd's default (avro).
	format string
	// healthListen is health.listen, where the scraped throughput reads /metrics; empty: off.
	healthListen string
	// batchLinger is the connector's batch_linger; empty is cdcd's default (idle).
	batchLinger string
	// compression is kafka.compression, the producer codec; empty is cdcd's default (snappy).
	compression string
	// batchRecords is the connector's max_batch_records; 0 leaves it out.
	batchRecords int
}

// connectorSource is the database part of a connector's config.
type connectorSource interface {
	// yaml renders the connector's type and its source section, indented as a connector's
	// fields.
	yaml() string
	// namespace is the middle part of a data topic's name: the schema of a PostgreSQL table,
	// the database of a MySQL one.
	namespace() string
}

// pgSource is a postgres connector reading slot through publication.
type pgSource struct {
	host        string
	port        int
	database    string
	slot        string
	publication string
	// snapshotMode is the connector's snapshot_mode: no_data for the phases that measure
	// streaming, initial for the snapshot phase.
	snapshotMode string
	// snapshotThreads is the connector's snapshot_max_threads; 0 leaves it out.
	snapshotThreads int
	// chunkRows is the connector's snapshot_chunk_rows; 0 leaves it out.
	chunkRows int
}

func (s pgSource) namespace() string { return "public" }

func (s pgSource) yaml() string {
	threads := ""
	if s.snapshotThreads > 0 {
		threads = fmt.Sprintf("      snapshot_max_threads: %d\n", s.snapshotThreads)
	}
	if s.chunkRows > 0 {
		threads += fmt.Sprintf("      snapshot_chunk_rows: %d\n", s.chunkRows)
	}
	return fmt.Sprintf(`    type: postgres
    postgres:
      host: %s
      port: %d
      user: postgres
      database: %s
      slot: %s
      publication: %s
      tables: [public.%s]
      snapshot_mode: %s
%s`, s.host, s.port, s.database, s.slot, s.publication, benchTable, s.snapshotMode, threads)
}

// mysqlSource is a mysql connector capturing the bench table of database. Its server id is 0:
// cdcd derives it from the connector's name, which is how the bench finds its replica.
type mysqlSource struct {
	host     string
	port     int
	user     string
	password string
	database string
}

func (s mysqlSource) namespace() string { return s.database }

func (s mysqlSource) yaml() string {
	return fmt.Sprintf(`    type: mysql
    mysql:
      host: %s
      port: %d
      user: %s
      password: %s
      server_id: 0
      tables: [%s.%s]
`, s.host, s.port, s.user, s.password, s.database, benchTable)
}

func (c cdcdConfig) offsetsTopic() string  { return c.name + "_offsets" }
func (c cdcdConfig) registryTopic() string { return c.name + "_schemas" }
func (c cdcdConfig) dataTopic() string     { return c.name + "." + c.source.namespace() + "." + benchTable }
func (c cdcdConfig) registryURL() string   { return "http://" + c.registryListen }

// yaml renders the config file of `cdcd run --config` (docs/configuration.md). Every value is a
// name made of letters, digits, '_' and '.', or an address, so none needs quoting.
func (c cdcdConfig) yaml() string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s
%sregistry:
  listen: %s
  topic: %s
log:
  level: info
  format: json
api:
  listen: "off"
%sconnectors:
  - name: %s
    topic_prefix: %s
%s%s%s%s`, c.brokers, c.offsetsTopic(), c.compressionYAML(), c.registryListen, c.registryTopic(), c.healthYAML(), c.name, c.name, c.formatYAML(),
		c.lingerYAML(), c.batchYAML(), c.source.yaml())
}

// healthYAML is the health section, none when the run has no health listener.
func (c cdcdConfig) healthYAML() string {
	if c.healthListen == "" {
		return ""
	}
	return "health:\n  listen: " + c.healthListen + "\n"
}

// compressionYAML is kafka.compression's line, none for cdcd's default.
func (c cdcdConfig) compressionYAML() string {
	if c.compression == "" {
		return ""
	}
	return "  compression: " + c.compression + "\n"
}

// batchYAML is the connector's max_batch_records line, none for cdcd's default.
func (c cdcdConfig) batchYAML() string {
	if c.batchRecords == 0 {
		return ""
	}
	return fmt.Sprintf("    max_batch_records: %d\n", c.batchRecords)
}

// formatYAML is the connector's format line, none for the default.
func (c cdcdConfig) formatYAML() string {
	if c.format == "" {
		return ""
	}
	return "    format: " + c.format + "\n"
}

// newCDCDConfig returns the config of a cdcd named after phase reading src, on a free registry
// port.
func (b *bench) newCDCDConfig(phase string, src connectorSource) (cdcdConfig, error) {
	addr, err := freeAddr()
	if err != nil {
		return cdcdConfig{}, err
	}
	cfg := cdcdConfig{brokers: b.s.kafka, registryListen: addr, name: b.name(phase), source: src, batchLinger: b.s.batchLinger}
	if b.format != "" {
		cfg.format, cfg.name = b.format, cfg.name+"_"+b.format
	}
	if b.codec != "" {
		cfg.compression, cfg.name = b.codec, cfg.name+"_"+b.codec
	}
	cfg.batchRecords = b.batchRecords
	if b.scraped || b.health {
		if cfg.healthListen, err = freeAddr(); err != nil {
			return cdcdConfig{}, err
		}
	}
	if b.scraped {
		cfg.name += "_scraped"
	}
	return cfg, nil
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// cdcdProcess is a running `cdcd run`, or another tool the bench measures the same way (the
// Kafka Connect worker of debezium.go).
type cdcdProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
	// kind is wrapped by the process's failures; nil stands for ErrCDCD.
	kind error
	// profile is the CPU profile cdcd writes until it stops (-cpuprofile); empty: none.
	profile string
}

// kindErr is the error the process's failures wrap.
func (p *cdcdProcess) kindErr() error {
	if p.kind == nil {
		return ErrCDCD
	}
	return p.kind
}

// startCDCD writes cfg and starts cdcd on it, its output going to a log file beside the config.
// The process is stopped at cleanup if the phase has not stopped it.
func (b *bench) startCDCD(cfg cdcdConfig) (*cdcdProcess, error) {
	return b.startCDCDYAML(cfg.name, cfg.yaml())
}

// startCDCDYAML is startCDCD on a config already rendered, its files named after name.
func (b *bench) startCDCDYAML(name, config string) (*cdcdProcess, error) {
	if b.cdcdBin == "" {
		return nil, fmt.Errorf("%w: not built", ErrCDCD)
	}
	cfgPath := filepath.Join(b.tmp, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("writing the cdcd config: %w", err)
	}
	logPath := filepath.Join(b.tmp, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the cdcd log: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	// Not CommandContext: the process must outlive a cancelled bench long enough to be stopped
	// cleanly by the cleanup.
	args := []string{"run", "--config", cfgPath}
	profile := ""
	if b.s.cpuProfile != "" {
		profile = filepath.Join(b.s.cpuProfile, name+".pprof")
		args = append(args, "--cpuprofile", profile)
	}
	cmd := exec.Command(b.cdcdBin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %s: %w", ErrCDCD, b.cdcdBin, err)
	}
	p := &cdcdProcess{cmd: cmd, logPath: logPath, done: make(chan struct{}), profile: profile}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.onCleanup("stopping cdcd "+name, func(context.Context) error { return p.stop() })
	return p, nil
}

// exitError returns a non-nil error naming the exit status and the log's tail once the process
// has ended; a phase checks it while it waits.
func (p *cdcdProcess) exitError() error {
	select {
	case <-p.done:
		return fmt.Errorf("%w: exited (%v); last lines of %s:\n%s", p.kindErr(), p.err, p.logPath, p.logTail(20))
	default:
		return nil
	}
}

// freeze stops the process (SIGSTOP) until thaw.
func (p *cdcdProcess) freeze() error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("%w: freezing: %w", p.kindErr(), err)
	}
	return nil
}

// thaw continues a frozen process (SIGCONT).
func (p *cdcdProcess) thaw() error {
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("%w: thawing: %w", p.kindErr(), err)
	}
	return nil
}

// stop sends SIGTERM, and SIGKILL if the process has not ended 15 seconds later. A frozen
// process is thawed first, or it could not act on SIGTERM.
func (p *cdcdProcess) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(15 * time.Second):
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%w: did not end within 15s of SIGTERM; killed", p.kindErr())
}

// peakRSS returns the process's peak resident set size (VmHWM), in bytes.
func (p *cdcdProcess) peakRSS() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("%w: reading the peak memory: %w", p.kindErr(), err)
	}
	return parseVmHWM(status)
}

// cpuTime returns the CPU time, user and system, the process has used so far.
func (p *cdcdProcess) cpuTime() (time.Duration, error) {
	cpu, err := procmem.CPU(p.cmd.Process.Pid)
	if err != nil {
		return 0, fmt.Errorf("%w: reading the CPU time: %w", p.kindErr(), err)
	}
	return cpu, nil
}

// parseVmHWM reads the "VmHWM:  1234 kB" line of a /proc/PID/status.
func parseVmHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM line %q: %w", sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM line in the process status")
}

// logTail returns the last n lines of the process's log.
func (p *cdcdProcess) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitStreaming waits until cdcd reads t's change stream, so that a phase's clock starts with
// cdcd ready rather than with its start-up.
func (b *bench) waitStreaming(ctx context.Context, p *cdcdProcess, t target, cfg cdcdConfig) error {
	deadline := time.Now().Add(b.s.stall)
	for {
		active, err := t.streaming(ctx, cfg)
		if err != nil {
			return err
		}
		if active {
			return nil
		}
		if err := p.exitError(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: not streaming after %s; last lines of %s:\n%s",
				p.kindErr(), b.s.stall, p.logPath, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
