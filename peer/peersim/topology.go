package peersim

import (
	"errors"
	"math/rand/v2"
)

// Topology is a graph of nodes: Edges lists its undirected edges on n
// nodes (numbered 0 to n-1).
type Topology struct {
	Name string
	// Size, when not 0, is the only number of nodes the topology has.
	Size  int
	Edges func(n int, rng *rand.Rand) ([][2]int, error)
}

// Ring links each node with the next, the last with the first.
var Ring = Topology{Name: "ring", Edges: func(n int, _ *rand.Rand) ([][2]int, error) {
	if n < 3 {
		return nil, errors.New("peersim: a ring needs 3 nodes")
	}
	out := make([][2]int, n)
	for i := range out {
		out[i] = [2]int{i, (i + 1) % n}
	}
	return out, nil
}}

// Five is the herd's default topology: five nodes, each linked with two,
// a cycle (Alford, Hamilton, Holiday, Ball, Welsh).
var Five = Topology{Name: "five", Size: 5, Edges: Ring.Edges}

// Mesh links every node with every other.
var Mesh = Topology{Name: "mesh", Edges: func(n int, _ *rand.Rand) ([][2]int, error) {
	var out [][2]int
	for i := range n {
		for j := i + 1; j < n; j++ {
			out = append(out, [2]int{i, j})
		}
	}
	return out, nil
}}

// Regular4 is a random connected 4-regular graph (the pairing model:
// random matchings of four stubs per node, redrawn until the graph has no
// loop, no double edge and is connected).
var Regular4 = Topology{Name: "regular4", Edges: func(n int, rng *rand.Rand) ([][2]int, error) {
	return regular(n, 4, rng)
}}

func regular(n, d int, rng *rand.Rand) ([][2]int, error) {
	if n <= d || n*d%2 != 0 {
		return nil, errors.New("peersim: no such regular graph")
	}
	stubs := make([]int, n*d)
	for try := 0; try < 100_000; try++ {
		for i := range stubs {
			stubs[i] = i / d
		}
		rng.Shuffle(len(stubs), func(i, j int) { stubs[i], stubs[j] = stubs[j], stubs[i] })
		seen := map[[2]int]bool{}
		ok := true
		var out [][2]int
		for i := 0; i < len(stubs) && ok; i += 2 {
			a, b := min(stubs[i], stubs[i+1]), max(stubs[i], stubs[i+1])
			if a == b || seen[[2]int{a, b}] {
				ok = false
			}
			seen[[2]int{a, b}] = true
			out = append(out, [2]int{a, b})
		}
		if ok && connected(n, out) {
			return out, nil
		}
	}
	return nil, errors.New("peersim: no regular graph drawn")
}

func connected(n int, edges [][2]int) bool {
	adj := adjacency(n, edges)
	seen := make([]bool, n)
	stack, count := []int{0}, 0
	seen[0] = true
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		for _, w := range adj[v] {
			if !seen[w] {
				seen[w] = true
				stack = append(stack, w)
			}
		}
	}
	return count == n
}

func adjacency(n int, edges [][2]int) [][]int {
	adj := make([][]int, n)
	for _, e := range edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	return adj
}
