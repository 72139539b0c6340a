package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPLogsRefusalsAndReopensLogs: a reload refused on SIGHUP is
// logged as JSON, with its reason, in every node's log, not only on
// stderr; and SIGHUP reopens the log files, so one deleted while the node
// runs is created again.
func TestSIGHUPLogsRefusalsAndReopensLogs(t *testing.T) {
	p, _, logDir := startUp(t)
	i := slices.Index(p.cmd.Args, "--config")
	cfgPath := p.cmd.Args[i+1]
	if err := os.WriteFile(cfgPath, []byte("nodes:\n  - name: Alford\n    listen: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(logDir, "Alford.log")
	refused := func() bool {
		b, _ := os.ReadFile(logFile)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "{") && strings.Contains(l, `"msg":"config reload refused"`) &&
				strings.Contains(l, `"node":"Alford"`) && strings.Contains(l, "nodes[0].listen") {
				return true
			}
		}
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for !cond() {
			if time.Now().After(deadline) || !p.running() {
				t.Fatalf("%s\n%s", what, p.describe())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("no refusal on stderr", func() bool { return strings.Contains(p.stderr.String(), "keeping the old config") })
	waitFor("no JSON refusal with its reason in Alford.log", refused)

	if err := os.Remove(logFile); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("Alford.log not recreated, or the second refusal not in it", refused)
}
