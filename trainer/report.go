package trainer

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/pipe-dev/pipe/docio"
)

// RUN/report.html is a page about a run that needs nothing but itself: the loss curves (train
// and val) and the accuracy as inline SVG, and a table of the evaluations with the sample drawn
// at each, so that one sees the samples improve. No script, no link, no font: it opens from a
// disk, an archive or a mail. It is a function of the metrics alone (no clock), rewritten
// whole at each evaluation.

// ReportInfo heads the report.
type ReportInfo struct {
	Run      string // the run directory: the title
	Model    Config
	Steps    int    // the steps the run plans: the x axis ends there
	Settings string // one line: the run's settings
	Peak     string // how the MFU's peak was had, if any
}

// WriteReport writes the report of metrics ms to path atomically (a temporary file beside it,
// renamed when complete).
func WriteReport(path string, info ReportInfo, ms []Metric) error {
	out, err := docio.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	if err := Report(out, info, ms); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return out.Close()
}

// Report writes the report page of metrics ms (in step order) to w.
func Report(w io.Writer, info ReportInfo, ms []Metric) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	esc := html.EscapeString
	c := info.Model
	p("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>pipe train: %s</title>\n<style>%s</style></head>\n<body>\n", esc(info.Run), reportCSS)
	p("<h1>pipe train: %s</h1>\n", esc(info.Run))
	p("<p>GPT-2, %d layers, %d heads, %d channels, vocabulary %d, context %d: %s parameters, %s FLOPs a token.</p>\n",
		c.Layers, c.Heads, c.Dim, c.VocabSize, c.Context, thousands(c.NumParams()), thousands(int(c.FlopsPerToken(c.Context))))
	if info.Settings != "" {
		p("<p class=\"small\">%s</p>\n", esc(info.Settings))
	}
	if len(ms) == 0 {
		p("<p>No steps yet.</p>\n</body></html>\n")
		return bw.Flush()
	}
	last := ms[len(ms)-1]
	p("<p>Step %d of %d: loss %.4f", last.Step, info.Steps, last.Loss)
	if v, ok := lastVal(ms); ok {
		p(", val loss %.4f at step %d", *v.ValLoss, v.Step)
	}
	p(", %s tokens/s", thousands(int(last.TokensPerS)))
	if last.MFU > 0 {
		p(", MFU %.1f%%", 100*last.MFU)
	}
	p(".</p>\n")
	if info.Peak != "" {
		p("<p class=\"small\">MFU against a peak of %s.</p>\n", esc(info.Peak))
	}

	var train, val, acc []point
	for _, m := range ms {
		train = append(train, point{m.Step, float64(m.Loss)})
		if m.ValLoss != nil {
			val = append(val, point{m.Step, float64(*m.ValLoss)})
		}
		if m.Accuracy != nil {
			acc = append(acc, point{m.Step, *m.Accuracy})
		}
	}
	xmax := max(info.Steps, last.Step)
	p("<h2>Loss</h2>\n")
	chart(bw, xmax, "loss", false, []series{{"train", "#1f77b4", downsample(train, 800), false}, {"val", "#d62728", val, true}})
	if len(acc) > 0 {
		p("<h2>Accuracy</h2>\n")
		chart(bw, xmax, "accuracy", true, []series{{"accuracy", "#2ca02c", acc, true}})
	}

	p("<h2>Evaluations</h2>\n<table><tr><th>step</th><th>train loss</th><th>val loss</th>")
	if len(acc) > 0 {
		p("<th>accuracy</th>")
	}
	p("<th>sample</th></tr>\n")
	for _, m := range ms {
		if m.ValLoss == nil && m.Sample == "" {
			continue
		}
		p("<tr id=\"eval-%d\"><td>%d</td><td>%.4f</td><td class=\"val\">", m.Step, m.Step, m.Loss)
		if m.ValLoss != nil {
			p("%.4f", *m.ValLoss)
		}
		p("</td>")
		if len(acc) > 0 {
			p("<td>")
			if m.Accuracy != nil {
				p("%.3f", *m.Accuracy)
			}
			p("</td>")
		}
		p("<td><pre>%s</pre></td></tr>\n", esc(m.Sample))
	}
	p("</table>\n</body></html>\n")
	return bw.Flush()
}

const reportCSS = `body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}.small{color:#666;font-size:.85em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
td:nth-child(-n+4){font-variant-numeric:tabular-nums;white-space:nowrap}
pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:.9em}
svg{width:100%;height:auto;font:11px system-ui,sans-serif}svg .grid{stroke:#e4e4e4}svg .axis{fill:#555}`

