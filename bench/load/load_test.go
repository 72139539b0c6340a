package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// feedAll feeds lines to e and returns whether the last one completed the
// reply and the first error.
func feedAll(e *expect, lines ...string) (done bool, err error) {
	for i, l := range lines {
		d, ferr := e.feed([]byte(l))
		if ferr != nil && err == nil {
			err = ferr
		}
		if d && i != len(lines)-1 {
			return false, errors.New("reply ended early")
		}
		done = d
	}
	return done, err
}

func TestCheckReplies(t *testing.T) {
	const iamat = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450\n"
	tests := []struct {
		name    string
		kind    reqKind
		req     string
		reply   []string
		wantErr bool
	}{
		{"at good", reqIAMAT, iamat, []string{"AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, false},
		{"at odd spacing and negative skew", reqIAMAT, iamat, []string{"AT  Ball\t-12.000000001 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450 "}, false},
		{"at wrong client", reqIAMAT, iamat, []string{"AT Alford +0.263873386 kiwi.cs.ucla.eduX +34.068930-118.445127 1479413884.392014450"}, true},
		{"at wrong location", reqIAMAT, iamat, []string{"AT Alford +0.263873386 kiwi.cs.ucla.edu +34.06893-118.445127 1479413884.392014450"}, true},
		{"at wrong time", reqIAMAT, iamat, []string{"AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.39201445"}, true},
		{"at unparseable", reqIAMAT, iamat, []string{"AT Alford 0.26 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, true},
		{"at skew not a number", reqIAMAT, iamat, []string{"AT Alford +0.2x3873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, true},
		{"at no server name", reqIAMAT, iamat, []string{"AT +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, true},
		{"at extra field", reqIAMAT, iamat, []string{"AT Alford x +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, true},
		{"at glued to the client id", reqIAMAT, iamat, []string{"AT Alford +0.263873386xkiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"}, true},
		{"at answered with ?", reqIAMAT, iamat, []string{"? " + strings.TrimSuffix(iamat, "\n")}, true},
		{"invalid good", reqInvalid, "HELLO c1-2 3\n", []string{"? HELLO c1-2 3"}, false},
		{"invalid keeps leading space", reqInvalid, "  LLL\n", []string{"?   LLL"}, false},
		{"invalid without space", reqInvalid, "LLL\n", []string{"?LLL"}, true},
		{"invalid other line", reqInvalid, "LLL\n", []string{"? LLM"}, true},
		{"invalid answered with AT", reqInvalid, "LLL\n", []string{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1.0"}, true},
		{"whatsat good", reqWHATSAT, "WHATSAT kiwi 10 5\n", []string{
			"AT Alford +0.263873386 kiwi +34.068930-118.445127 1.0", "{", `   "results" : [],`, `   "status" : "OK"`, "}", ""}, false},
		{"whatsat other client", reqWHATSAT, "WHATSAT kiwi 10 5\n", []string{"AT Alford +0.263873386 kiwo +34.068930-118.445127 1.0"}, true},
		{"whatsat answered with ?", reqWHATSAT, "WHATSAT kiwi 10 5\n", []string{"? WHATSAT kiwi 10 5"}, true},
		{"echo good", reqEcho, iamat, []string{strings.TrimSuffix(iamat, "\n")}, false},
		{"echo differs", reqEcho, iamat, []string{strings.TrimSuffix(iamat, "0\n")}, true},
		{"redis 1", reqRedis, "GEOADD herd 1.0 2.0 m\r\n", []string{":1"}, false},
		{"redis 0", reqRedis, "GEOADD herd 1.0 2.0 m\r\n", []string{":0"}, false},
		{"redis error", reqRedis, "GEOADD herd 1.0 2.0 m\r\n", []string{"-ERR invalid longitude,latitude pair"}, true},
		{"redis 2", reqRedis, "GEOADD herd 1.0 2.0 m\r\n", []string{":2"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			var e expect
			e.set(tt.kind, []byte(tt.req))
			done, err := feedAll(&e, tt.reply...)
			if !done {
				t.Fatalf("reply not complete after %q (err %v)", tt.reply, err)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			var re *ReplyError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("error %v is not a *ReplyError", err)
			}
		})
	}
}

func TestWhatsatFraming(t *testing.T) {
	var e expect
	e.set(reqWHATSAT, []byte("WHATSAT kiwi 10 5\n"))
	lines := []string{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1.0", "{", "   \"results\" : [", "   ],", "}"}
	for _, l := range lines {
		if done, err := e.feed([]byte(l)); done || err != nil {
			t.Fatalf("feed(%q) = %v, %v; want more lines", l, done, err)
		}
	}
	if done, err := e.feed(nil); !done || err != nil {
		t.Fatalf("empty line: %v, %v; want the reply complete", done, err)
	}
	// The checker is reusable for the next request.
	e.set(reqIAMAT, []byte("IAMAT kiwi +1.0+2.0 3\n"))
	if done, err := e.feed([]byte("AT A +0.000000000 kiwi +1.0+2.0 3")); !done || err != nil {
		t.Fatalf("next request: %v, %v", done, err)
	}
}

func TestGeneratedRequests(t *testing.T) {
	opt := DefaultOptions()
	opt.WhatsatFrac, opt.InvalidFrac = 0.3, 0.3
	g := newGen(&opt, 7, time.Now().UnixNano())
	counts := map[reqKind]int{}
	var cmd codec.Command
	lastTime := map[string]codec.Stamp{}
	for i := 0; i < 3000; i++ {
		req, kind := g.next(nil)
		counts[kind]++
		line, n, err := codec.NextLine(req, codec.DefaultMaxLine)
		if err != nil || n != len(req) {
			t.Fatalf("request %q is not one line", req)
		}
		perr := codec.Parse(line, &cmd)
		switch kind {
		case reqIAMAT:
			if perr != nil || cmd.Kind != codec.KindIAMAT {
				t.Fatalf("IAMAT %q: %v", line, perr)
			}
			id := string(cmd.ClientID)
			if prev, ok := lastTime[id]; ok && cmd.Stamp.Compare(prev) <= 0 {
				t.Fatalf("client %s time did not increase: %q", id, line)
			}
			lastTime[id] = cmd.Stamp
		case reqWHATSAT:
			if perr != nil || cmd.Kind != codec.KindWHATSAT {
				t.Fatalf("WHATSAT %q: %v", line, perr)
			}
			if _, ok := lastTime[string(cmd.ClientID)]; !ok {
				t.Fatalf("WHATSAT %q for a client never reported", line)
			}
		case reqInvalid:
			if perr == nil {
				t.Fatalf("invalid line %q parses", line)
			}
		}
	}
	if counts[reqIAMAT] == 0 || counts[reqWHATSAT] == 0 || counts[reqInvalid] == 0 {
		t.Fatalf("mix = %v", counts)
	}
	if len(lastTime) < DefaultIDsPerConn/2 || len(lastTime) > DefaultIDsPerConn {
		t.Fatalf("%d distinct clients, want most of %d", len(lastTime), DefaultIDsPerConn)
	}

	opt.Mix, opt.WhatsatFrac, opt.InvalidFrac = MixRedis, 0, 0
	g = newGen(&opt, 3, 0)
	req, kind := g.next(nil)
	f := strings.Fields(string(req))
	if kind != reqRedis || !strings.HasSuffix(string(req), "\r\n") || len(f) != 5 || f[0] != "GEOADD" || f[1] != "herd" || f[4] != "c3-0" {
		t.Fatalf("redis request %q", req)
	}
}

// In open-loop mode a server stall is charged to every request scheduled
// during it, so p99 shows it (latency is from the intended send time).
func TestOpenLoopStallShowsInP99(t *testing.T) {
	var n atomic.Int64
	addr := fakeHerd(t, func(line []byte, w *bufio.Writer) {
		if n.Add(1) == 100 {
			time.Sleep(300 * time.Millisecond)
		}
		goodReply(line, w)
	})
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline, opt.Rate = 1, 1000, 1000
	opt.Duration = 800 * time.Millisecond
	res := mustRun(t, opt)
	if res.Errors != 0 {
		t.Fatalf("errors: %v", res.ErrorExamples)
	}
	// About 300 of ~800 requests were due during the stall; the stall is a
	// lower bound on their latency whatever the machine's speed.
	if res.SendLag == nil {
		t.Fatal("no send lag in open loop")
	}
	if p99 := res.Latency.P99; p99 < 100e3 {
		t.Fatalf("p99 = %.0f µs, want the 300 ms stall to show (result %+v)", p99, res)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "0.0.0.0:80", "[::1]:80", "example.com:80", "128.0.0.1:80", ":80"} {
		opt := testOptions(addr)
		if _, err := Run(context.Background(), opt); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Run(%q) err = %v, want ErrNotLoopback", addr, err)
		}
		if _, err := HoldIdle(context.Background(), addr, 1); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("HoldIdle(%q) err = %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:1", "127.1.2.3:80", "localhost:80"} {
		if _, err := loopbackAddr(addr); err != nil {
			t.Errorf("loopbackAddr(%q) = %v", addr, err)
		}
	}
	if _, err := loopbackAddr("127.0.0.1"); err == nil {
		t.Errorf("address without port accepted")
	}
}

func TestProcStatsSelf(t *testing.T) {
	// Burn a little CPU so the count is likely above zero; it is not asserted.
	x := 0
	for i := 0; i < 1e7; i++ {
		x += i
	}
	_ = x
	cpu, rss, err := ProcStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 || rss <= 0 {
		t.Fatalf("cpu %v s, rss %d bytes", cpu, rss)
	}
	if _, _, err := ProcStats(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestRunGoodServer(t *testing.T) {
	addr := fakeHerd(t, goodReply)
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline = 4, 8
	opt.WhatsatFrac, opt.InvalidFrac = 0.1, 0.1
	opt.PID = os.Getpid()
	var calls atomic.Int64
	opt.Progress = func(Progress) { calls.Add(1) }
	opt.ProgressInterval = 50 * time.Millisecond
	res := mustRun(t, opt)
	if res.Errors != 0 || res.Requests == 0 || res.WarmupRequests == 0 {
		t.Fatalf("result %+v", res)
	}
	if res.ServerRSSBytes <= 0 || res.ClockTicks != ClockTicks || res.ServerCPUSec < 0 {
		t.Fatalf("server cost %+v", res)
	}
	if res.RequestsPerSec <= 0 || res.Latency.Max < res.Latency.P50 {
		t.Fatalf("stats %+v", res)
	}
	if res.SendLag != nil {
		t.Fatal("send lag reported in closed loop")
	}
	if calls.Load() == 0 {
		t.Fatal("progress never called")
	}
}

func TestRunRequestCount(t *testing.T) {
	addr := fakeHerd(t, goodReply)
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline, opt.Requests = 3, 4, 1000
	res := mustRun(t, opt)
	if res.Requests != 1000 || res.Errors != 0 {
		t.Fatalf("requests %d errors %d, want 1000 and 0", res.Requests, res.Errors)
	}
	// Open loop honours the count too.
	opt.Rate, opt.Requests = 2000, 200
	res = mustRun(t, opt)
	if res.Requests != 200 || res.Errors != 0 || res.Mode != "open" {
		t.Fatalf("open: %+v", res)
	}
}

func TestRunWrongServer(t *testing.T) {
	addr := fakeHerd(t, func(line []byte, w *bufio.Writer) {
		var cmd codec.Command
		if codec.Parse(line, &cmd) == nil && cmd.Kind == codec.KindIAMAT {
			cmd.ClientID = append(cmd.ClientID, 'X')
			w.Write(codec.AppendAT(nil, "Fake", cmd.Stamp, &cmd))
			w.WriteByte('\n')
			return
		}
		goodReply(line, w)
	})
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline = 2, 4
	res := mustRun(t, opt)
	if res.WrongReplies == 0 || res.WrongReplies != res.Errors {
		t.Fatalf("wrong %d errors %d", res.WrongReplies, res.Errors)
	}
	if len(res.ErrorExamples) == 0 || len(res.ErrorExamples) > maxExamples || !strings.Contains(res.ErrorExamples[0], "another client id") {
		t.Fatalf("examples %q", res.ErrorExamples)
	}
}

func TestRunServerHangsUp(t *testing.T) {
	var n atomic.Int64
	addr := fakeHerdConn(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		w := bufio.NewWriter(c)
		for i := 0; ; i++ {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if i == 10 && n.Add(1) == 1 {
				w.Flush()
				return // the first connection to get here hangs up with requests outstanding
			}
			goodReply(bytes.TrimRight(line, "\r\n"), w)
			if br.Buffered() == 0 {
				w.Flush()
			}
		}
	})
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline = 2, 4
	res := mustRun(t, opt)
	if res.MissingReplies == 0 || res.WrongReplies != 0 {
		t.Fatalf("missing %d wrong %d: %q", res.MissingReplies, res.WrongReplies, res.ErrorExamples)
	}
	if res.Requests == 0 {
		t.Fatal("the other connection got nothing done")
	}
}

func TestRunSilentServerTimesOut(t *testing.T) {
	addr := fakeHerdConn(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	opt := testOptions(addr)
	opt.Conns, opt.Duration, opt.Warmup = 1, 100*time.Millisecond, 0
	opt.ReplyTimeout = 200 * time.Millisecond
	res := mustRun(t, opt)
	if res.MissingReplies != 1 || !strings.Contains(res.ErrorExamples[0], "no reply within") {
		t.Fatalf("missing %d: %q", res.MissingReplies, res.ErrorExamples)
	}
}

func TestRunEchoAndRedis(t *testing.T) {
	echo := fakeHerdConn(t, func(c net.Conn) { io.Copy(c, c) })
	opt := testOptions(echo)
	opt.Mix, opt.Pipeline = MixEcho, 16
	if res := mustRun(t, opt); res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("echo: %+v", res)
	}
	// Against an echo server the herd mix sees IAMAT lines come back: errors.
	opt.Mix = MixHerd
	if res := mustRun(t, opt); res.WrongReplies == 0 {
		t.Fatalf("herd mix against echo: %+v", res)
	}

	redis := fakeHerd(t, func(line []byte, w *bufio.Writer) {
		f := bytes.Fields(line)
		if len(f) == 5 && string(f[0]) == "GEOADD" {
			w.WriteString(":1\r\n")
		} else {
			w.WriteString("-ERR wrong\r\n")
		}
	})
	opt = testOptions(redis)
	opt.Mix, opt.Pipeline = MixRedis, 16
	if res := mustRun(t, opt); res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("redis: %+v", res)
	}
}

func TestHoldIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 20)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	closeFn, err := HoldIdle(context.Background(), ln.Addr().String(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var server []net.Conn
	for range 10 {
		server = append(server, <-accepted)
	}
	closeFn()
	closeFn() // idempotent
	for _, c := range server {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("server side read %v, want EOF after closeFn", err)
		}
		c.Close()
	}
}

func TestMainFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"-nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	errb.Reset()
	if code := Main([]string{"-addr", "192.168.1.1:12720"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "127.0.0.0/8") {
		t.Errorf("non-loopback: exit %d, stderr %q", code, errb.String())
	}
	if code := Main([]string{"-mix", "http"}, &out, &errb); code != 2 {
		t.Errorf("bad mix: exit %d", code)
	}
	if code := Main([]string{"-conns", "20001"}, &out, &errb); code != 2 {
		t.Errorf("too many conns: exit %d", code)
	}

	addr := fakeHerd(t, goodReply)
	out.Reset()
	errb.Reset()
	code := Main([]string{"-addr", addr, "-conns", "2", "-requests", "300", "-warmup", "0", "-json", "-pid", "0"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Requests != 300 {
		t.Fatalf("json %q: %v", out.String(), err)
	}
	if errb.Len() != 0 {
		t.Fatalf("stderr not a terminal but got %q", errb.String())
	}
	out.Reset()
	code = Main([]string{"-addr", addr, "-conns", "2", "-requests", "100", "-warmup", "0", "-pid", strconv.Itoa(os.Getpid())}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "throughput") || !strings.Contains(out.String(), "server cpu") {
		t.Fatalf("table exit %d: %s%s", code, out.String(), errb.String())
	}

	bad := fakeHerdConn(t, func(c net.Conn) { io.Copy(c, c) })
	out.Reset()
	if code := Main([]string{"-addr", bad, "-conns", "1", "-requests", "10", "-warmup", "0"}, &out, &errb); code != 1 {
		t.Fatalf("errors in run: exit %d\n%s", code, out.String())
	}
}

// --- helpers ---

func testOptions(addr string) Options {
	opt := DefaultOptions()
	opt.Addr = addr
	opt.Conns = 2
	opt.Duration = 300 * time.Millisecond
	opt.Warmup = 100 * time.Millisecond
	opt.ReplyTimeout = 5 * time.Second
	return opt
}

func mustRun(t *testing.T, opt Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Run(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// goodReply answers one herd line as a node would (AT for IAMAT, the AT
// line and a small JSON body for WHATSAT, "? line" otherwise).
func goodReply(line []byte, w *bufio.Writer) {
	var cmd codec.Command
	err := codec.Parse(line, &cmd)
	switch {
	case err == nil && cmd.Kind == codec.KindIAMAT:
		recv := codec.Stamp{Sec: time.Now().Unix()}
		w.Write(codec.AppendAT(nil, "Fake", recv, &cmd))
		w.WriteByte('\n')
	case err == nil && cmd.Kind == codec.KindWHATSAT:
		at := codec.Command{ClientID: cmd.ClientID, Location: []byte("+1.0+2.0"), Time: []byte("1.5"), Stamp: codec.Stamp{Sec: 1}}
		w.Write(codec.AppendAT(nil, "Fake", codec.Stamp{Sec: 2}, &at))
		w.WriteString("\n{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n")
	default:
		w.Write(codec.AppendInvalid(nil, line))
	}
}

// fakeHerd serves reply on 127.0.0.1:0, one goroutine per connection,
// flushing when it has no more input buffered.
func fakeHerd(t *testing.T, reply func(line []byte, w *bufio.Writer)) string {
	return fakeHerdConn(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		w := bufio.NewWriter(c)
		for {
			b, err := br.ReadSlice('\n')
			if err != nil {
				w.Flush()
				return
			}
			line, _, _ := codec.NextLine(b, len(b))
			reply(line, w)
			if br.Buffered() == 0 {
				if w.Flush() != nil {
					return
				}
			}
		}
	})
}

func fakeHerdConn(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	opt := DefaultOptions()
	bar, update := progressBar(&buf, opt)
	update(Progress{Elapsed: 500 * time.Millisecond, Warmup: true, PerSecond: 1234, Errors: 2})
	update(Progress{Elapsed: 20 * time.Second, PerSecond: 5678})
	if bar.IsFinished() {
		t.Fatal("bar finished before the run did")
	}
	out := buf.String()
	if !strings.Contains(out, "warmup") || !strings.Contains(out, "5678 req/s") || !strings.Contains(out, "measuring") {
		t.Fatalf("bar output %q", out)
	}
	opt.Requests = 1000
	buf.Reset()
	_, update = progressBar(&buf, opt)
	update(Progress{Elapsed: time.Second, Measured: 500})
	if !strings.Contains(buf.String(), "500/1000") {
		t.Fatalf("count bar output %q", buf.String())
	}
	if l := progressLine(Progress{Elapsed: time.Second, Measured: 500}, opt); !strings.Contains(l, "500/1000 replies") {
		t.Fatalf("progress line %q", l)
	}
}

// The hot workload: one client per connection, its times always growing.
func TestGenHot(t *testing.T) {
	opt := DefaultOptions()
	opt.IDsPerConn = 1
	g := newGen(&opt, 4, 0)
	var cmd codec.Command
	var last codec.Stamp
	for i := range 100 {
		line, kind := g.next(nil)
		if kind != reqIAMAT {
			t.Fatalf("request %d is %v", i, kind)
		}
		if err := codec.Parse(line[:len(line)-1], &cmd); err != nil {
			t.Fatal(err)
		}
		if string(cmd.ClientID) != "c4-0" {
			t.Fatalf("client %q, want c4-0", cmd.ClientID)
		}
		if i > 0 && cmd.Stamp.Compare(last) <= 0 {
			t.Fatalf("time %+v not after %+v", cmd.Stamp, last)
		}
		last = cmd.Stamp
	}
}

// BenchmarkGenNext is the generator's cost per IAMAT it writes (the reader
// makes the same request again to check its reply).
func BenchmarkGenNext(b *testing.B) {
	opt := Options{Mix: MixHerd, ClientPrefix: "c", IDsPerConn: DefaultIDsPerConn}
	g := newGen(&opt, 7, time.Now().UnixNano())
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = g.next(buf[:0])
	}
}

// The generator's number writers agree with fmt for edge and random values.
func TestAppendNumbers(t *testing.T) {
	vals := []int64{0, 1, 9, 10, 99, 100, 999_999, 1_000_000, 85_000_000, -85_000_000, -1, 123_456_789, 180_000_000}
	for i := range 1000 {
		vals = append(vals, int64(mix64(uint64(i))%400_000_001)-200_000_000)
	}
	for _, v := range vals {
		want := fmt.Sprintf("%+d.%06d", v/1e6, abs(v)%1e6)
		if v < 0 && v/1e6 == 0 {
			want = fmt.Sprintf("-0.%06d", -v%1e6)
		}
		if v < 0 {
			want = "-" + strings.TrimLeft(want, "+-")
		}
		if got := string(appendMicroDeg(nil, v, true)); got != want {
			t.Errorf("appendMicroDeg(%d) = %q, want %q", v, got, want)
		}
		ns := abs(v) * 7919
		if got, want := string(appendStamp(nil, ns)), fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9); got != want {
			t.Errorf("appendStamp(%d) = %q, want %q", ns, got, want)
		}
		for d := 1; d <= 9; d++ {
			m := int64(1)
			for range d {
				m *= 10
			}
			if got, want := string(appendFrac(nil, abs(v)%m, d)), fmt.Sprintf("%0*d", d, abs(v)%m); got != want {
				t.Errorf("appendFrac(%d, %d) = %q, want %q", abs(v)%m, d, got, want)
			}
		}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
