package peersim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
)

// Config describes a simulation.
type Config struct {
	Topology Topology
	// Nodes is the number of nodes (the topology's Size when it has one).
	Nodes int
	// Seed draws the random graph and where updates enter.
	Seed uint64
	// Peers tunes every node's links; unset fields take the herd's
	// defaults, so that the figures are a herd's.
	Peers peer.Settings
	// Tree has the nodes offer the spanning-tree push (Peers.Tree), all
	// but the first Plain, which flood.
	Tree  bool
	Plain int
}

// Sim is a herd of real nodes (herd.Node, herd.Cache and peer.Links) on an
// in-memory Network. Its methods are for one goroutine.
type Sim struct {
	cfg   Config
	net   *Network
	nodes []*simNode
	edges [][2]int
	rng   *rand.Rand
	seq   int // updates made so far
}

type simNode struct {
	name   string
	node   *herd.Node
	links  *peer.Links
	degree int
	// fromPeers counts the updates stored that came over a link: the
	// deliveries that were news.
	fromPeers atomic.Uint64
}

// countingFlooder counts the stores from neighbours on the way to the
// links. It passes Holds on too (herd.Holder), so the nodes behave as a
// herd's: a client whose line a neighbour just sent leaves that link's
// pending set.
type countingFlooder struct{ n *simNode }

func (f countingFlooder) Holds(line []byte, from string) { f.n.links.Holds(line, from) }

func (f countingFlooder) Flood(line []byte, from string) {
	if from != "" {
		f.n.fromPeers.Add(1)
	}
	f.n.links.Flood(line, from)
}

// New builds the simulation's nodes and links them; it returns once every
// link is up both ways, or ctx ends. Close releases it.
func New(ctx context.Context, cfg Config) (*Sim, error) {
	if cfg.Topology.Size != 0 {
		cfg.Nodes = cfg.Topology.Size
	}
	s := &Sim{cfg: cfg, net: NewNetwork(), rng: rand.New(rand.NewPCG(cfg.Seed, 17))}
	var err error
	if s.edges, err = cfg.Topology.Edges(cfg.Nodes, s.rng); err != nil {
		return nil, err
	}
	adj := adjacency(cfg.Nodes, s.edges)
	names := make([]string, cfg.Nodes)
	for i := range names {
		names[i] = fmt.Sprintf("n%03d", i)
	}
	nbsOf := make([][]peer.Neighbor, cfg.Nodes)
	for i, name := range names {
		n := &simNode{name: name, degree: len(adj[i])}
		nbs := make([]peer.Neighbor, len(adj[i]))
		for k, j := range adj[i] {
			nbs[k] = peer.Neighbor{Name: names[j], Address: names[j] + ":7001"}
		}
		cache := herd.NewCache()
		pc := cfg.Peers
		pc.Tree = cfg.Tree && i >= cfg.Plain
		n.links = peer.New(peer.Config{
			Name: name, Cache: cache, Peers: pc,
			Dial: s.net.Dialer(name),
		})
		ln, err := s.net.Listen(name, name+":7001")
		if err == nil {
			_, err = n.links.Serve(ln)
		}
		if err != nil {
			n.links.Close()
			s.Close()
			return nil, err
		}
		n.node = herd.NewNode(herd.NodeOptions{Name: name, Cache: cache, Flooder: countingFlooder{n}, Origins: names})
		s.nodes = append(s.nodes, n)
		nbsOf[i] = nbs
	}
	for i, n := range s.nodes { // once every node listens
		n.links.Start(n.node, nbsOf[i])
	}
	return s, nil
}

// WaitLinked waits until every node's links are up both ways.
func (s *Sim) WaitLinked(ctx context.Context) error {
	return poll(ctx, func() bool {
		for _, n := range s.nodes {
			if len(n.links.Inbound()) != n.degree {
				return false
			}
			for _, l := range n.links.Stats() {
				if l.State != peer.StateUp {
					return false
				}
			}
		}
		return true
	})
}

// Close stops every node's links.
func (s *Sim) Close() {
	for _, n := range s.nodes {
		n.links.Close()
	}
}

