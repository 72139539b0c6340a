package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startPair starts Alford and Ball (neighbours) as processes, with extra
// config appended to the config file, and returns their addresses. Each
// process is started through sh, so that wrap (e.g. "ulimit -n 256") can
// set up its environment first.
func startPair(t *testing.T, extra, wrap string) (map[string]*proc, map[string]string, string) {
	t.Helper()
	bin := herdBinary(t)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		ports := freePorts(t, 2)
		addrs := map[string]string{"Alford": fmt.Sprintf("127.0.0.1:%d", ports[0]), "Ball": fmt.Sprintf("127.0.0.1:%d", ports[1])}
		cfg := fmt.Sprintf("nodes:\n  - name: Alford\n    listen: %s\n    neighbors: [Ball]\n  - name: Ball\n    listen: %s\n"+
			"peers: {backoff_min: 20ms, backoff_max: 300ms}\n%s", addrs["Alford"], addrs["Ball"], extra)
		path := filepath.Join(dir, "herd.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		logDir := filepath.Join(dir, "logs")
		procs := map[string]*proc{}
		var err error
		for _, name := range []string{"Alford", "Ball"} {
			script := fmt.Sprintf("%s exec %q serve %s --config %q --log-dir %q --log-level info", wrap, bin, name, path, logDir)
			procs[name] = startProc(t, name, "/bin/sh", "-c", script)
			if err = waitNode(procs[name], name, addrs[name]); err != nil {
				break
			}
		}
		if err == nil {
			return procs, addrs, logDir
		}
		for _, p := range procs {
			p.kill(t)
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// TestMultiProcessSIGTERMUnderLoad: clients pipeline IAMATs to Alford when
// it gets SIGTERM. Every client gets a reply to every line Alford answered,
// in order, none torn, then a clean EOF (no reset); Alford exits 0; and
// every update Alford stored and flooded to Ball had its reply delivered
// (Ball never holds a newer line for a client than the last reply it got).
func TestMultiProcessSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	procs, addrs, logDir := startPair(t, "", "")
	defer func() {
		if t.Failed() { // what the node says it closed, and why
			b, _ := os.ReadFile(filepath.Join(logDir, "Alford.log"))
			t.Logf("Alford.log:\n%s\n%s", b, procs["Alford"].describe())
		}
	}()
	const clients = 30
	type result struct {
		replies int
		err     error
	}
	results := make([]result, clients)
	var wg, first sync.WaitGroup
	for i := range clients {
		c, err := net.DialTimeout("tcp", addrs["Alford"], 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first.Add(1)
		wg.Go(func() {
			once := sync.OnceFunc(first.Done)
			defer once()
			_ = c.SetDeadline(time.Now().Add(waitLimit))
			id := fmt.Sprintf("load%d", i)
			go func() {
				var b []byte
				for k := 1; ; k++ {
					b = fmt.Appendf(b[:0], "IAMAT %s +1.0+1.0 %d\n", id, k)
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}()
			r := bufio.NewReader(c)
			res := &results[i]
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					if err != io.EOF {
						res.err = fmt.Errorf("after %d replies: %w", res.replies, err)
					} else if l != "" {
						res.err = fmt.Errorf("torn last line %q after %d replies", l, res.replies)
					}
					return
				}
				want := fmt.Sprintf(" %s +1.0+1.0 %d\n", id, res.replies+1)
				if !strings.HasPrefix(l, "AT Alford ") || !strings.HasSuffix(l, want) {
					res.err = fmt.Errorf("reply %d is %q, want ...%q", res.replies+1, l, want)
					return
				}
				res.replies++
				once()
			}
		})
	}
	first.Wait()
	time.Sleep(300 * time.Millisecond)
	a := procs["Alford"]
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !a.wait(waitLimit) {
		t.Fatalf("Alford still running after SIGTERM\n%s", a.describe())
	}
	if a.exitCode() != 0 {
		t.Errorf("Alford exited with %d\n%s", a.exitCode(), a.describe())
	}
	total, lost := 0, 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("client %d: %v", i, r.err)
		}
		total += r.replies
		// What Ball holds for this client: Alford stored and flooded it.
		held, err := heldLine(addrs["Ball"], fmt.Sprintf("load%d", i))
		if err != nil {
			t.Fatal(err)
		}
		var k int
		if f := strings.Fields(held); len(f) == 6 && f[1] == "Alford" {
			fmt.Sscan(f[5], &k)
		}
		if k > r.replies {
			lost += k - r.replies
			t.Errorf("client %d: Ball holds update %d, but the client got only %d replies", i, k, r.replies)
		}
	}
	t.Logf("%d replies delivered to %d pipelining clients across SIGTERM, %d lost", total, clients, lost)
}

