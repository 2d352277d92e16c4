package procmem

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the times in /proc/PID/stat: Linux fixes it at 100 ticks per second for
// every interface it shows to user space, whatever the kernel's own tick rate.
const userHZ = 100

// CPU returns the processor time process pid has used so far, user and system, all its threads
// together (utime + stime of /proc/PID/stat); a bench divides it by the events processed.
func CPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the stat of process %d: %w", pid, err)
	}
	return parseCPU(stat)
}

// parseCPU reads utime and stime, the 14th and 15th fields of a /proc/PID/stat line. The second
// field, the command in parentheses, may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func parseCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected process stat %q", stat)
	}
	// fields[0] is the 3rd field (state): utime is fields[11], stime fields[12].
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("process stat has %d fields after the command, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process stat time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
