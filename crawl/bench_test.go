package crawl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// benchSite serves n pages of about 4 KB, each linking to the next page
// and to ten others (a fixed pseudo-random choice), like a small site.
func benchSite(n int) http.HandlerFunc {
	filler := strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n", 40)
	return func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &i); err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<!doctype html><html><head><title>page %d</title></head><body><h1>page %d</h1>\n", i, i)
		b.WriteString(filler)
		fmt.Fprintf(&b, `<a href="/p/%d">next</a>`, (i+1)%n)
		x := uint32(i*2654435761 + 1)
		for range 10 {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			fmt.Fprintf(&b, ` <a href="/p/%d">link</a>`, int(x%uint32(n)))
		}
		b.WriteString("</body></html>")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, b.String())
	}
}

// BenchmarkCrawl crawls a 2,000-page site on loopback with politeness off
// (no delay, 8 connections to the one host), writing WARC files and the
// state to temporary directories; it reports pages per second.
func BenchmarkCrawl(b *testing.B) {
	const n = 2000
	srv := httptest.NewServer(benchSite(n))
	defer srv.Close()
	for b.Loop() {
		cfg := Config{
			Seeds: []string{srv.URL + "/p/0"}, AllowPrivate: true, Concurrency: 8, PerHostConnections: 8,
			OutDir: b.TempDir(), StateDir: b.TempDir(), MaxDepth: -1,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		start := time.Now()
		st, err := Run(context.Background(), cfg)
		if err != nil || st.Pages != n {
			b.Fatalf("pages %d: %v", st.Pages, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "pages/s")
	}
}

// BenchmarkFrontier adds URLs to the frontier as a crawl does (a page's
// links, 50 at a time, then a commit every 256 pages) and reports the Go
// heap in use at the end: it stays flat however many URLs are queued,
// since the frontier is on disk.
func BenchmarkFrontier(b *testing.B) {
	s, err := openStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		host := fmt.Sprintf("http://host%d.example", i%1000)
		if _, _, err := s.add(host, entry{URL: fmt.Sprintf("%s/page/%d", host, i), Kind: kindPage}); err != nil {
			b.Fatal(err)
		}
		i++
		if i%(256*50) == 0 {
			if err := s.commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	s.commit()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(s.queued), "queued")
}
