package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/herdnet/herd/config"
)

// root is the repository, from this package's directory.
const root = ".."

// documents are the files the test reads, relative to root.
var documents = []string{
	"README.md", "BENCHMARKS.md",
	"docs/PROTOCOL.md", "docs/OPERATIONS.md", "docs/SECURITY.md", "docs/ARCHITECTURE.md",
	"docs/MONITORING.md",
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// block is a fenced code block of a document.
type block struct {
	lang, text string
	line       int // of the opening fence
}

// blocks returns the fenced code blocks of doc (fences of three backticks
// or more, at any indentation).
func blocks(doc string) []block {
	var out []block
	var cur *block
	var b strings.Builder
	indent := ""
	for i, l := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(l)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				b.WriteString(strings.TrimPrefix(l, indent)) // a block nested in a list item
				b.WriteByte('\n')
			}
			continue
		}
		if cur == nil {
			cur = &block{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
			indent = l[:len(l)-len(strings.TrimLeft(l, " "))]
			b.Reset()
			continue
		}
		cur.text = b.String()
		out = append(out, *cur)
		cur = nil
	}
	return out
}

// withoutCode returns doc with its fenced blocks and inline code spans
// blanked, so that links are looked for in prose only.
func withoutCode(doc string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			b.WriteByte('\n')
			continue
		}
		if !in {
			b.WriteString(inlineCode.ReplaceAllString(l, "``"))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

var inlineCode = regexp.MustCompile("`[^`]*`")

// elided is a line that stands for the rest of a config: "  # ...".
var elided = regexp.MustCompile(`(?m)^\s*# \.\.\.\s*$`)

// TestConfigExamplesParse: every YAML block of the documents is a herd
// config or a part of one. A whole config (it lists nodes and elides
// nothing) must load with the real loader, defaults and validation
// included; a part (a section, or nodes with "# ..." for the rest) must
// decode strictly: every key known, every value of its type.
func TestConfigExamplesParse(t *testing.T) {
	n := 0
	for _, name := range documents {
		for _, b := range blocks(read(t, name)) {
			if b.lang != "yaml" {
				continue
			}
			n++
			whole := strings.Contains(b.text, "nodes:") && !elided.MatchString(b.text)
			if whole {
				if _, err := config.Parse([]byte(b.text)); err != nil {
					t.Errorf("%s:%d: the config does not load: %v", name, b.line, err)
				}
				continue
			}
			var c config.Config
			if err := yaml.UnmarshalWithOptions([]byte(b.text), &c, yaml.DisallowUnknownField()); err != nil {
				t.Errorf("%s:%d: the config fragment does not decode: %v", name, b.line, err)
			}
		}
	}
	if n < 4 {
		t.Fatalf("found %d YAML blocks; the documents show more", n)
	}
}

// TestDefaultConfigShown: the configuration OPERATIONS.md shows as the
// embedded default is the embedded default, value for value.
func TestDefaultConfigShown(t *testing.T) {
	for _, b := range blocks(read(t, "docs/OPERATIONS.md")) {
		if b.lang != "yaml" || !strings.Contains(b.text, "max_line:") {
			continue
		}
		shown, err := config.Parse([]byte(b.text))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := normalize(t, shown), normalize(t, config.Default()); got != want {
			t.Errorf("the default config shown differs from config/default.yaml:\nshown:    %s\nembedded: %s", got, want)
		}
		return
	}
	t.Fatal("OPERATIONS.md shows no full default config")
}

func normalize(t *testing.T, c *config.Config) string {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// command is one herd, herd-bench or make command line in a document.
type command struct {
	where string   // file:line
	prog  string   // herd, herd-bench or make
	args  []string // after prog, up to a comment or the end of the command
}

var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// commands finds the command lines in the code blocks of doc: lines (after
// an optional "$ " prompt and environment assignments) that run herd,
// herd-bench or make, also as go run ./cmd/herd or ./bin/herd-bench.
func commands(name, doc string) []command {
	var out []command
	for _, b := range blocks(doc) {
		if b.lang == "yaml" || b.lang == "json" || b.lang == "ini" {
			continue
		}
		for i, l := range strings.Split(b.text, "\n") {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "$ "))
			for len(f) > 0 && envAssign.MatchString(f[0]) {
				f = f[1:]
			}
			if len(f) >= 2 && f[0] == "go" && f[1] == "run" && len(f) >= 3 {
				f = append([]string{strings.TrimPrefix(f[2], "./cmd/")}, f[3:]...)
			}
			if len(f) == 0 {
				continue
			}
			prog := strings.TrimPrefix(f[0], "./bin/")
			prog = strings.TrimPrefix(prog, "bin/")
			if prog != "herd" && prog != "herd-bench" && prog != "make" {
				continue
			}
			var args []string
			for _, a := range f[1:] {
				if a == "#" || strings.HasPrefix(a, "#") || a == "|" || a == "&&" || a == ";" || a == ">" {
					break
				}
				args = append(args, a)
			}
			out = append(out, command{where: name + ":" + strconv.Itoa(b.line+1+i), prog: prog, args: args})
		}
	}
	return out
}

