package clean

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// The article-extraction benchmark: 181 real pages with the human-written
// main text of each, in ../shared/bench/extraction next to the repository.
const benchDir = "../../shared/bench/extraction"

// Floors just under what the extractor reaches (F1 0.9762, precision
// 0.9651, recall 0.9875), so a regression fails.
const (
	benchFloorF1        = 0.972
	benchFloorPrecision = 0.960
	benchFloorRecall    = 0.980
)

type benchPage struct {
	id, url, truth string
	html           []byte
}

// loadBench reads the benchmark, or skips the test when it is not there
// (it lives outside the repository), unless PIPE_PEERS=1 says that every
// peer and data set must be present.
func loadBench(tb testing.TB) []benchPage {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(benchDir, "ground-truth.json"))
	if err != nil {
		if os.Getenv("PIPE_PEERS") == "1" {
			tb.Fatalf("extraction benchmark missing: %v", err)
		}
		tb.Skipf("extraction benchmark missing: %v", err)
	}
	var truth map[string]struct {
		ArticleBody string `json:"articleBody"`
		URL         string `json:"url"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, 0, len(truth))
	for id := range truth {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	pages := make([]benchPage, 0, len(ids))
	for _, id := range ids {
		f, err := os.Open(filepath.Join(benchDir, "html", id+".html.gz"))
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		html, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			tb.Fatalf("%s: %v", id, err)
		}
		pages = append(pages, benchPage{id: id, url: truth[id].URL, truth: truth[id].ArticleBody, html: html})
	}
	return pages
}

// TestExtractionBenchmark extracts every page of the benchmark and scores
// the texts as the benchmark does. With PIPE_EXTRACT_DUMP=dir it also
// writes each page's extraction and truth there, and logs the worst pages.
func TestExtractionBenchmark(t *testing.T) {
	pages := loadBench(t)
	dump := os.Getenv("PIPE_EXTRACT_DUMP")
	scores := make([]ExtractionScore, len(pages))
	type worst struct {
		f1   float64
		p, r float64
		i    int
	}
	var ws []worst
	for i, pg := range pages {
		res, err := Extract(pg.html, "")
		if err != nil && ExtractReason(err) != ReasonNoMainText {
			t.Errorf("%s: %v", pg.id, err)
		}
		scores[i] = ScoreExtraction(pg.truth, res.Text)
		p, r := scores[i].Precision(), scores[i].Recall()
		f1 := 0.0
		if p+r > 0 {
			f1 = 2 * p * r / (p + r)
		}
		ws = append(ws, worst{f1, p, r, i})
		if dump != "" {
			base := filepath.Join(dump, pg.id[:12])
			os.WriteFile(base+".out.txt", []byte(res.Title+"\n\n"+res.Text), 0o644)
			os.WriteFile(base+".truth.txt", []byte(pg.url+"\n\n"+pg.truth), 0o644)
		}
	}
	sum := SummarizeExtraction(scores)
	t.Logf("%d pages: F1 %.4f  precision %.4f  recall %.4f", sum.Pages, sum.F1, sum.Precision, sum.Recall)
	if dump != "" {
		slices.SortFunc(ws, func(a, b worst) int { return cmpFloat(a.f1, b.f1) })
		var b bytes.Buffer
		for _, w := range ws[:min(40, len(ws))] {
			fmt.Fprintf(&b, "%.3f P %.3f R %.3f %s %s\n", w.f1, w.p, w.r, pages[w.i].id[:12], pages[w.i].url)
		}
		t.Logf("worst pages:\n%s", b.String())
	}
	if sum.F1 < benchFloorF1 || sum.Precision < benchFloorPrecision || sum.Recall < benchFloorRecall {
		t.Errorf("below the floor: F1 %.4f P %.4f R %.4f, want at least %.3f %.3f %.3f",
			sum.F1, sum.Precision, sum.Recall, benchFloorF1, benchFloorPrecision, benchFloorRecall)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// BenchmarkExtract extracts the benchmark's pages, one after another, and
// reports pages per second (MB/s is of the raw HTML).
func BenchmarkExtract(b *testing.B) {
	pages := loadBench(b)
	var total int64
	for _, pg := range pages {
		total += int64(len(pg.html))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, pg := range pages {
			Extract(pg.html, "")
		}
	}
	b.ReportMetric(float64(b.N*len(pages))/b.Elapsed().Seconds(), "pages/s")
}

// TestExtractDebug prints the scored element tree of one benchmark page:
// PIPE_EXTRACT_DEBUG=<id prefix> go test -run TestExtractDebug.
func TestExtractDebug(t *testing.T) {
	prefix := os.Getenv("PIPE_EXTRACT_DEBUG")
	if prefix == "" {
		t.Skip("PIPE_EXTRACT_DEBUG not set")
	}
	for _, pg := range loadBench(t) {
		if len(pg.id) < len(prefix) || pg.id[:len(prefix)] != prefix {
			continue
		}
		page, _, err := decodeHTML(pg.html, "")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		ix := indexPage(doc.Nodes[0])
		ix.scoreBlocks()
		before := slices.Clone(ix.prose)
		main := ix.selectMain()
		var b bytes.Buffer
		depth := make([]int, len(ix.elems))
		for i, e := range ix.elems {
			if e.parent >= 0 {
				depth[i] = depth[e.parent] + 1
			}
			if ix.subChars[i] < 20 && !ix.gone[i] {
				continue
			}
			if e.parent >= 0 && ix.gone[e.parent] && before[i] < 100 {
				continue
			}
			mark := " "
			if int32(i) == main {
				mark = "*"
			} else if ix.gone[i] {
				mark = "x"
			}
			cls := elemAttr(e.node, "class")
			if id := elemAttr(e.node, "id"); id != "" {
				cls += " #" + id
			}
			if len(cls) > 60 {
				cls = cls[:60]
			}
			fmt.Fprintf(&b, "%s%4d %*s%s.%s own %.0f sum %.0f prose %.0f (%.0f) chars %d links %d\n", mark, i, depth[i], "", e.node.Data, cls, ix.own[i], ix.sum[i], ix.prose[i], before[i], ix.subChars[i], ix.subLinks[i])
		}
		t.Logf("%s\n%s", pg.url, b.String())
	}
}
