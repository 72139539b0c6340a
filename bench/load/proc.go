package load

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ClockTicks is the unit of utime and stime in /proc/PID/stat. It is
// sysconf(_SC_CLK_TCK), which Linux fixes at 100 on every architecture Go
// supports; reading it would need cgo, so it is assumed.
const ClockTicks = 100

// ProcStats reads a process's CPU time (user plus system, in seconds) from
// /proc/PID/stat and its resident set size (VmRSS) from /proc/PID/status.
func ProcStats(pid int) (cpuSeconds float64, rssBytes int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("load: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses itself: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("load: /proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("load: /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("load: /proc/%d/stat: bad utime %q or stime %q", pid, f[11], f[12])
	}
	cpuSeconds = float64(utime+stime) / ClockTicks

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("load: %w", err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fs := bytes.Fields(rest) // "1234", "kB"
		if len(fs) != 2 || string(fs[1]) != "kB" {
			return 0, 0, fmt.Errorf("load: /proc/%d/status: odd VmRSS line %q", pid, line)
		}
		kb, err := strconv.ParseInt(string(fs[0]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("load: /proc/%d/status: VmRSS: %w", pid, err)
		}
		return cpuSeconds, kb * 1024, nil
	}
	// Kernel threads and zombies have no VmRSS.
	return cpuSeconds, 0, nil
}
