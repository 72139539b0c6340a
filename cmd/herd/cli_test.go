package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runHerd calls run in-process and returns its exit code and output.
func runHerd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunNoArgs(t *testing.T) {
	code, out, errOut := runHerd(t)
	if code != 2 {
		t.Fatalf("run(nil) = %d, want 2", code)
	}
	if !strings.Contains(errOut, "Usage:") || !strings.Contains(errOut, "herd serve NAME") {
		t.Errorf("stderr lacks the usage:\n%s", errOut)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
}

func TestRunHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			code, out, errOut := runHerd(t, arg)
			if code != 0 {
				t.Fatalf("run(%q) = %d, want 0; stderr:\n%s", arg, code, errOut)
			}
			for _, want := range []string{"Usage:", "herd up", "herd serve NAME", "herd places-server"} {
				if !strings.Contains(out, want) {
					t.Errorf("help output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestRunCommandHelp(t *testing.T) {
	for _, cmd := range []string{"up", "serve", "places-server"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, errOut := runHerd(t, cmd, "-h")
			if code != 0 {
				t.Fatalf("herd %s -h = %d, want 0; stderr:\n%s", cmd, code, errOut)
			}
			if !strings.Contains(errOut, "Usage: herd "+cmd) || !strings.Contains(errOut, "Flags:") {
				t.Errorf("herd %s -h printed no flag usage:\n%s", cmd, errOut)
			}
		})
	}
}

func TestRunUnknownCommand(t *testing.T) {
	code, _, errOut := runHerd(t, "frobnicate")
	if code != 2 {
		t.Fatalf("exit = %d, want 2", code)
	}
	if !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "Usage:") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestRunUsageErrors(t *testing.T) {
	cfg := writeFile(t, "one.yaml", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n")
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"serve without name", []string{"serve"}, []string{"exactly one node name"}},
		{"serve two names", []string{"serve", "Alford", "Ball"}, []string{"exactly one node name"}},
		{"serve unknown node", []string{"serve", "Nope"},
			[]string{`"Nope"`, "unknown node", "Alford", "Ball", "Hamilton", "Holiday", "Welsh"}},
		{"serve unknown node, flags first", []string{"serve", "--config", cfg, "Nope"},
			[]string{`unknown node "Nope"`, "[A]"}},
		{"serve unknown flag", []string{"serve", "Alford", "--bogus"}, []string{"bogus"}},
		{"up unknown flag", []string{"up", "--bogus"}, []string{"bogus"}},
		{"up with argument", []string{"up", "Alford"}, []string{"up takes no arguments"}},
		{"missing config", []string{"up", "--config", "missing.yaml"}, []string{"missing.yaml", "no such file"}},
		{"serve missing config", []string{"serve", "Alford", "--config", "missing.yaml"}, []string{"missing.yaml", "no such file"}},
		{"bad log level", []string{"up", "--log-level", "loud"}, []string{"--log-level", `"loud"`}},
		{"serve bad log level", []string{"serve", "Alford", "--log-level", "loud"}, []string{"--log-level", `"loud"`}},
		{"negative loops", []string{"up", "--loops", "-1"}, []string{"--loops"}},
		{"non-numeric loops", []string{"up", "--loops", "many"}, []string{"loops"}},
		{"bad places backend", []string{"up", "--places", "bing"}, []string{"places.backend", `"bing"`}},
		{"places-server unknown flag", []string{"places-server", "--bogus"}, []string{"bogus"}},
		{"places-server with argument", []string{"places-server", "extra"}, []string{"no arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runHerd(t, tt.args...)
			if code != 2 {
				t.Fatalf("herd %q = %d, want 2\nstdout:\n%s\nstderr:\n%s", tt.args, code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestRunInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of stderr
	}{
		{"unknown node key", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    colour: red\n",
			[]string{"unknown field", `"colour"`}},
		{"unknown top-level key", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\nbogus: 1\n",
			[]string{"unknown field", `"bogus"`}},
		{"unknown neighbour", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    neighbors: [Nobody]\n",
			[]string{"nodes[0].neighbors[0]", `unknown node "Nobody"`}},
		{"second neighbour unknown", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n  - name: B\n    listen: 127.0.0.1:2\n    neighbors: [A, Zed]\n",
			[]string{"nodes[1].neighbors[1]", `"Zed"`}},
		{"own neighbour", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    neighbors: [A]\n",
			[]string{"nodes[0].neighbors[0]", "own neighbour"}},
		{"bad listen", "nodes:\n  - name: A\n    listen: nope\n",
			[]string{"nodes[0].listen", `"nope"`}},
		{"bad listen port", "nodes:\n  - name: A\n    listen: 127.0.0.1:99999\n",
			[]string{"nodes[0].listen", "port"}},
		{"missing listen", "nodes:\n  - name: A\n",
			[]string{"nodes[0].listen", "missing"}},
		{"bad address", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    address: nope\n",
			[]string{"nodes[0].address"}},
		{"missing name", "nodes:\n  - listen: 127.0.0.1:1\n",
			[]string{"nodes[0].name", "missing"}},
		{"duplicate name", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n  - name: A\n    listen: 127.0.0.1:2\n",
			[]string{"nodes[1].name", "already used"}},
		{"no nodes", "limits:\n  max_line: 100\n",
			[]string{"nodes", "no nodes"}},
		{"max line too small", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\nlimits:\n  max_line: 3\n",
			[]string{"limits.max_line"}},
		{"backoff inverted", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\npeers:\n  backoff_min: 2s\n  backoff_max: 1s\n",
			[]string{"peers.backoff_max"}},
		{"bad backend", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\nplaces:\n  backend: bing\n",
			[]string{"places.backend", `"bing"`}},
		{"bad duration", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\npeers:\n  backoff_min: soon\n",
			[]string{"config"}},
		{"yaml syntax", "nodes: [\n", []string{"config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeFile(t, "herd.yaml", tt.yaml)
			for _, args := range [][]string{
				{"up", "--config", cfg},
				{"serve", "A", "--config", cfg},
			} {
				code, out, errOut := runHerd(t, args...)
				if code != 2 {
					t.Fatalf("herd %q = %d, want 2\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
				}
				if !strings.Contains(errOut, cfg) {
					t.Errorf("herd %q: stderr does not name the file %s:\n%s", args, cfg, errOut)
				}
				for _, w := range tt.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("herd %q: stderr lacks %q:\n%s", args, w, errOut)
					}
				}
			}
		})
	}
}

// TestServePortInUse runs a node on a port something else holds: exit 1.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := writeFile(t, "herd.yaml", fmt.Sprintf("nodes:\n  - name: A\n    listen: %s\n", ln.Addr()))
	logs := filepath.Join(t.TempDir(), "logs")
	code, out, errOut := runHerd(t, "serve", "A", "--config", cfg, "--log-dir", logs)
	if code != 1 {
		t.Fatalf("exit = %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "address already in use") {
		t.Errorf("stderr does not mention the port in use:\n%s", errOut)
	}
	if !strings.Contains(errOut, ln.Addr().String()) {
		t.Errorf("stderr does not name the address %s:\n%s", ln.Addr(), errOut)
	}
}

// TestUpPortInUse: when the second node cannot bind, up fails with 1 and the
// first node, already started, is stopped again (its port is free).
func TestUpPortInUse(t *testing.T) {
	for attempt := 0; ; attempt++ {
		free, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		freeAddr := free.Addr().String()
		free.Close()
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := writeFile(t, "herd.yaml", fmt.Sprintf(
			"nodes:\n  - name: A\n    listen: %s\n    neighbors: [B]\n  - name: B\n    listen: %s\n", freeAddr, busy.Addr()))
		logs := filepath.Join(t.TempDir(), "logs")
		code, out, errOut := runHerd(t, "up", "--config", cfg, "--log-dir", logs)
		busy.Close()
		if code == 1 && strings.Contains(errOut, freeAddr) && attempt < 3 {
			continue // someone else took the "free" port meanwhile; pick again
		}
		if code != 1 {
			t.Fatalf("exit = %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		if !strings.Contains(errOut, "address already in use") || !strings.Contains(errOut, "B") {
			t.Errorf("stderr does not name node B's port in use:\n%s", errOut)
		}
		// A was started before B failed; it must have been stopped.
		again, err := net.Listen("tcp", freeAddr)
		if err != nil {
			t.Fatalf("node A's port %s still taken after up failed: %v", freeAddr, err)
		}
		again.Close()
		return
	}
}

// The node binary offers one I/O model: --engine is a herd-bench flag, and
// the benchmark tools are not commands of herd.
func TestNodeBinaryHasNoBenchTools(t *testing.T) {
	code, _, errOut := runHerd(t, "serve", "Alford", "--engine", "goroutine")
	if code != 2 || !strings.Contains(errOut, "flag provided but not defined: -engine") {
		t.Errorf("--engine: exit %d, %q", code, errOut)
	}
	for _, cmd := range []string{"load", "bench", "echo-server"} {
		if code, _, errOut := runHerd(t, cmd); code != 2 || !strings.Contains(errOut, "unknown command") {
			t.Errorf("herd %s: exit %d, %q", cmd, code, errOut)
		}
	}
}

// A malformed --debug-addr is a usage error (exit 2), not a runtime one.
func TestBadDebugAddr(t *testing.T) {
	code, _, errOut := runHerd(t, "serve", "Alford", "--debug-addr", "nonsense", "--log-dir", "-")
	if code != 2 || !strings.Contains(errOut, `--debug-addr "nonsense": want host:port`) {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