// Burst reports k new clients (IAMAT), each at a node drawn at random, as
// fast as the nodes take them, and returns when the last is stored at its
// node.
func (s *Sim) Burst(k int) {
	s.burst(k, func(int) bool { return true })
}

func (s *Sim) burst(k int, where func(i int) bool) {
	var cmd codec.Command
	var line, reply []byte
	now := time.Now().Unix()
	for range k {
		i := s.rng.IntN(len(s.nodes))
		for !where(i) {
			i = s.rng.IntN(len(s.nodes))
		}
		s.seq++
		line = append(line[:0], "IAMAT c"...)
		line = strconv.AppendInt(line, int64(s.seq), 10)
		line = append(line, " +34.068930-118.445127 "...)
		line = strconv.AppendInt(line, now, 10)
		line = append(line, ".5"...)
		if err := codec.Parse(line, &cmd); err != nil {
			panic(err) // the line above is well formed
		}
		reply = s.nodes[i].node.IAMAT(reply[:0], &cmd)
	}
}

// Converged reports whether every node holds every update made so far
// (the same count and digest root).
func (s *Sim) Converged() bool {
	count, root := s.nodes[0].node.Digest()
	if count != uint64(s.seq) {
		return false
	}
	for _, n := range s.nodes[1:] {
		if c, r := n.node.Digest(); c != count || r != root {
			return false
		}
	}
	return true
}

// WaitConverged waits until Converged and returns how long it took from
// since.
func (s *Sim) WaitConverged(ctx context.Context, since time.Time) (time.Duration, error) {
	err := poll(ctx, s.Converged)
	return time.Since(since), err
}

// Counters are the simulation's running totals.
type Counters struct {
	// Sent is the updates written on every link (AT lines, syncs
	// included): the messages.
	Sent uint64
	// News is the deliveries that stored something: the rest of Sent
	// were duplicates.
	News uint64
	// Bytes is what crossed the network both ways, handshakes and syncs
	// included.
	Bytes uint64
	// Announced is the IHAVE lines of the spanning-tree push; Grafts and
	// Prunes its repairs and cuts.
	Announced, Grafts, Prunes uint64
}

// Counters returns the totals so far.
func (s *Sim) Counters() Counters {
	var c Counters
	for _, n := range s.nodes {
		for _, l := range n.links.Stats() {
			c.Sent += l.Sent
		}
		c.News += n.fromPeers.Load()
		t := n.links.Tree()
		c.Announced += t.Announced
		c.Grafts += t.Grafts
		c.Prunes += t.Prunes
	}
	c.Bytes = s.net.Bytes()
	return c
}

// Partition cuts the nodes in two halves (by number: a ring in two arcs)
// until Heal.
func (s *Sim) Partition() {
	names := make([]string, len(s.nodes))
	side := make(map[string]int, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.name
		side[n.name] = 2 * i / len(s.nodes)
	}
	s.net.Partition(names, func(name string) int { return side[name] })
}

// Heal ends the partition.
func (s *Sim) Heal() { s.net.Heal() }

// Result is what Run measured.
type Result struct {
	Topology string
	Nodes    int
	Edges    int
	Updates  int // in the burst
	// MsgsPerUpdate is the AT lines sent per update of the burst. A plain
	// flood sends at most Nodes*(degree-1)+1: fewer when a node's copy for
	// a neighbour still waits in the link's pending set as that
	// neighbour's own copy arrives (the node then holds what the neighbour
	// has, and the client leaves the set: herd.Holder).
	MsgsPerUpdate float64
	// NewsPerUpdate is the deliveries per update of the burst that stored
	// something: Nodes-1 when every node got it once.
	NewsPerUpdate float64
	// AnnouncedPerUpdate is the IHAVE lines per update of the burst (the
	// spanning-tree push's lazy edges); GraftsPerUpdate its repairs.
	AnnouncedPerUpdate, GraftsPerUpdate float64
	// DupPct is the share of those messages that arrived at a node that
	// already held the update.
	DupPct float64
	// WireBytesPerUpdate is the bytes on the network per update of the
	// burst.
	WireBytesPerUpdate float64
	// Converge is the time from the burst's first update until every node
	// held every update (the burst follows a warm-up of updates one at a
	// time, until a round of them changed no spanning tree); Heal the time from the end of a partition (during
	// which each half took Updates/2 more) until every node held all.
	Converge, Heal time.Duration
	// BytesPerNode is the Go heap and stacks in use per node at the end
	// (after a GC): caches, links, buffers, goroutines.
	BytesPerNode float64
}

