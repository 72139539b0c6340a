package engine

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"
)

// gnetProbe is a gnet handler that writes want to each client that
// connects, then reports what outboundOf finds in gnet's buffer.
type gnetProbe struct {
	gnet.BuiltinEventEngine
	eng   gnet.Engine
	addr  chan string
	want  []byte
	found chan []byte
}

func (p *gnetProbe) OnBoot(eng gnet.Engine) gnet.Action {
	p.eng = eng
	fd, _ := eng.Dup()
	sa, _ := unix.Getsockname(fd)
	unix.Close(fd)
	p.addr <- sockaddrString(sa, "")
	return gnet.None
}

func (p *gnetProbe) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	_, _ = c.Write(p.want) // a client that does not read: gnet buffers most
	ob := outboundOf(c)
	if ob == nil || ob.Buffered() != c.OutboundBuffered() || ob.Buffered() == 0 {
		p.found <- nil
		return nil, gnet.None
	}
	bs, _ := ob.Peek(-1)
	p.found <- bytes.Join(bs, nil)
	return nil, gnet.None
}

// TestGnetOutbound: outboundOf reads gnet's own outbound buffer (the field
// of the gnet version in go.mod): what it holds is exactly the unsent tail
// of what was written. It fails if gnet moves or retypes the field.
func TestGnetOutbound(t *testing.T) {
	p := &gnetProbe{addr: make(chan string, 1), found: make(chan []byte, 1), want: bytes.Repeat([]byte("0123456789abcde\n"), 1<<19)}
	ran := make(chan error, 1)
	go func() {
		ran <- gnet.Run(p, "tcp://127.0.0.1:0", gnet.WithNumEventLoop(1), gnet.WithLogLevel(logging.ErrorLevel))
	}()
	var addr string
	select {
	case addr = <-p.addr:
	case err := <-ran:
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []byte
	select {
	case got = <-p.found:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
	if got == nil || !bytes.HasSuffix(p.want, got) {
		t.Fatalf("outboundOf found %d bytes, not the unsent tail of %d written", len(got), len(p.want))
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	<-ran
}
