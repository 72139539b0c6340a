package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goList runs `go list` with args from the module root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	return strings.Fields(string(out))
}

// TestImportRules keeps the layout of docs/ARCHITECTURE.md ("Which way
// imports point"): the node binary links nothing from bench, no plotting
// and of the two JSON libraries only go-json (sonic was never faster on the
// node's paths), the domain package no HTTP or JSON client and no data, and
// only engine and bench/echo import gnet.
func TestImportRules(t *testing.T) {
	for _, dep := range goList(t, "-deps", "./cmd/herd") {
		if strings.Contains(dep, "/herd/bench") || strings.HasPrefix(dep, "gonum.org/") ||
			strings.Contains(dep, "bytedance/sonic") {
			t.Errorf("cmd/herd links %s", dep)
		}
	}
	for _, dep := range goList(t, "-deps", "./herd") {
		for _, banned := range []string{"valyala/fasthttp", "goccy/go-json", "bytedance/sonic", "tidwall/rtree", "herd/places/"} {
			if strings.Contains(dep, banned) {
				t.Errorf("herd links %s", dep)
			}
		}
	}
	var gnet []string
	for _, line := range goList(t, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "./...") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.Contains(imports, "github.com/panjf2000/gnet") {
			gnet = append(gnet, strings.TrimPrefix(pkg, "github.com/herdnet/herd/"))
		}
	}
	if want := []string{"bench/echo", "engine"}; !slices.Equal(gnet, want) {
		t.Errorf("packages importing gnet: %v, want %v", gnet, want)
	}
}

// layers are the ranks of the module's packages, lowest first, as
// docs/ARCHITECTURE.md draws them: codec <- herd <- engine, peer, snapshot
// <- config, admin <- node <- the binaries. A package is ranked by its longest
// listed prefix.
var layers = map[string]int{
	"codec":         0,
	"places":        0,
	"internal/logq": 0,
	"herd":          1,
	"engine":        2,
	"peer":          2,
	"snapshot":      2,
	"config":        3,
	"admin":         3,
	"node":          4,
	"internal/cli":  5,
	"bench":         5,
	"cmd":           6,
}

// rank is the layer of the module package pkg (without the module path),
// and the prefix that ranked it; ok is false for a package outside the
// layers (test helpers, generators).
func rank(pkg string) (r int, prefix string, ok bool) {
	for p, l := range layers {
		if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(prefix) {
			r, prefix, ok = l, p, true
		}
	}
	return r, prefix, ok
}

// TestLayering checks that every import of a module package points down
// the layers (or within one package's own tree, such as places/provider
// importing places/geonames), that logq is a leaf, that nothing imports
// a binary, and that only herd-bench imports bench.
func TestLayering(t *testing.T) {
	const mod = "github.com/herdnet/herd/"
	lines := goList(t, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "./...")
	if len(lines) < 10 {
		t.Fatalf("go list found %d packages", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, mod)
		from, fromPrefix, ranked := rank(pkg)
		for imp := range strings.SplitSeq(imports, ",") {
			imp, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			switch {
			case pkg == "internal/logq":
				t.Errorf("internal/logq imports %s: it must stay a leaf", imp)
			case strings.HasPrefix(imp, "cmd/"):
				t.Errorf("%s imports the binary %s", pkg, imp)
			case strings.HasPrefix(imp, "bench/") && !strings.HasPrefix(pkg, "bench/") && pkg != "cmd/herd-bench":
				t.Errorf("%s imports %s: only cmd/herd-bench imports bench", pkg, imp)
			}
			to, toPrefix, ok := rank(imp)
			if ranked && ok && to >= from && toPrefix != fromPrefix {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down the layers", pkg, from, imp, to)
			}
		}
	}
}

// binaryBudget is the most an unstripped `go build ./cmd/herd` may weigh.
const binaryBudget = 26 << 20

// TestBinaryBudget builds the node binary as `go build ./cmd/herd` does and
// keeps it within binaryBudget, and checks that it links go-json.
func TestBinaryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the node binary")
	}
	bin := filepath.Join(t.TempDir(), "herd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/herd")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cmd/herd: %d bytes (%.1f MiB)", fi.Size(), float64(fi.Size())/(1<<20))
	if fi.Size() > binaryBudget {
		t.Errorf("cmd/herd is %.1f MiB, over the %d MiB budget", float64(fi.Size())/(1<<20), binaryBudget>>20)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "github.com/goccy/go-json") {
		t.Errorf("go version -m lists no go-json:\n%s", out)
	}
}
