package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places"
)

const (
	rulesFile     = "prometheus/herd-rules.yml"
	rulesTestFile = "prometheus/herd-rules.test.yml"
	dashboardFile = "grafana/herd.json"
)

// ruleFile is herd-rules.yml.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// dashboard is the part of Grafana's JSON model the tests read.
type dashboard struct {
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string         `json:"title"`
		Type       string         `json:"type"`
		Datasource *datasourceRef `json:"datasource"`
		Targets    []struct {
			Expr       string         `json:"expr"`
			Datasource *datasourceRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queries are every PromQL expression of the rules and the dashboard,
// keyed by where it is; the dashboard's variables ($job, $node) stand as
// regexps matching anything.
func queries(t *testing.T) map[string]string {
	t.Helper()
	q := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			q[rulesFile+": "+r.Record+r.Alert] = r.Expr
		}
	}
	vars := strings.NewReplacer("$job", ".*", "$node", ".*")
	d := loadDashboard(t)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var body struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &body); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValuesQuery.FindStringSubmatch(body.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(EXPR, LABEL)", v.Name, body.Query)
		}
		q[dashboardFile+": variable "+v.Name] = vars.Replace(m[1])
	}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			q[fmt.Sprintf("%s: panel %q target %d", dashboardFile, p.Title, i)] = vars.Replace(tg.Expr)
		}
	}
	return q
}

// TestRulesAndDashboardShape: every alert tells the operator what is wrong
// and what to look at and is unit-tested; the dashboard reads its data
// source from the datasource variable and has the node variable.
func TestRulesAndDashboardShape(t *testing.T) {
	rf := loadRules(t)
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 80 || r.Labels["severity"] == "" {
				t.Errorf("alert %s: want a severity, a summary and a description that says what to look at", r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("alert %s has no test in %s", r.Alert, rulesTestFile)
			}
		}
	}
	if alerts < 10 {
		t.Errorf("%d alerts", alerts)
	}
	d := loadDashboard(t)
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Contains(vars, "datasource") || !slices.Contains(vars, "node") {
		t.Errorf("dashboard variables %q, want datasource and node", vars)
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `instance=~"$node"`) && !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("panel %q: %s follows neither $node nor $job", p.Title, tg.Expr)
			}
		}
	}
}

// tool finds a binary of Debian's prometheus package: outside CI a test
// without it skips, in CI (CI=true, where .ci/run installs the package) it
// fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: .ci/run installs Debian's prometheus package, which brings it", name)
		}
		t.Skipf("%s not found: install Debian's prometheus package (apt-get install prometheus) to run this test", name)
	}
	return p
}

// TestPromtool runs promtool's rule check and unit tests, and checks that
// every dashboard query parses (as a recording rule of a scratch file).
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "rules", rulesFile)
	run("test", "rules", rulesTestFile)

	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range queries(t) {
			if strings.HasPrefix(k, dashboardFile) && !yield(k) {
				return
			}
		}
	})
	all := queries(t)
	for i, k := range keys {
		q, _ := json.Marshal(all[k]) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query_%d:check\n        expr: %s\n", i, q)
	}
	scratch := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(scratch, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("check", "rules", scratch)
}

// adminToken guards the test herds' admin ports (security.admin_token).
const adminToken = "monitoring-test-token"

// adminConfig is the default five-node herd, every port on 127.0.0.1:0,
// its admin ports behind adminToken.
func adminConfig() *config.Config {
	cfg := config.Default()
	cfg.Security.AdminToken = adminToken
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen = "127.0.0.1:0"
		cfg.Nodes[i].Address = "127.0.0.1:0"
		cfg.Nodes[i].Admin = "127.0.0.1:0"
	}
	cfg.Peers.BackoffMin = 10 * time.Millisecond
	cfg.Peers.BackoffMax = 200 * time.Millisecond
	return cfg
}

// startHerd starts the five nodes with admin ports and data directories
// (so that the snapshot metrics are there) and stops them at cleanup.
func startHerd(t *testing.T, cfg *config.Config) *node.Herd {
	t.Helper()
	dir := t.TempDir()
	setup := func(config.Node) (herd.NodeOptions, *slog.Logger, error) {
		return herd.NodeOptions{Places: noPlaces{}}, nil, nil
	}
	h, err := node.StartHerd(cfg, cfg.Names(), node.Options{Loops: 1, Admin: true, Setup: setup,
		DataDir: func(name string) string { return filepath.Join(dir, name) }})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h
}

// noPlaces is a places backend that finds nothing.
type noPlaces struct{}

func (noPlaces) Name() string { return "none" }

func (noPlaces) Nearby(_ context.Context, _ places.Query, dst []byte) ([]byte, error) {
	return places.AppendBodyEnd(places.AppendBodyStart(dst, nil), 0, places.StatusZeroResults), nil
}

