package main

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpReloadsOnSIGHUP sends SIGHUP to "herd up": a broken file keeps the
// running config (and says why on stderr), a good one with Alford's
// neighbours changed is applied, and the nodes keep answering throughout.
func TestUpReloadsOnSIGHUP(t *testing.T) {
	p, addrs, _ := startUp(t)
	i := slices.Index(p.cmd.Args, "--config")
	cfgPath := p.cmd.Args[i+1]
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	hup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.WriteFile(cfgPath, []byte("nodes:\n  - name: Alford\n    listen: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.stderr.String(), "keeping the old config") {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("no complaint about the bad file\n%s", p.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "nodes[0].listen") {
		t.Errorf("the complaint does not name the field:\n%s", p.stderr.String())
	}
	if got, err := exchange(addrs["Alford"], "LLL"); err != nil || got != "? LLL" {
		t.Fatalf("Alford after a bad reload: %q, %v", got, err)
	}

	next := strings.Replace(string(orig), "neighbors: [Hamilton, Welsh]", "neighbors: [Hamilton, Ball]", 1)
	if next == string(orig) {
		t.Fatalf("the ring config changed shape:\n%s", orig)
	}
	if err := os.WriteFile(cfgPath, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	hup()
	out := waitOutput(t, p, "SIGHUP: reloaded")
	waitOutput(t, p, "Alford: neighbours added [Ball], removed [Welsh]")
	line := iamat(t, "Ball", addrs["Ball"], "kiwi.cs.ucla.edu")
	waitHeld(t, "Alford", addrs["Alford"], "kiwi.cs.ucla.edu", line)
	if !p.running() {
		t.Fatalf("herd up exited after the reload\n%s", out)
	}
}
