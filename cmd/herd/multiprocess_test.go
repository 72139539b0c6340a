package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait of the process tests.
const waitLimit = 15 * time.Second

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// herdBinary builds the herd command once per test binary (go build in the
// package directory, where go test runs us) and returns its path. Process
// tests are skipped under -short.
func herdBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "herd-cmd-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "herd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for a process's writer and a test reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a herd process the test started; t.Cleanup kills it.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed once the process exited and was reaped
}

func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the process (if it still runs) and reaps it.
func (p *proc) kill(t testing.TB) {
	if !p.running() {
		return
	}
	p.cmd.Process.Kill()
	if !p.wait(waitLimit) {
		t.Errorf("%s (pid %d) not reaped %v after SIGKILL", p.name, p.cmd.Process.Pid, waitLimit)
	}
}

// wait reports whether the process exited within d.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

func (p *proc) describe() string {
	return fmt.Sprintf("%s stdout:\n%s\n%s stderr:\n%s", p.name, p.stdout.String(), p.name, p.stderr.String())
}

// waitOutput waits until p's stdout contains want and returns the stdout.
func waitOutput(t *testing.T, p *proc, want string) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		exited := !p.running()
		out := p.stdout.String()
		if strings.Contains(out, want) {
			return out
		}
		if exited || time.Now().After(deadline) {
			t.Fatalf("%s stdout lacks %q (running: %v)\n%s", p.name, want, p.running(), p.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errPortTaken means a process could not bind the port picked for it:
// something else took it between the pick and the start.
var errPortTaken = errors.New("port taken")

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// ringNames are the nodes of the default herd (docs/PROTOCOL.md, The
// default herd):
// Alford -- Hamilton -- Holiday -- Ball -- Welsh -- Alford.
var ringNames = []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}

// writeRingConfig writes the five-node herd on the given ports (in
// ringNames order) with short reconnect backoffs, and returns its path and
// every node's address.
func writeRingConfig(t *testing.T, dir string, ports []int) (string, map[string]string) {
	t.Helper()
	neighbors := map[string]string{
		"Alford":   "[Hamilton, Welsh]",
		"Ball":     "[Holiday, Welsh]",
		"Hamilton": "[Holiday]",
		"Holiday":  "[]",
		"Welsh":    "[]",
	}
	addrs := map[string]string{}
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i, name := range ringNames {
		addrs[name] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		fmt.Fprintf(&b, "  - name: %s\n    listen: %s\n    neighbors: %s\n", name, addrs[name], neighbors[name])
	}
	b.WriteString("peers: {backoff_min: 20ms, backoff_max: 300ms}\n")
	path := filepath.Join(dir, "herd.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, addrs
}

// exchange sends one line to addr on a fresh connection and returns the
// first line of the answer, without its "\n".
func exchange(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading the answer to %q: %w (got %q)", line, err, s)
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// probe sends the node expected at addr, called name, an IAMAT about a
// client of its own (herd-test-NAME, at time 0): a node answers with an AT
// line that names it.
func probe(addr, name string) (string, error) {
	return exchange(addr, "IAMAT herd-test-"+name+" +0.0+0.0 0")
}

// waitNode waits until the node called name answers a probe on
// addr, or p exits. A process that exits because its port is in use yields
// errPortTaken.
func waitNode(p *proc, name, addr string) error {
	deadline := time.Now().Add(waitLimit)
	var last error
	for time.Now().Before(deadline) {
		if !p.running() {
			if p.exitCode() == 1 && strings.Contains(p.stderr.String(), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("%s exited with %d before it answered\n%s", name, p.exitCode(), p.describe())
		}
		got, err := probe(addr, name)
		if err == nil && strings.HasPrefix(got, "AT "+name+" ") {
			return nil
		}
		if err == nil {
			// Something answers on the port, but not our node.
			last = fmt.Errorf("probe on %s answered %q, want an AT line from %s", addr, got, name)
		} else {
			last = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer on %s within %v: %v\n%s", name, addr, waitLimit, last, p.describe())
}

// heldLine asks the node at addr which AT line it holds for client, with an
// IAMAT older than anything real (time 0): its answer is the held line. A
// node that knows nothing of client stores the probe itself, which any real
// report supersedes.
func heldLine(addr, client string) (string, error) {
	return exchange(addr, "IAMAT "+client+" +0.0+0.0 0")
}

// waitHeld waits until the node at addr holds want for client.
func waitHeld(t *testing.T, name, addr, client, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var got string
	var err error
	for time.Now().Before(deadline) {
		got, err = heldLine(addr, client)
		if err == nil && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s (%s) does not hold %q within %v\nlast answer %q, err %v", name, addr, want, waitLimit, got, err)
}

// iamat reports client at addr with the current time and returns the AT
// line the node answered, checking it names origin.
func iamat(t *testing.T, origin, addr, client string) string {
	t.Helper()
	now := time.Now()
	line := fmt.Sprintf("IAMAT %s +34.068930-118.445127 %d.%09d", client, now.Unix(), now.Nanosecond())
	got, err := exchange(addr, line)
	if err != nil {
		t.Fatalf("IAMAT at %s: %v", origin, err)
	}
	prefix := "AT " + origin + " "
	suffix := " " + strings.TrimPrefix(line, "IAMAT ")
	if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) {
		t.Fatalf("IAMAT at %s answered %q, want %q...%q", origin, got, prefix, suffix)
	}
	return got
}

// ringHerd is the five-node herd, one process per node.
type ringHerd struct {
	bin, cfg, logDir string
	addrs            map[string]string
	procs            map[string]*proc
}

func (h *ringHerd) serveArgs(name string) []string {
	return []string{"serve", name, "--config", h.cfg, "--log-dir", h.logDir, "--log-level", "info"}
}

// startNode starts one node's process and waits until it answers.
func (h *ringHerd) startNode(t *testing.T, name string) error {
	p := startProc(t, name, h.bin, h.serveArgs(name)...)
	h.procs[name] = p
	return waitNode(p, name, h.addrs[name])
}

// startRing starts the five nodes as processes on free ports, picking new
// ports if one was taken in the meantime.
func startRing(t *testing.T) *ringHerd {
	t.Helper()
	bin := herdBinary(t)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		h := &ringHerd{bin: bin, logDir: filepath.Join(dir, "logs"), procs: map[string]*proc{}}
		h.cfg, h.addrs = writeRingConfig(t, dir, freePorts(t, len(ringNames)))
		var err error
		for _, name := range ringNames {
			if err = h.startNode(t, name); err != nil {
				break
			}
		}
		if err == nil {
			return h
		}
		for _, p := range h.procs {
			p.kill(t)
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a picked port was taken; picking new ones", attempt)
	}
}

// restartNode starts name again on its port, retrying while the port is
// still held (it should not be: nodes set SO_REUSEADDR).
func (h *ringHerd) restartNode(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := h.startNode(t, name)
		if err == nil {
			return
		}
		if !errors.Is(err, errPortTaken) || time.Now().After(deadline) {
			t.Fatalf("restart %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLogMsg waits until the JSON log file of name holds a record whose msg
// is msg; every line of the file must be a JSON object.
func waitLogMsg(t *testing.T, logDir, name, msg string) {
	t.Helper()
	path := filepath.Join(logDir, name+".log")
	deadline := time.Now().Add(waitLimit)
	var problem string
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(path)
		if err != nil {
			problem = err.Error()
		} else {
			problem = fmt.Sprintf("no record with \"msg\":%q among %d bytes", msg, len(data))
			lines := strings.Split(string(data), "\n")
			for i, line := range lines {
				if line == "" || (i == len(lines)-1) {
					continue // the last line may still be being written
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%s line %d is not JSON: %v\n%s", path, i+1, err, line)
				}
				if rec["node"] != nil && rec["node"] != name {
					t.Fatalf("%s line %d names node %v, want %s", path, i+1, rec["node"], name)
				}
				if rec["msg"] == msg {
					if rec["time"] == nil || rec["level"] == nil {
						t.Fatalf("%s line %d lacks time or level: %s", path, i+1, line)
					}
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s within %v", path, problem, waitLimit)
}

func TestMultiProcessRing(t *testing.T) {
	t.Parallel()
	h := startRing(t)
	a := h.addrs

	// Each serve process prints its one node: name, address, neighbours
	// (those it lists and those that list it) and where it logs.
	// The node answers before it prints, so wait for the hint that ends it.
	for _, name := range ringNames {
		out := waitOutput(t, h.procs[name], "telnet 127.0.0.1 "+strings.TrimPrefix(a[name], "127.0.0.1:"))
		if !strings.Contains(out, "1 node(s) up") || !strings.Contains(out, h.logDir+"/NAME.log") ||
			!strings.Contains(out, name) || !strings.Contains(out, a[name]) {
			t.Errorf("%s stdout lacks its summary or node line:\n%s", name, out)
		}
	}
	for name, nbs := range map[string]string{"Alford": "Hamilton, Welsh", "Holiday": "Ball, Hamilton", "Welsh": "Alford, Ball"} {
		if out := h.procs[name].stdout.String(); !strings.Contains(out, "neighbours: "+nbs) {
			t.Errorf("%s stdout does not list neighbours %q:\n%s", name, nbs, out)
		}
	}

	// A report at Alford floods to the four others, identical byte for byte.
	line1 := iamat(t, "Alford", a["Alford"], "kiwi.cs.ucla.edu")
	for _, name := range []string{"Ball", "Hamilton", "Holiday", "Welsh"} {
		waitHeld(t, name, a[name], "kiwi.cs.ucla.edu", line1)
	}

	// Hamilton dies without a word.
	h.procs["Hamilton"].kill(t)

	// A second client reports at Alford: Welsh, Ball and, through Ball,
	// Holiday still learn of it.
	line2 := iamat(t, "Alford", a["Alford"], "étudiant-😂")
	for _, name := range []string{"Welsh", "Ball", "Holiday"} {
		waitHeld(t, name, a[name], "étudiant-😂", line2)
	}
	for _, name := range []string{"Alford", "Ball", "Holiday", "Welsh"} {
		p := h.procs[name]
		if !p.running() {
			t.Fatalf("%s exited (code %d) after Hamilton died\n%s", name, p.exitCode(), p.describe())
		}
		waitHeld(t, name, a[name], "kiwi.cs.ucla.edu", line1)
	}
	if got, err := exchange(a["Ball"], "iamat x +0.0+0.0 1"); err != nil || got != "? iamat x +0.0+0.0 1" {
		t.Errorf("Ball answered an invalid line with %q, %v", got, err)
	}

	// Hamilton comes back empty; reconciliation on link up brings it both
	// clients without any new report.
	h.restartNode(t, "Hamilton")
	waitHeld(t, "Hamilton", a["Hamilton"], "kiwi.cs.ucla.edu", line1)
	waitHeld(t, "Hamilton", a["Hamilton"], "étudiant-😂", line2)

	// Every node logged, as JSON lines, its links coming up.
	for _, name := range ringNames {
		waitLogMsg(t, h.logDir, name, "link up")
	}

	// SIGTERM stops every node gracefully.
	for _, name := range ringNames {
		if err := h.procs[name].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM %s: %v", name, err)
		}
	}
	for _, name := range ringNames {
		p := h.procs[name]
		if !p.wait(waitLimit) {
			t.Fatalf("%s still running %v after SIGTERM\n%s", name, waitLimit, p.describe())
		}
		if p.exitCode() != 0 {
			t.Errorf("%s exited with %d after SIGTERM, want 0\n%s", name, p.exitCode(), p.describe())
		}
		if out := p.stdout.String(); !strings.Contains(out, "shutting down") {
			t.Errorf("%s did not print \"shutting down\":\n%s", name, p.describe())
		}
	}
}
