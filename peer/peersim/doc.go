// Package peersim simulates herds larger than five nodes: real herd.Node,
// herd.Cache and peer.Links for every node, linked over an in-memory
// Network (net.Pipe connections behind peer.Config's Dial and
// Links.Serve, after memberlist's MockNetwork) in a chosen Topology: a
// ring, a random 4-regular graph, the herd's five-node cycle, a full mesh.
// Run measures what flooding costs as the herd grows: messages and
// duplicate deliveries per update, time to converge after a burst of
// updates and after a partition heals, and memory per node. The simulation
// runs in real time on the links' own timers (backoff, syncs), with the
// herd's default peer settings unless the Config says otherwise; its
// times are upper bounds on a busy machine, its counts are exact.
package peersim
