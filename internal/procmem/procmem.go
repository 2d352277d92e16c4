// Package procmem reads a process's memory and CPU figures from /proc, for the tests and the
// bench that bound cdcd's memory and measure what each event costs.
package procmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Resident returns the VmRSS of process pid, in bytes.
func Resident(pid int) (int64, error) { return statusBytes(pid, "VmRSS") }

// Peak returns the VmHWM of process pid, the most it has been resident, in bytes.
func Peak(pid int) (int64, error) { return statusBytes(pid, "VmHWM") }

// statusBytes reads the field name, in kB, of process pid's status.
func statusBytes(pid int, name string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the status of process %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line %q", name, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s line %q: %w", name, sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("process %d has no %s line", pid, name)
}
