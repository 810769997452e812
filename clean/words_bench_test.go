package clean

import (
	"os"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

// benchDocs returns the corpus of TestFiltersMatchDatatrove when the Debian
// documentation is installed (scripts/peers.sh), else pieces of
// testdata/article.txt.
func benchDocs(b *testing.B) []docio.Document {
	if _, err := os.Stat("/usr/share/doc/debian-handbook/html/en-US"); err == nil {
		return filterCorpus(b)
	}
	text, err := os.ReadFile("testdata/article.txt")
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	var docs []docio.Document
	for n := 1; n <= len(lines); n++ {
		docs = append(docs, docio.Document{Text: strings.Join(lines[:n], "\n")})
	}
	return docs
}

// BenchmarkFilters measures documents per second of each filter alone and
// of the chain that datatrove_peer.py bench times in datatrove: Gopher
// repetition, Gopher quality, C4, FineWeb (each seeing only what the
// previous kept, C4 rewriting), then PII on what is left. One goroutine.
func BenchmarkFilters(b *testing.B) {
	docs := benchDocs(b)
	var size int64
	for _, d := range docs {
		size += int64(len(d.Text))
	}
	rep := NewGopherRepetition(DefaultGopherRepetition())
	qual := NewGopherQuality(DefaultGopherQuality())
	c4 := NewC4(DefaultC4())
	fw := NewFineWeb(DefaultFineWeb())
	pii := NewPII(DefaultPII())
	run := func(b *testing.B, filters []Filter, withPII bool) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			for _, d := range docs {
				kept := true
				for _, f := range filters {
					if kept, _ = f.Filter(&d); !kept {
						break
					}
				}
				if kept && withPII {
					pii.Apply(&d)
				}
			}
		}
		b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	}
	b.Run("pipeline", func(b *testing.B) { run(b, []Filter{rep, qual, c4, fw}, true) })
	for _, f := range []Filter{rep, qual, c4, fw} {
		b.Run(f.Name(), func(b *testing.B) { run(b, []Filter{f}, false) })
	}
	b.Run("pii", func(b *testing.B) { run(b, nil, true) })
	b.Run("words", func(b *testing.B) {
		var tok wordTokenizer
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			for _, d := range docs {
				tok.wordsOf(d.Text)
			}
		}
		b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}
