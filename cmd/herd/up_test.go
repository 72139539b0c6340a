package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startUp runs "herd up" on the five-node herd on free ports and waits
// until it printed its node table; it picks new ports if one was taken.
func startUp(t *testing.T) (*proc, map[string]string, string) {
	t.Helper()
	bin := herdBinary(t)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		cfg, addrs := writeRingConfig(t, dir, freePorts(t, len(ringNames)))
		logDir := filepath.Join(dir, "logs")
		p := startProc(t, "up", bin, "up", "--config", cfg, "--log-dir", logDir)
		err := waitUpTable(p)
		if err == nil {
			return p, addrs, logDir
		}
		p.kill(t)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a picked port was taken; picking new ones", attempt)
	}
}

// waitUpTable waits until up printed its "Try: telnet" hint, the end of
// its node table.
func waitUpTable(p *proc) error {
	deadline := time.Now().Add(waitLimit)
	for {
		exited := !p.running()
		if strings.Contains(p.stdout.String(), "telnet") {
			return nil
		}
		if exited {
			if p.exitCode() == 1 && strings.Contains(p.stderr.String(), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("herd up exited with %d before printing its table\n%s", p.exitCode(), p.describe())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("herd up printed no table within %v\n%s", waitLimit, p.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUpProcess(t *testing.T) {
	t.Parallel()
	p, addrs, logDir := startUp(t)
	out := p.stdout.String()
	if !strings.Contains(out, "warning: no herd secret") {
		t.Errorf("herd up without a secret does not warn:\n%s", out)
	}

	if !strings.Contains(out, "5 node(s) up") || !strings.Contains(out, "places backend") ||
		!strings.Contains(out, logDir+"/NAME.log") {
		t.Errorf("stdout lacks the summary line:\n%s", out)
	}
	for name, nbs := range map[string]string{
		"Alford":   "Hamilton, Welsh",
		"Ball":     "Holiday, Welsh",
		"Hamilton": "Alford, Holiday",
		"Holiday":  "Ball, Hamilton",
		"Welsh":    "Alford, Ball",
	} {
		re := regexp.MustCompile(`(?m)^\s+` + name + `\s+` + regexp.QuoteMeta(addrs[name]) + `\s+neighbours: ` + nbs + `$`)
		if !re.MatchString(out) {
			t.Errorf("node table lacks the row of %s (%s, neighbours: %s):\n%s", name, addrs[name], nbs, out)
		}
	}
	port := strings.TrimPrefix(addrs["Alford"], "127.0.0.1:")
	if !strings.Contains(out, "Try: telnet 127.0.0.1 "+port) {
		t.Errorf("stdout lacks the telnet hint for Alford's port %s:\n%s", port, out)
	}

	// Every node of the process answers; a report at Alford reaches Ball,
	// two hops away, byte for byte.
	for _, name := range ringNames {
		if got, err := probe(addrs[name], name); err != nil || !strings.HasPrefix(got, "AT "+name+" ") {
			t.Fatalf("%s answered the probe with %q, %v", name, got, err)
		}
	}
	line := iamat(t, "Alford", addrs["Alford"], "kiwi.cs.ucla.edu")
	waitHeld(t, "Ball", addrs["Ball"], "kiwi.cs.ucla.edu", line)
	if got, err := exchange(addrs["Holiday"], "LLL"); err != nil || got != "? LLL" {
		t.Errorf("Holiday answered LLL with %q, %v", got, err)
	}
	for _, name := range ringNames {
		waitLogMsg(t, logDir, name, "link up")
	}

	// Ctrl-C stops it cleanly.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if !p.wait(waitLimit) {
		t.Fatalf("herd up still running %v after SIGINT\n%s", waitLimit, p.describe())
	}
	if p.exitCode() != 0 {
		t.Errorf("herd up exited with %d after SIGINT, want 0\n%s", p.exitCode(), p.describe())
	}
	if !strings.Contains(p.stdout.String(), "interrupt received, shutting down") {
		t.Errorf("herd up did not say it is shutting down:\n%s", p.describe())
	}
}
