package deploy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	// PromQL string literals, label matchers, range and subquery
	// selectors, and grouping clauses: none of them names a series.
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'` + "|`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan", "Inf", "NaN"}
)

// metricNames returns the metric names a PromQL expression selects, sorted
// and without repeats: every identifier that is not a function or
// aggregation (followed by "("), a keyword, a label (inside braces or a
// grouping clause) or part of a number or duration.
func metricNames(expr string) []string {
	expr = promStrings.ReplaceAllString(expr, `""`)
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRanges.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		if loc[0] > 0 {
			if c := expr[loc[0]-1]; c >= '0' && c <= '9' || c == '.' {
				continue // 1e5, 0.5, 5m
			}
		}
		if strings.HasPrefix(strings.TrimLeft(expr[loc[1]:], " \t\n"), "(") || slices.Contains(promKeywords, name) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// labelValuesQuery is a Grafana variable query, label_values(EXPR, LABEL).
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job=~".*herd.*"} == 0`, []string{"up"}},
		{`sum by (job, instance) (rate(herd_lines_total{kind="IAMAT"}[1m]))`, []string{"herd_lines_total"}},
		{`(time() - herd_snapshot_last_success_timestamp_seconds > 300) and herd_snapshot_last_success_timestamp_seconds > 0`,
			[]string{"herd_snapshot_last_success_timestamp_seconds"}},
		{`histogram_quantile(0.99, sum by (job, instance, le) (rate(x_seconds_bucket[5m])))`, []string{"x_seconds_bucket"}},
		{`a / on(instance) group_left(peer) b{l="}", m='{x}'}`, []string{"a", "b"}},
		{"1e5 * foo offset 5m + bar[5m:1m] unless baz", []string{"bar", "baz", "foo"}},
		{`job:herd_clients:max - job:herd_clients:min > clamp_min(0.01 * job:herd_clients:max, 1)`,
			[]string{"job:herd_clients:max", "job:herd_clients:min"}},
		{`sum(rate(herd_places_requests_total{status!~"OK|ZERO_RESULTS"}[5m])) without (backend) / ignoring (status) count (x)`,
			[]string{"herd_places_requests_total", "x"}},
		{`{__name__="hidden"}`, nil},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.expr, got, c.want)
		}
	}
	if m := labelValuesQuery.FindStringSubmatch(`label_values(herd_build_info{job=~"$job"}, instance)`); m == nil || m[1] != `herd_build_info{job=~"$job"}` {
		t.Errorf("label_values: %q", m)
	}
}
