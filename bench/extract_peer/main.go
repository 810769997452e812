// Command extract_peer compares pipe's main-text extraction (clean.Extract)
// with go-trafilatura on the article-extraction benchmark, side by side:
// F1 (the benchmark's shingle scoring, clean.ScoreExtraction) and pages per
// second, one page at a time on one goroutine.
//
// It is a module of its own so that the main module does not depend on
// go-trafilatura:
//
//	cd bench/extract_peer && go run . -data ../../../shared/bench/extraction
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/markusmobius/go-trafilatura"
	"github.com/pipe-dev/pipe/clean"
)

type page struct {
	id, truth string
	html      []byte
}

type extractor struct {
	name string
	run  func(html []byte) string
}

func main() {
	data := flag.String("data", "../../../shared/bench/extraction", "the benchmark directory")
	rounds := flag.Int("rounds", 3, "timed passes over all pages; the fastest counts")
	only := flag.String("only", "", "run only the extractor with this name")
	flag.Parse()

	pages, err := load(*data)
	if err != nil {
		log.Fatal(err)
	}
	var bytesIn int
	for _, p := range pages {
		bytesIn += len(p.html)
	}
	fmt.Printf("%d pages, %.1f MB of HTML; %d rounds, fastest counts\n\n", len(pages), float64(bytesIn)/1e6, *rounds)
	fmt.Printf("%-38s %7s %7s %7s %9s %8s\n", "extractor", "F1", "P", "R", "pages/s", "MB/s")

	for _, x := range []extractor{
		{"pipe clean.Extract", func(h []byte) string {
			res, _ := clean.Extract(h, "")
			return res.Text
		}},
		{"go-trafilatura (fallback)", trafilaturaRun(true, trafilatura.Default)},
		{"go-trafilatura (no fallback)", trafilaturaRun(false, trafilatura.Default)},
		{"go-trafilatura (no fallback, no date)", trafilaturaRun(false, trafilatura.Disabled)},
	} {
		if *only != "" && *only != x.name {
			continue
		}
		texts := make([]string, len(pages))
		best := time.Duration(1 << 62)
		for r := 0; r < *rounds; r++ {
			start := time.Now()
			for i, p := range pages {
				texts[i] = x.run(p.html)
			}
			best = min(best, time.Since(start))
		}
		scores := make([]clean.ExtractionScore, len(pages))
		for i, p := range pages {
			scores[i] = clean.ScoreExtraction(p.truth, texts[i])
		}
		s := clean.SummarizeExtraction(scores)
		sec := best.Seconds()
		fmt.Printf("%-38s %7.4f %7.4f %7.4f %9.1f %8.2f\n", x.name, s.F1, s.Precision, s.Recall,
			float64(len(pages))/sec, float64(bytesIn)/1e6/sec)
	}
}

func trafilaturaRun(fallback bool, date trafilatura.HtmlDateMode) func([]byte) string {
	return func(h []byte) string {
		res, err := trafilatura.Extract(bytes.NewReader(h), trafilatura.Options{
			EnableFallback: fallback,
			HtmlDateMode:   date,
		})
		if err != nil || res == nil {
			return ""
		}
		return res.ContentText
	}
}

func load(dir string) ([]page, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "ground-truth.json"))
	if err != nil {
		return nil, err
	}
	var truth map[string]struct {
		ArticleBody string `json:"articleBody"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(truth))
	for id := range truth {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var pages []page
	for _, id := range ids {
		f, err := os.Open(filepath.Join(dir, "html", id+".html.gz"))
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		h, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		pages = append(pages, page{id: id, truth: truth[id].ArticleBody, html: h})
	}
	return pages, nil
}
