package peer_test

import (
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/peer/peersim"
)

// TestSeam links two nodes over an in-memory network, with a clock that
// reads a fixed time: the links come up both ways through Config.Dial and
// Links.Serve, an update crosses, and the links date their states by the
// given clock, not the machine's.
func TestSeam(t *testing.T) {
	mem := peersim.NewNetwork()
	epoch := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	names := []string{"A", "B"}
	nodes := map[string]*herd.Node{}
	links := map[string]*peer.Links{}
	for _, name := range names {
		cache := herd.NewCache()
		ls := peer.New(peer.Config{
			Name: name, Cache: cache,
			Dial: mem.Dialer(name), Clock: func() time.Time { return epoch },
		})
		t.Cleanup(ls.Close)
		ln, err := mem.Listen(name, name+":1")
		if err != nil {
			t.Fatal(err)
		}
		if addr, err := ls.Serve(ln); err != nil || addr != name+":1" {
			t.Fatalf("Serve: %q %v", addr, err)
		}
		links[name] = ls
		nodes[name] = herd.NewNode(herd.NodeOptions{Name: name, Cache: cache, Flooder: ls, Origins: names})
	}
	for i, name := range names {
		other := names[1-i]
		links[name].Start(nodes[name], []peer.Neighbor{{Name: other, Address: other + ":1"}})
	}
	waitUntil(t, 5*time.Second, "both links up both ways", func() bool {
		for _, ls := range links {
			if st := ls.Stats(); len(st) != 1 || st[0].State != peer.StateUp || len(ls.Inbound()) != 1 {
				return false
			}
		}
		return true
	})
	for name, ls := range links {
		if st, in := ls.Stats()[0], ls.Inbound()[0]; !st.Since.Equal(epoch) || !in.Since.Equal(epoch) || in.Remote == "" {
			t.Errorf("%s: link %+v, inbound %+v: want both since %v", name, st, in, epoch)
		}
	}
	var cmd codec.Command
	if err := codec.Parse([]byte(iamat("kiwi", 1_700_000_000)), &cmd); err != nil {
		t.Fatal(err)
	}
	nodes["A"].IAMAT(nil, &cmd)
	waitUntil(t, 5*time.Second, "B to hold kiwi", func() bool { return nodes["B"].Lookup([]byte("kiwi")) != nil })
	if mem.Bytes() == 0 {
		t.Error("the network counted no bytes")
	}
}
