package runner

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chart is one PNG the report links to.
type chart struct {
	File  string // relative to the report
	Title string
}

// Charts draws throughput, p99 latency and RSS against connection count
// (log scale), one line per engine, into dir, and returns what it drew.
func Charts(dir, reportDir string, o *Options, engines []string, rps, p99, rss map[cellKey][]float64) ([]chart, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []chart
	type metric struct {
		name, ylabel string
		m            map[cellKey][]float64
		logY         bool
	}
	for _, pipe := range o.Pipeline {
		for _, mt := range []metric{
			{"throughput", "requests/s (median)", rps, false},
			{"p99", "p99 latency, µs (median)", p99, true},
			{"rss", "server RSS under load, MiB (median)", rss, false},
		} {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s, pipeline %d", mt.name, pipe)
			p.X.Label.Text = "connections"
			p.Y.Label.Text = mt.ylabel
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
			if mt.logY {
				p.Y.Scale = plot.LogScale{}
				p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			}
			p.Legend.Top = true
			for i, e := range engines {
				var pts plotter.XYs
				for _, c := range o.Conns {
					v := summarize(mt.m[cellKey{e, c, pipe}]).med
					if v > 0 && !math.IsNaN(v) {
						pts = append(pts, plotter.XY{X: float64(c), Y: v})
					}
				}
				if len(pts) == 0 {
					continue
				}
				l, s, err := plotter.NewLinePoints(pts)
				if err != nil {
					return nil, err
				}
				col := plotutil.Color(i)
				l.Color, s.Color = col, col
				l.Width = vg.Points(1.5)
				if e == "gnet" {
					l.Width = vg.Points(3)
				}
				s.Shape = plotutil.Shape(i)
				p.Add(l, s)
				p.Legend.Add(e, l, s)
			}
			p.Add(plotter.NewGrid())
			p.BackgroundColor = color.White
			name := fmt.Sprintf("%s-pipeline%d.png", mt.name, pipe)
			if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			rel, err := filepath.Rel(reportDir, filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			out = append(out, chart{File: filepath.ToSlash(rel), Title: p.Title.Text})
		}
	}
	return out, nil
}