// TestMultiProcessFDLimit: a node whose open-file limit is 256 (max_conns
// set far above it is lowered to fit) is hit by 600 connections. It keeps
// its listener: a probe client keeps getting replies, excess connections
// are closed at once, and once they leave new clients are served. (Before
// the cap, accept failed with EMFILE and gnet shut the listener for good.)
func TestMultiProcessFDLimit(t *testing.T) {
	t.Parallel()
	procs, addrs, logDir := startPair(t, "limits: {max_conns: 100000}\n", "ulimit -n 256 &&")
	a := procs["Alford"]
	out := waitOutput(t, a, "open-file limit")
	if !strings.Contains(out, "open-file limit 256") {
		t.Fatalf("the node does not report its fd limit:\n%s", out)
	}
	probe, err := net.DialTimeout("tcp", addrs["Alford"], 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	pr := bufio.NewReader(probe)
	ask := func(k int) {
		t.Helper()
		_ = probe.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(probe, "IAMAT probe +1.0+1.0 %d\n", k)
		if l, err := pr.ReadString('\n'); err != nil || !strings.HasSuffix(l, fmt.Sprintf(" probe +1.0+1.0 %d\n", k)) {
			t.Fatalf("probe %d: %q, %v\n%s", k, l, err, a.describe())
		}
	}
	ask(1)
	var (
		mu      sync.Mutex
		conns   []net.Conn
		held    int
		refused int
	)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for range 600 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addrs["Alford"], 5*time.Second)
			if err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte("IAMAT x +1.0+1.0 1\n"))
			l, err := bufio.NewReader(c).ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			conns = append(conns, c)
			if err == nil && strings.HasPrefix(l, "AT Alford ") {
				held++
			} else {
				refused++
			}
		})
	}
	wg.Wait()
	ask(2)
	if !a.running() {
		t.Fatalf("Alford died\n%s", a.describe())
	}
	t.Logf("held %d connections, refused %d, with an fd limit of 256", held, refused)
	if held < 100 || refused == 0 {
		t.Errorf("held %d, refused %d: want the cap (lowered to fit 256 fds) to hold some and refuse the rest", held, refused)
	}
	for _, c := range conns {
		c.Close()
	}
	// The listener survived: new clients are served once the others left.
	deadline := time.Now().Add(waitLimit)
	for {
		got, err := exchange(addrs["Alford"], "IAMAT fresh +1.0+1.0 1")
		if err == nil && strings.HasPrefix(got, "AT Alford ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fresh client served after the flood: %q, %v\n%s", got, err, a.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ask(3)
	waitLogMsg(t, logDir, "Alford", "limits.max_conns lowered to stay under the fd limit")
}

// TestMultiProcessLogRotation: at debug level (every line logged), a node's
// log file is rotated at --log-max-size and only --log-max-backups old
// files are kept, so logs never fill the disk.
func TestMultiProcessLogRotation(t *testing.T) {
	t.Parallel()
	bin := herdBinary(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	port := freePorts(t, 1)[0]
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "herd.yaml")
	if err := os.WriteFile(cfg, []byte("nodes:\n  - name: Alford\n    listen: "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "Alford", bin, "serve", "Alford", "--config", cfg, "--log-dir", logDir, "--log-level", "debug",
		"--log-max-size", "1", "--log-max-backups", "2")
	if err := waitNode(p, "Alford", addr); err != nil {
		t.Fatal(err)
	}
	// About 4 MB of debug log: 10,000 IAMATs, each logged received and sent.
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	r := bufio.NewReader(c)
	for round := range 20 {
		var b strings.Builder
		for k := range 500 {
			fmt.Fprintf(&b, "IAMAT rotating-client-with-a-long-name-%d +34.068930-118.445127 %d.%09d\n", k, 1_700_000_000+round, k)
		}
		if _, err := io.WriteString(c, b.String()); err != nil {
			t.Fatal(err)
		}
		for range 500 {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // let the log writer keep up (it drops rather than block)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		files, _ := filepath.Glob(filepath.Join(logDir, "Alford*.log"))
		var total int64
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				total += st.Size()
				if st.Size() > 1<<20+4096 {
					t.Fatalf("%s is %d bytes, over --log-max-size", f, st.Size())
				}
			}
		}
		if len(files) == 3 { // the live file and two backups
			t.Logf("%d files, %d bytes in all", len(files), total)
			break
		}
		if time.Now().After(deadline) { // old backups are removed in the background
			t.Fatalf("log files %v (%d bytes): want the live one and 2 backups", files, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMultiProcessReactorDeathExits: when a node's event loops stop on their
// own (here its listening socket is shut down under it, from outside, so
// gnet's accept fails as it does at EMFILE), the process does not idle on
// without a listener: it says why and exits 1, for a supervisor to restart
// it.
func TestMultiProcessReactorDeathExits(t *testing.T) {
	t.Parallel()
	procs, addrs, _ := startPair(t, "", "")
	a := procs["Alford"]
	// The serve process is sh's exec: its pid is the node's.
	pidfd, err := unix.PidfdOpen(a.cmd.Process.Pid, 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	_, port, _ := net.SplitHostPort(addrs["Alford"])
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", a.cmd.Process.Pid))
	if err != nil {
		t.Skipf("reading the node's descriptors: %v", err)
	}
	found := false
	for _, e := range ents {
		target, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, target, 0)
		if err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
				t.Skipf("pidfd_getfd: %v", err)
			}
			continue
		}
		listening, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		sa, _ := unix.Getsockname(fd)
		if in4, ok := sa.(*unix.SockaddrInet4); ok && listening == 1 && strconv.Itoa(in4.Port) == port {
			found = unix.Shutdown(fd, unix.SHUT_RD) == nil
		}
		unix.Close(fd)
		if found {
			break
		}
	}
	if !found {
		t.Skip("the node's listening socket was not found")
	}
	if !a.wait(waitLimit) {
		t.Fatalf("Alford still running after its reactor stopped\n%s", a.describe())
	}
	if code := a.exitCode(); code != 1 || !strings.Contains(a.stderr.String(), "reactor stopped") {
		t.Fatalf("exit code %d, want 1 and the reason on stderr\n%s", code, a.describe())
	}
}
