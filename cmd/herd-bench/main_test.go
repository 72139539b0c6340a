package main

import (
	"bytes"
	"strings"
	"testing"
)

func runBench(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsTheTools(t *testing.T) {
	code, out, _ := runBench("help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, want := range []string{"herd-bench load", "herd-bench bench", "--topology five", "herd-bench propagation", "herd-bench echo-server", "--engine gnet|goroutine"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runBench(); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
	if code, _, errOut := runBench("frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}

// herd-bench's serve offers both I/O models; a wrong one is a usage error
// that names the choices.
func TestServeEngineFlag(t *testing.T) {
	code, _, errOut := runBench("serve", "-h")
	if code != 0 || !strings.Contains(errOut, "-engine") {
		t.Errorf("serve -h: exit %d, flags:\n%s", code, errOut)
	}
	code, _, errOut = runBench("serve", "Alford", "--engine", "threads")
	if code != 2 || !strings.Contains(errOut, `--engine "threads": want gnet or goroutine`) {
		t.Errorf("--engine threads: exit %d, %q", code, errOut)
	}
}

// The five-node herd commands refuse bad sizes before starting anything.
func TestHerdFlags(t *testing.T) {
	for _, args := range [][]string{
		{"propagation", "--levels", "25,120"},
		{"propagation", "--levels", "half"},
		{"propagation", "--conns-per-node", "0"},
		{"bench", "--topology", "six"},
		{"bench", "--topology", "five", "--probe-interval", "0s"},
	} {
		if code, _, errOut := runBench(args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, %q; want 2 and a message", args, code, errOut)
		}
	}
	if code, _, errOut := runBench("propagation", "-h"); code != 0 || !strings.Contains(errOut, "-levels") {
		t.Errorf("propagation -h: exit %d:\n%s", code, errOut)
	}
}