// makeTargets are the Makefile's targets.
func makeTargets(t *testing.T) []string {
	var out []string
	for _, l := range strings.Split(read(t, "Makefile"), "\n") {
		if i := strings.Index(l, ":"); i > 0 && !strings.ContainsAny(l[:i], " \t=$.") {
			out = append(out, l[:i])
		}
	}
	return out
}

// TestCommandsExist: every herd, herd-bench and make command the documents
// show exists, and every --flag given to herd or herd-bench is one of that
// command's flags.
func TestCommandsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	dir := t.TempDir()
	bins := map[string]string{}
	for _, prog := range []string{"herd", "herd-bench"} {
		bins[prog] = filepath.Join(dir, prog)
		if out, err := exec.Command("go", "build", "-o", bins[prog], "../cmd/"+prog).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", prog, err, out)
		}
	}
	targets := makeTargets(t)
	helps := map[string]string{}
	help := func(prog string, sub []string) string {
		key := prog + " " + strings.Join(sub, " ")
		if h, ok := helps[key]; ok {
			return h
		}
		out, _ := exec.Command(bins[prog], append(sub, "-h")...).CombinedOutput()
		helps[key] = string(out)
		return helps[key]
	}
	seen := map[string]int{}
	for _, name := range documents {
		for _, c := range commands(name, read(t, name)) {
			seen[c.prog]++
			if c.prog == "make" {
				// The first word that is not VAR=value is the target; what
				// follows it in a listing is its description.
				for _, a := range c.args {
					if envAssign.MatchString(a) {
						continue
					}
					if !slices.Contains(targets, a) {
						t.Errorf("%s: make %s: no such target in the Makefile", c.where, a)
					}
					break
				}
				continue
			}
			if len(c.args) == 0 {
				continue
			}
			for _, sub := range strings.Split(c.args[0], "|") {
				words := []string{sub}
				if sub == "config" && len(c.args) > 1 {
					words = append(words, c.args[1])
				}
				h := help(c.prog, words)
				if strings.Contains(h, "unknown command") || !strings.Contains(strings.ToLower(h), "usage") {
					t.Errorf("%s: %s %s: not a command:\n%s", c.where, c.prog, strings.Join(words, " "), h)
					continue
				}
				for _, a := range c.args[1:] {
					a = strings.Trim(a, "[]")
					if !strings.HasPrefix(a, "--") {
						continue
					}
					flag, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
					if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(flag) + `\b`).MatchString(h) {
						t.Errorf("%s: %s %s has no flag --%s", c.where, c.prog, sub, flag)
					}
				}
			}
		}
	}
	for _, prog := range []string{"herd", "herd-bench", "make"} {
		if seen[prog] == 0 {
			t.Errorf("found no %s command in the documents", prog)
		}
	}
}

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	notSlug = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// anchors returns the anchors GitHub gives doc's headings.
func anchors(doc string) []string {
	var out []string
	for _, m := range heading.FindAllStringSubmatch(withoutFences(doc), -1) {
		s := strings.ToLower(strings.TrimSpace(m[1]))
		s = notSlug.ReplaceAllString(s, "")
		out = append(out, strings.ReplaceAll(s, " ", "-"))
	}
	return out
}

// withoutFences drops fenced code blocks (a "# comment" in a shell block is
// no heading).
func withoutFences(doc string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestLinksResolve: every relative link of the documents names a file of
// the repository, and every #anchor a heading of the file it points into.
func TestLinksResolve(t *testing.T) {
	n := 0
	for _, name := range documents {
		doc := read(t, name)
		for _, m := range link.FindAllStringSubmatch(withoutCode(doc), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			file, anchor, _ := strings.Cut(target, "#")
			path := name
			if file != "" {
				path = filepath.Join(filepath.Dir(name), file)
				if _, err := os.Stat(filepath.Join(root, path)); err != nil {
					t.Errorf("%s: link %q: %v", name, target, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !slices.Contains(anchors(read(t, path)), anchor) {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", name, target, path, anchor)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d relative links; the documents have more", n)
	}
}

var namedTest = regexp.MustCompile("`((?:Test|Benchmark|Fuzz)[A-Z][A-Za-z0-9_]*)`")

// TestNamedTestsExist: every test, benchmark and fuzz target the documents
// name (in backquotes) is declared in the repository, so that a promise
// pointing at its test points at something that runs.
func TestNamedTestsExist(t *testing.T) {
	var src bytes.Buffer
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			src.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range documents {
		for _, m := range namedTest.FindAllStringSubmatch(read(t, name), -1) {
			n++
			if !bytes.Contains(src.Bytes(), []byte("func "+m[1]+"(")) {
				t.Errorf("%s names %s, which no test file declares", name, m[1])
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d named tests; the documents name more", n)
	}
}

// TestNothingPointsOutside: the repository stands on its own; nothing in
// its documents or code points at files beside it.
func TestNothingPointsOutside(t *testing.T) {
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".sh", ".py", ".js", ".service":
		default:
			if d.Name() != "Makefile" && d.Name() != "Dockerfile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// The paths are spelled in pieces so that this file does not
		// itself point where it forbids pointing.
		for _, bad := range []string{".." + "/shared", "/work" + "/shared", "shared" + "/seed"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s refers to %s, outside the repository", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