// httpGet returns the body of a 200 answer to url, with token as a bearer
// token when not empty.
func httpGet(t *testing.T, url, token string) (string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// No keep-alive: no client goroutine outlives the request.
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), err
}

// exposed returns the metric names of a text exposition's samples.
func exposed(body string) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// notExported are the names the rules and the dashboard read that the node
// does not export in this tree (none now). The test fails once one of them
// appears in /metrics, so that the list empties as they arrive.
var notExported = map[string]bool{}

// TestMonitoringMetricsExist keeps the rules and the dashboard honest:
// every metric name their queries use is in a live node's /metrics (with
// links up, a client, and a snapshot directory), every recording rule
// they read is defined, and up is the only name Prometheus makes itself.
func TestMonitoringMetricsExist(t *testing.T) {
	h := startHerd(t, adminConfig())
	alford := h.Node("Alford")
	testclient.Dial(t, alford.Addr()).Ask("IAMAT kiwi +34.068930-118.445127 1479413884.392014450")
	url := "http://" + alford.AdminAddr() + "/metrics"
	var names map[string]bool
	testclient.Eventually(t, "Alford's links and client in /metrics", func() bool {
		body, err := httpGet(t, url, adminToken)
		if err != nil {
			t.Fatal(err)
		}
		names = exposed(body)
		return names["herd_peer_link_up"] && strings.Contains(body, "\nherd_clients 1\n")
	})
	recorded := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	used := 0
	for where, q := range queries(t) {
		for _, name := range metricNames(q) {
			used++
			switch {
			case name == "up":
			case strings.Contains(name, ":"):
				if !recorded[name] {
					t.Errorf("%s: %s is no recording rule of %s", where, name, rulesFile)
				}
			case notExported[name]:
				if names[name] {
					t.Errorf("%s is in a node's /metrics now: remove it from notExported", name)
				}
			case !names[name]:
				t.Errorf("%s: %s is not in a node's /metrics", where, name)
			}
		}
	}
	for name := range notExported {
		t.Logf("not checked: %s (in notExported)", name)
	}
	if used < 40 {
		t.Errorf("only %d metric names found in the queries", used)
	}
}

// promResult is a Prometheus HTTP API instant-query answer.
type promResult struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// promConfig is a Prometheus configuration that scrapes the admin ports
// targets every second as job herd (with token as a bearer token when not
// empty) and loads rules.
func promConfig(targets []string, token, rules string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	fmt.Fprintf(&b, "rule_files:\n  - %q\n", rules)
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: herd\n")
	if token != "" {
		fmt.Fprintf(&b, "    authorization:\n      type: Bearer\n      credentials: %q\n", token)
	}
	fmt.Fprintf(&b, "    static_configs:\n      - targets:\n")
	for _, tg := range targets {
		fmt.Fprintf(&b, "          - %q\n", tg)
	}
	return b.String()
}

func TestPromConfig(t *testing.T) {
	got := promConfig([]string{"127.0.0.1:1", "127.0.0.1:2"}, "s3cret", "/r.yml")
	var c struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			Authorization struct {
				Type        string `yaml:"type"`
				Credentials string `yaml:"credentials"`
			} `yaml:"authorization"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(got), &c); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if c.Global.ScrapeInterval != "1s" || !slices.Equal(c.RuleFiles, []string{"/r.yml"}) || len(c.ScrapeConfigs) != 1 ||
		c.ScrapeConfigs[0].JobName != "herd" || c.ScrapeConfigs[0].Authorization.Type != "Bearer" ||
		c.ScrapeConfigs[0].Authorization.Credentials != "s3cret" ||
		!slices.Equal(c.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Errorf("%+v\n%s", c, got)
	}
	if strings.Contains(promConfig(nil, "", "/r.yml"), "authorization") {
		t.Error("authorization without a token")
	}
}

// TestServiceMonitor: the ServiceMonitor selects the headless Service of
// k8s/herd.yaml and scrapes a port that Service names.
func TestServiceMonitor(t *testing.T) {
	sm := decode[struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}](t, manifests(t, "prometheus/servicemonitor.yaml")["ServiceMonitor"][0])
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Fatalf("endpoints %+v", sm.Spec.Endpoints)
	}
	found := false
	for _, raw := range manifests(t, "k8s/herd.yaml")["Service"] {
		svc := decode[service](t, raw)
		if !sameLabels(sm.Spec.Selector.MatchLabels, svc.Metadata.Labels) || svc.Spec.ClusterIP != "None" {
			continue
		}
		for _, p := range svc.Spec.Ports {
			found = found || p.Name == sm.Spec.Endpoints[0].Port
		}
	}
	if !found {
		t.Errorf("no headless Service selected by %v names port %q", sm.Spec.Selector.MatchLabels, sm.Spec.Endpoints[0].Port)
	}
}