// Run builds the simulation, measures a burst of updates, then a partition
// and its healing, and closes it. Every wait is bounded by ctx.
func Run(ctx context.Context, cfg Config, updates int) (Result, error) {
	before := heapAndStacks()
	s, err := New(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	res := Result{Topology: cfg.Topology.Name, Nodes: len(s.nodes), Edges: len(s.edges), Updates: updates}
	if err := s.WaitLinked(ctx); err != nil {
		return res, fmt.Errorf("peersim: links up: %w", err)
	}
	// Warm up with updates one at a time, as a herd under light traffic
	// sees them, so that a spanning tree forms: rounds of them until one
	// changes no tree (at most five; a flood needs one).
	for range 5 {
		w0 := s.Counters()
		for range min(updates, 50) {
			s.Burst(1)
			if _, err := s.WaitConverged(ctx, time.Now()); err != nil {
				return res, fmt.Errorf("peersim: converge while warming up: %w", err)
			}
		}
		if err := s.quiet(ctx); err != nil {
			return res, err
		}
		if w1 := s.Counters(); w1.Prunes == w0.Prunes && w1.Grafts == w0.Grafts {
			break
		}
	}
	c0 := s.Counters()
	start := time.Now()
	s.Burst(updates)
	if res.Converge, err = s.WaitConverged(ctx, start); err != nil {
		return res, fmt.Errorf("peersim: converge after a burst: %w", err)
	}
	if err := s.quiet(ctx); err != nil {
		return res, err
	}
	c1 := s.Counters()
	res.MsgsPerUpdate = float64(c1.Sent-c0.Sent) / float64(updates)
	res.NewsPerUpdate = float64(c1.News-c0.News) / float64(updates)
	if sent := c1.Sent - c0.Sent; sent > 0 {
		res.DupPct = 100 * float64(sent-(c1.News-c0.News)) / float64(sent)
	}
	res.WireBytesPerUpdate = float64(c1.Bytes-c0.Bytes) / float64(updates)
	res.AnnouncedPerUpdate = float64(c1.Announced-c0.Announced) / float64(updates)
	res.GraftsPerUpdate = float64(c1.Grafts-c0.Grafts) / float64(updates)

	s.Partition()
	half := len(s.nodes) / 2
	s.burst(updates/2, func(i int) bool { return i < half })
	s.burst(updates-updates/2, func(i int) bool { return i >= half })
	if err := s.quiet(ctx); err != nil {
		return res, err
	}
	if s.Converged() {
		return res, errors.New("peersim: the halves agree during the partition: it did not hold")
	}
	start = time.Now()
	s.Heal()
	if res.Heal, err = s.WaitConverged(ctx, start); err != nil {
		return res, fmt.Errorf("peersim: converge after the partition healed: %w", err)
	}
	res.BytesPerNode = float64(heapAndStacks()-before) / float64(len(s.nodes))
	return res, nil
}

// quiet waits until no link has sent anything for 50 ms.
func (s *Sim) quiet(ctx context.Context) error {
	last, since := s.Counters().Sent, time.Now()
	err := poll(ctx, func() bool {
		if c := s.Counters().Sent; c != last {
			last, since = c, time.Now()
		}
		return time.Since(since) >= 50*time.Millisecond
	})
	if err != nil {
		return fmt.Errorf("peersim: waiting for the links to go quiet: %w", err)
	}
	return nil
}

func heapAndStacks() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// poll checks cond every millisecond until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), context.Cause(ctx))
		case <-t.C:
		}
	}
	return nil
}
