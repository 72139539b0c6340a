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

// TestImportRules keeps the layout of the README's "How it works": the
// node binary links nothing from bench, no plotting and of the two JSON
// libraries only go-json (sonic was never faster on the node's paths), the
// domain package no HTTP or JSON client and no data, and only engine and
// bench/echo import gnet.
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
