package main

import (
	"os/exec"
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
// imports point"): the
// node binary links nothing from bench, no plotting and no JSON library
// but the standard one (go-json alone would add 3 MiB to it), the domain package
// no HTTP or JSON client and no data, and only engine and bench/echo import
// gnet.
func TestImportRules(t *testing.T) {
	for _, dep := range goList(t, "-deps", "./cmd/herd") {
		if strings.Contains(dep, "/herd/bench") || strings.HasPrefix(dep, "gonum.org/") ||
			strings.Contains(dep, "goccy/go-json") || strings.Contains(dep, "bytedance/sonic") {
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
