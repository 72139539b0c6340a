// Package testclient is the line-protocol client that tests of every
// server (the gnet engine, the goroutine baseline, the echo server) use to
// talk to a node on loopback, with bounded waits.
package testclient

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// Client is one test connection. Every call fails the test on error; reads
// and writes give up after 20 seconds.
type Client struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// Dial connects to addr and closes the connection when the test ends. Every
// read and write must finish within a minute of the dial (a bound against
// hangs, generous for a loaded 2-core CI machine running -race).
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return &Client{T: t, Conn: c, R: bufio.NewReader(c)}
}

// Send writes s as is.
func (c *Client) Send(s string) {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatal(err)
	}
}

// Line reads one line, with its "\n".
func (c *Client) Line() string {
	c.T.Helper()
	l, err := c.R.ReadString('\n')
	if err != nil {
		c.T.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

// Ask sends one line and returns the one-line reply.
func (c *Client) Ask(s string) string {
	c.T.Helper()
	c.Send(s + "\n")
	return c.Line()
}

// Eventually polls cond every few milliseconds until it holds, failing the
// test after 10 seconds.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// StopAtCleanup stops a server when the test ends, failing the test if the
// stop errors or takes more than 10 seconds.
func StopAtCleanup(t testing.TB, stop func(context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}