func lastVal(ms []Metric) (Metric, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].ValLoss != nil {
			return ms[i], true
		}
	}
	return Metric{}, false
}

type point struct {
	step int
	v    float64
}

type series struct {
	name, color string
	pts         []point
	dots        bool // mark each point (with its value as a tooltip)
}

// downsample keeps at most n points of pts: the means of n runs of equal length (by count),
// each at its last step, so a long run's curve stays a few KB and ends where the run is.
func downsample(pts []point, n int) []point {
	if len(pts) <= n {
		return pts
	}
	out := make([]point, 0, n)
	for i := range n {
		lo, hi := i*len(pts)/n, (i+1)*len(pts)/n
		var sum float64
		for _, q := range pts[lo:hi] {
			sum += q.v
		}
		out = append(out, point{pts[hi-1].step, sum / float64(hi-lo)})
	}
	return out
}

// chart draws series against steps 0..xmax as an inline SVG line chart with a grid, ticks and
// a legend; the y axis spans the values, or 0..1 when unit.
func chart(w io.Writer, xmax int, ylabel string, unit bool, ss []series) {
	const W, H, l, r, t, b = 760, 280, 56, 16, 14, 34
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, q := range s.pts {
			if !math.IsNaN(q.v) && !math.IsInf(q.v, 0) {
				lo, hi = min(lo, q.v), max(hi, q.v)
			}
		}
	}
	if lo > hi || unit {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	yt := niceTicks(lo, hi, 6)
	lo, hi = min(lo, yt[0]), max(hi, yt[len(yt)-1])
	x := func(step int) float64 { return l + float64(step)/float64(max(xmax, 1))*(W-l-r) }
	y := func(v float64) float64 { return t + (hi-v)/(hi-lo)*(H-t-b) }
	fmt.Fprintf(w, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s by step\">\n", W, H, ylabel)
	for _, v := range yt {
		fmt.Fprintf(w, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><text class=\"axis\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			l, W-r, y(v), y(v), l-6, y(v)+4, tickLabel(v))
	}
	for _, s := range niceTicks(0, float64(xmax), 6) {
		if s < 0 || s > float64(xmax) {
			continue
		}
		fmt.Fprintf(w, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/><text class=\"axis\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			x(int(s)), x(int(s)), t, H-b, x(int(s)), H-b+16, tickLabel(s))
	}
	fmt.Fprintf(w, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"end\">step</text>\n", W-r, H-2)
	for i, s := range ss {
		var pts strings.Builder
		for _, q := range s.pts {
			if !math.IsNaN(q.v) && !math.IsInf(q.v, 0) {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(q.step), y(q.v))
			}
		}
		fmt.Fprintf(w, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n", s.color, strings.TrimSpace(pts.String()))
		if s.dots {
			for _, q := range s.pts {
				if !math.IsNaN(q.v) && !math.IsInf(q.v, 0) {
					fmt.Fprintf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>step %d: %s %.4f</title></circle>\n",
						x(q.step), y(q.v), s.color, q.step, s.name, q.v)
				}
			}
		}
		lx := float64(W - r - 90)
		ly := float64(t + 12 + 16*i)
		fmt.Fprintf(w, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			lx, lx+18, ly-4, ly-4, s.color, lx+24, ly, s.name)
	}
	fmt.Fprintf(w, "</svg>\n")
}

// niceTicks returns about n round values (1, 2 or 5 × a power of ten apart) that cover
// [lo, hi]: for 2.13..4.87 and 6, 2 3 4 5; and 8, 2 2.5 3 … 5.
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if span <= 0 {
		return []float64{lo}
	}
	raw := span / float64(max(n-1, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []float64
	for i := math.Floor(lo / step); ; i++ {
		ts = append(ts, i*step)
		if i*step >= hi-step*1e-9 {
			return ts
		}
	}
}

func tickLabel(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

// thousands writes n with commas: 85584 → 85,584.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// HeldOut is the input (six symbols) of the sort task's i-th held-out row, i < 729/4 or so:
// the prompt of a run's evaluation samples, which the model never trained on.
func (s *SortTask) HeldOut(i int) []int32 {
	tokens, targets := make([]int32, SortContext), make([]int32, SortContext)
	sortRow(tokens, targets, s.test[i%len(s.test)])
	return tokens[:sortLen]
}
