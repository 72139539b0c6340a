package echo_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/bench/echo"
	"github.com/herdnet/herd/internal/testclient"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool lives for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

type server interface {
	Addr() string
	Stop(context.Context) error
}

// both runs test against the gnet echo server and the goroutine one.
func both(t *testing.T, test func(t *testing.T, s server)) {
	starts := map[string]func(string) (server, error){
		"gnet":      func(a string) (server, error) { return echo.Start(a) },
		"goroutine": func(a string) (server, error) { return echo.StartGoroutine(a) },
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			s, err := start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			testclient.StopAtCleanup(t, s.Stop)
			test(t, s)
		})
	}
}

func TestPipelinedLines(t *testing.T) {
	both(t, func(t *testing.T, s server) {
		c := testclient.Dial(t, s.Addr()).Conn
		var b strings.Builder
		for i := range 10000 {
			fmt.Fprintf(&b, "IAMAT client%d +1.0+2.0 %d.5\n", i, 1000+i)
		}
		want := b.String()
		go func() { _, _ = io.WriteString(c, want) }()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatal("echoed bytes differ from the lines sent")
		}
	})
}

func TestPartialLineWaits(t *testing.T) {
	both(t, func(t *testing.T, s server) {
		c := testclient.Dial(t, s.Addr()).Conn
		r := bufio.NewReader(c)
		// The half line must not come back until its newline arrives.
		if _, err := io.WriteString(c, "one\ntw"); err != nil {
			t.Fatal(err)
		}
		if l, err := r.ReadString('\n'); err != nil || l != "one\n" {
			t.Fatalf("got %q, %v", l, err)
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := io.WriteString(c, "o\r\nthree\n"); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"two\r\n", "three\n"} {
			if l, err := r.ReadString('\n'); err != nil || l != want {
				t.Fatalf("got %q, %v; want %q", l, err, want)
			}
		}
	})
}

// A line longer than MaxPending closes the connection: no buffer grows
// without bound.
func TestOverlongLineCloses(t *testing.T) {
	both(t, func(t *testing.T, s server) {
		c := testclient.Dial(t, s.Addr()).Conn
		go func() { _, _ = c.Write(bytes.Repeat([]byte("x"), echo.MaxPending+4096)) }()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 16)); err == nil {
			t.Fatalf("read %d bytes, want the connection closed", n)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("connection still open after an over-long line")
		}
	})
}
