// Command crawl_peer measures pipe's crawler against colly
// (github.com/gocolly/colly/v2) side by side on the same in-process site on
// loopback, politeness off: pages per second and the peak Go heap of each.
//
//	go run . -pages 5000 -c 8 -runs 3
//
// Both crawl one host with -c connections and no delay, follow every
// a[href], and parse every page with goquery. colly keeps nothing; pipe
// writes WARC files (gzip member per record) and keeps its frontier and
// seen set in bbolt, which is the work it exists to do. A third row
// ("pipe, WARC to /dev/null") shows the cost of the files. The result is
// one JSON object on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gocolly/colly/v2"
	"github.com/pipe-dev/pipe/crawl"
)

// site serves n pages of about 4 KB, each linking to the next page and
// to ten others (a fixed pseudo-random choice); robots.txt is 404.
func site(n int) http.HandlerFunc {
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

// cpuSeconds is the CPU time (user and system) this process has used:
// crawler and site together, the site's share the same for every crawler.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakHeap samples the Go heap in use while f runs and returns f's
// seconds and the peak in MiB.
func peakHeap(f func()) (secs, mib float64) {
	runtime.GC()
	done := make(chan struct{})
	var peak atomic.Uint64
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	f()
	secs = time.Since(start).Seconds()
	close(done)
	return secs, float64(peak.Load()) / (1 << 20)
}

func runColly(url string, conns, want int) int {
	c := colly.NewCollector(colly.Async(true))
	c.WithTransport(&http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second})
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: conns}); err != nil {
		log.Fatal(err)
	}
	var pages sync.Map // URL → true: colly's visited check can let a URL through twice under Async
	c.OnHTML("a[href]", func(e *colly.HTMLElement) { e.Request.Visit(e.Attr("href")) })
	c.OnResponse(func(r *colly.Response) { pages.Store(r.Request.URL.String(), true) })
	if err := c.Visit(url); err != nil {
		log.Fatal(err)
	}
	c.Wait()
	n := 0
	pages.Range(func(any, any) bool { n++; return true })
	return n
}

func runPipe(url string, conns int, toFiles bool) int {
	state, err := os.MkdirTemp("", "crawl-peer-state-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(state)
	cfg := crawl.Config{
		Seeds: []string{url}, AllowPrivate: true, Concurrency: conns, PerHostConnections: conns,
		StateDir: state, MaxDepth: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if toFiles {
		out, err := os.MkdirTemp("", "crawl-peer-out-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(out)
		cfg.OutDir = out
	} else {
		cfg.Out = io.Discard
	}
	st, err := crawl.Run(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	return int(st.Pages)
}

type row struct {
	Name         string    `json:"name"`
	PagesPerS    float64   `json:"pages_per_second"` // median over runs
	Runs         []float64 `json:"runs"`
	PeakHeapMiB  float64   `json:"peak_heap_mib"`   // largest over runs
	CPUms        float64   `json:"cpu_ms_per_page"` // median over runs; the site's share included
	cpu          []float64
	Pages        int     `json:"pages"`
	VsColly      float64 `json:"vs_colly"`
	Description  string  `json:"description"`
	Connections  int     `json:"connections"`
	SitePages    int     `json:"site_pages"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
	GoVersion    string  `json:"go_version"`
	CollyVersion string  `json:"colly_version"`
}

func main() {
	pages := flag.Int("pages", 5000, "pages on the site")
	conns := flag.Int("c", 8, "connections to the host (colly Parallelism, pipe --per-host-connections and --concurrency)")
	runs := flag.Int("runs", 3, "runs of each, alternating")
	flag.Parse()

	srv := httptest.NewServer(site(*pages))
	defer srv.Close()
	seed := srv.URL + "/p/0"

	type contender struct {
		name, desc string
		run        func() int
	}
	contenders := []contender{
		{"colly", "colly v2 Async, LimitRule Parallelism c, OnHTML a[href] Visit; nothing stored", func() int { return runColly(seed, *conns, *pages) }},
		{"pipe", "pipe crawl: robots.txt, WARC files (gzip per record), bbolt frontier", func() int { return runPipe(seed, *conns, true) }},
		{"pipe-discard", "pipe crawl with the WARC stream to io.Discard (bbolt frontier still)", func() int { return runPipe(seed, *conns, false) }},
	}
	rows := make([]row, len(contenders))
	for i, c := range contenders {
		rows[i] = row{Name: c.name, Description: c.desc, Connections: *conns, SitePages: *pages,
			GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), CollyVersion: "v2.3.0"}
	}
	for r := 0; r < *runs; r++ {
		for i, c := range contenders {
			var n int
			cpu0 := cpuSeconds()
			secs, mib := peakHeap(func() { n = c.run() })
			rows[i].cpu = append(rows[i].cpu, (cpuSeconds()-cpu0)*1000/float64(n))
			if n != *pages {
				log.Fatalf("%s crawled %d pages of %d", c.name, n, *pages)
			}
			rows[i].Runs = append(rows[i].Runs, float64(n)/secs)
			rows[i].PeakHeapMiB = max(rows[i].PeakHeapMiB, mib)
			rows[i].Pages = n
			fmt.Fprintf(os.Stderr, "run %d %-13s %7.0f pages/s  %.3f CPU ms/page  peak heap %.1f MiB\n", r, c.name, float64(n)/secs, rows[i].cpu[len(rows[i].cpu)-1], mib)
		}
	}
	for i := range rows {
		s := slices.Clone(rows[i].Runs)
		slices.Sort(s)
		rows[i].PagesPerS = s[len(s)/2]
		c := slices.Clone(rows[i].cpu)
		slices.Sort(c)
		rows[i].CPUms = c[len(c)/2]
	}
	for i := range rows {
		rows[i].VsColly = rows[i].PagesPerS / rows[0].PagesPerS
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rows)
}
