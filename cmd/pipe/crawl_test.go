package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/crawl"
	"github.com/pipe-dev/pipe/internal/peertest"
	"github.com/pipe-dev/pipe/warc"
)

// The servers here are httptest servers on 127.0.0.1, and every crawl
// runs with --allow-private; nothing else is ever contacted.

// crawlSite is a test site that counts requests by request URI.
type crawlSite struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	n    int // requests for pages (not robots.txt)
	onN  func(n int)
}

func newCrawlSite(t *testing.T, h http.HandlerFunc) *crawlSite {
	t.Helper()
	s := &crawlSite{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.RequestURI()]++
		if r.URL.Path != "/robots.txt" {
			s.n++
			if s.onN != nil {
				s.onN(s.n)
			}
		}
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crawlSite) hit(uri string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[uri]
}

func crawlHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><html><head><title>t</title></head><body>%s</body></html>", body)
}

// crawlPages serves /p/0 .. /p/n-1, each linking to the next two.
func crawlPages(n int, delay time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &i); err != nil || i >= n {
			http.NotFound(w, r)
			return
		}
		time.Sleep(delay)
		crawlHTML(w, fmt.Sprintf(`<p>page %d</p><a href="/p/%d">a</a> <a href="/p/%d">b</a>`, i, i+1, i+2))
	}
}

// crawlSummary parses the JSON summary on the last line of stdout.
func crawlSummary(t *testing.T, stdout []byte) crawl.Stats {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(stdout), []byte("\n"))
	var st crawl.Stats
	if err := json.Unmarshal(lines[len(lines)-1], &st); err != nil {
		t.Fatalf("last line of stdout %q: %v", lines[len(lines)-1], err)
	}
	return st
}

// crawlResponses reads the response records of the completed WARC files
// in dir: how many times each target URI was written.
func crawlResponses(t *testing.T, dir string) (map[string]int, []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.warc.gz"))
	sort.Strings(files)
	got := map[string]int{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := warc.NewReader(f, path)
		first := true
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if first && rec.Type != warc.TypeWarcinfo {
				t.Errorf("%s starts with a %s record", path, rec.Type)
			}
			first = false
			if rec.Type == warc.TypeResponse {
				got[rec.TargetURI]++
			}
		}
		f.Close()
	}
	return got, files
}

// warcioCheck reads a WARC file with warcio (the peer), checking that
// every record parses and every digest verifies, and returns the number
// of records of each type.
func warcioCheck(t *testing.T, path string) map[string]int {
	t.Helper()
	out := peer(t, nil, "warc_peer.py", "read", path)
	types := map[string]int{}
	for line := range bytes.Lines(out) {
		var v struct {
			Type      string `json:"type"`
			DigestsOK *bool  `json:"digests_ok"`
			Content   string `json:"content_sha1"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("warcio output %q: %v", line, err)
		}
		if v.DigestsOK != nil && !*v.DigestsOK {
			t.Errorf("%s: warcio finds a bad digest: %s", path, line)
		}
		if strings.HasPrefix(v.Content, "error") {
			t.Errorf("%s: warcio cannot decode a payload: %s", path, line)
		}
		types[v.Type]++
	}
	return types
}

func TestCrawlCLISite(t *testing.T) {
	const n = 20
	s := newCrawlSite(t, crawlPages(n, 0))
	out, state := t.TempDir(), t.TempDir()
	stdout := mustRun(t, nil, "crawl", "--seeds", s.URL+"/p/0", "--out", out, "--state", state,
		"--allow-private", "--per-host-delay", "0")
	st := crawlSummary(t, stdout)
	if st.Pages != n || !st.Done || st.Skipped["status_404"] != 2 {
		t.Errorf("summary %+v", st)
	}
	got, files := crawlResponses(t, out)
	for i := range n {
		if c := got[fmt.Sprintf("%s/p/%d", s.URL, i)]; c != 1 {
			t.Errorf("/p/%d written %d times", i, c)
		}
	}
	if len(files) != 1 {
		t.Fatalf("files %q", files)
	}
	var stats crawl.Stats
	b, err := os.ReadFile(filepath.Join(out, "crawl-stats-00000.json"))
	if err != nil || json.Unmarshal(b, &stats) != nil || stats.Pages != n {
		t.Errorf("stats file: %v %s", err, b)
	}
	if peertest.Wanted() {
		types := warcioCheck(t, files[0])
		if types["warcinfo"] != 1 || types["request"] != n || types["response"] != n || types["metadata"] != n {
			t.Errorf("warcio reads %v", types)
		}
	}
}

func TestCrawlCLIPeer(t *testing.T) {
	peerDir(t)
	// gzip-encoded and chunked responses, a redirect, a truncated body: the
	// records warcio must read with valid digests.
	s := newCrawlSite(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			crawlHTML(w, `<a href="/moved">m</a><a href="/big">b</a><a href="/chunked">c</a>`)
		case "/moved":
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		case "/big":
			w.Header().Set("Content-Type", "text/plain")
			w.Write(bytes.Repeat([]byte("0123456789"), 10000))
		case "/chunked":
			w.Header().Set("Content-Type", "text/html")
			for i := range 5 {
				fmt.Fprintf(w, "<p>chunk %d</p>", i)
				w.(http.Flusher).Flush()
			}
		}
	})
	out := t.TempDir()
	mustRun(t, nil, "crawl", "--seeds", s.URL+"/", "--out", out, "--allow-private", "--per-host-delay", "0", "--max-body-size", "10KiB")
	_, files := crawlResponses(t, out)
	types := warcioCheck(t, files[0])
	if types["response"] != 4 {
		t.Errorf("warcio reads %v", types)
	}
}

func TestCrawlCLIStdout(t *testing.T) {
	s := newCrawlSite(t, crawlPages(3, 0))
	r := run(t, nil, "crawl", "--seeds", s.URL+"/p/0", "--allow-private", "--per-host-delay", "0")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rd := warc.NewReader(bytes.NewReader(r.stdout), "stdout")
	n := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == warc.TypeResponse {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d responses on stdout", n)
	}
}

// TestCrawlCLIHostileSite crawls one site with everything a crawler meets:
// robots.txt rules, 429 with Retry-After, a 5xx storm, a redirect loop and
// an endless redirect chain, a huge body, a slow page, non-HTML, malformed
// HTML, and links to another host out of scope.
func TestCrawlCLIHostileSite(t *testing.T) {
	other := newCrawlSite(t, func(w http.ResponseWriter, r *http.Request) { crawlHTML(w, "other") })
	var mu sync.Mutex
	busy, storm := 0, 0
	s := newCrawlSite(t, func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\nAllow: /private/ok\n")
		case p == "/":
			crawlHTML(w, `<a href="/private/x">x</a><a href="/private/ok">ok</a><a href="/busy">b</a><a href="/storm">s</a>
				<a href="/down">d</a><a href="/loop1">l</a><a href="/chain/0">c</a><a href="/huge">h</a><a href="/slow">sl</a>
				<a href="/pdf">p</a><a href="/broken">br</a><a href="`+other.URL+`/">o</a><a href="/x" rel="nofollow">n</a>`)
		case p == "/busy":
			mu.Lock()
			busy++
			first := busy == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			crawlHTML(w, "not busy")
		case p == "/storm": // 500, 503, then fine
			mu.Lock()
			storm++
			k := storm
			mu.Unlock()
			if k <= 2 {
				w.WriteHeader(500 + 3*(k-1))
				return
			}
			crawlHTML(w, "calm")
		case p == "/down":
			w.WriteHeader(http.StatusBadGateway)
		case p == "/loop1":
			http.Redirect(w, r, "/loop2", http.StatusFound)
		case p == "/loop2":
			http.Redirect(w, r, "/loop1", http.StatusFound)
		case strings.HasPrefix(p, "/chain/"):
			var i int
			fmt.Sscanf(p, "/chain/%d", &i)
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", i+1), http.StatusFound)
		case p == "/huge":
			w.Header().Set("Content-Type", "text/html")
			chunk := bytes.Repeat([]byte("<p>huge</p>"), 1000)
			for range 2000 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case p == "/slow":
			time.Sleep(1500 * time.Millisecond)
			crawlHTML(w, "slow")
		case p == "/pdf":
			w.Header().Set("Content-Type", "application/pdf")
			w.Write([]byte("%PDF-1.4"))
		case p == "/broken":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body><a href='/private/ok'>ok<div><<<>>></table></b><a href=\"/p\x00q\">z</a>\xff\xfe"))
		default:
			crawlHTML(w, "leaf")
		}
	})
	out := t.TempDir()
	start := time.Now()
	stdout := mustRun(t, nil, "crawl", "--seeds", s.URL+"/", "--out", out, "--allow-private", "--per-host-delay", "0",
		"--per-host-connections", "4", "--retries", "2", "--retry-wait", "20ms", "--timeout", "500ms", "--max-redirects", "3", "--max-body-size", "100KiB")
	el := time.Since(start)
	st := crawlSummary(t, stdout)
	if other.hit("/") != 0 || st.Links["out_of_scope"] != 1 {
		t.Errorf("out-of-scope host: %d requests, links %v", other.hit("/"), st.Links)
	}
	if s.hit("/private/x") != 0 || s.hit("/private/ok") != 1 || st.Skipped["robots_disallowed"] != 1 {
		t.Errorf("robots: /private/x %d, /private/ok %d, skipped %v", s.hit("/private/x"), s.hit("/private/ok"), st.Skipped)
	}
	if s.hit("/busy") != 2 || s.hit("/storm") != 3 || s.hit("/down") != 3 || st.Skipped["status_502"] != 1 {
		t.Errorf("retries: busy %d storm %d down %d, skipped %v", s.hit("/busy"), s.hit("/storm"), s.hit("/down"), st.Skipped)
	}
	if el < time.Second {
		t.Errorf("took %v: Retry-After not waited for", el)
	}
	if s.hit("/loop1") != 1 || s.hit("/loop2") != 1 || s.hit("/chain/3") != 1 || s.hit("/chain/4") != 0 || st.Skipped["too_many_redirects"] != 1 {
		t.Errorf("redirects: loop %d %d, chain/3 %d chain/4 %d, skipped %v", s.hit("/loop1"), s.hit("/loop2"), s.hit("/chain/3"), s.hit("/chain/4"), st.Skipped)
	}
	if st.Truncated != 1 || st.Skipped["timeout"] != 1 || st.Skipped["content_type"] != 1 || st.Links["nofollow"] != 1 {
		t.Errorf("summary %+v", st)
	}
	got, _ := crawlResponses(t, out)
	for _, p := range []string{"/", "/private/ok", "/busy", "/storm", "/huge", "/broken"} {
		if got[s.URL+p] != 1 {
			t.Errorf("%s written %d times", p, got[s.URL+p])
		}
	}
	for _, p := range []string{"/pdf", "/down", "/slow", "/private/x"} {
		if got[s.URL+p] != 0 {
			t.Errorf("%s written", p)
		}
	}
}

func TestCrawlCLIRefusesPrivate(t *testing.T) {
	s := newCrawlSite(t, crawlPages(2, 0))
	stdout := mustRun(t, nil, "crawl", "--seeds", s.URL+"/p/0", "--out", t.TempDir(), "--retries", "0")
	st := crawlSummary(t, stdout)
	if s.hit("/p/0") != 0 || s.hit("/robots.txt") != 0 || st.Skipped["private_address"] != 1 {
		t.Errorf("a loopback server was contacted: %v, %+v", s.hits, st)
	}
}

func TestCrawlCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"crawl"},
		{"crawl", "--seeds", "/no/such/file"},
		{"crawl", "--seeds", "http://127.0.0.1:1/", "--scope", "("},
		{"crawl", "--seeds", "http://127.0.0.1:1/", "--rank", "2", "--world-size", "2"},
		{"crawl", "--seeds", "http://127.0.0.1:1/", "--max-file-size", "lots"},
		{"crawl", "--seeds", "http://127.0.0.1:1/", "--concurrency", "0"},
	} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("pipe %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// TestCrawlCLIKillResume kills a crawl with SIGKILL twice and interrupts it
// once, mid-crawl, and restarts it on the same state each time: every page
// must be written exactly once over the WARC files, and none lost.
func TestCrawlCLIKillResume(t *testing.T) {
	const n = 150
	s := newCrawlSite(t, crawlPages(n, 3*time.Millisecond))
	out, state := t.TempDir(), t.TempDir()
	args := []string{"crawl", "--seeds", s.URL + "/p/0", "--out", out, "--state", state, "--allow-private",
		"--per-host-delay", "0", "--commit-every", "30ms", "--max-file-size", "8KiB"}

	for i, killAt := range []int{30, 70, 110} {
		sig := os.Kill
		if i == 1 {
			sig = os.Interrupt // a clean stop
		}
		killed := make(chan struct{})
		var once sync.Once
		s.mu.Lock()
		s.onN = func(k int) {
			if k >= killAt {
				once.Do(func() { close(killed) })
			}
		}
		s.mu.Unlock()
		cmd := exec.Command(pipeBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-killed:
			cmd.Process.Signal(sig)
			err := <-done
			if sig == os.Interrupt && err != nil {
				t.Fatalf("interrupted crawl: %v\n%s", err, stderr.Bytes())
			}
		case err := <-done:
			t.Fatalf("crawl ended before it was killed: %v\n%s", err, stderr.Bytes())
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("crawl did not reach %d pages", killAt)
		}
	}
	s.mu.Lock()
	s.onN = nil
	s.mu.Unlock()
	stdout := mustRun(t, nil, args...)
	st := crawlSummary(t, stdout)
	if !st.Done || st.TotalPages != n || st.Queued != 0 {
		t.Errorf("final run: %+v", st)
	}
	got, files := crawlResponses(t, out)
	for i := range n {
		if c := got[fmt.Sprintf("%s/p/%d", s.URL, i)]; c != 1 {
			t.Errorf("/p/%d written %d times", i, c)
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct pages written, want %d", len(got), n)
	}
	if open, _ := filepath.Glob(filepath.Join(out, "*.open")); len(open) != 0 {
		t.Errorf("files left open: %q", open)
	}
	if len(files) < 3 {
		t.Errorf("only %d files", len(files))
	}
	t.Logf("%d page requests for %d pages over %d files", s.n, n, len(files))
	if peertest.Wanted() {
		// The files one after the other are a WARC file too (gzip members).
		var all bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		cat := filepath.Join(t.TempDir(), "all.warc.gz")
		os.WriteFile(cat, all.Bytes(), 0o644)
		if got := warcioCheck(t, cat)["response"]; got != n {
			t.Errorf("warcio reads %d responses, want %d", got, n)
		}
	}
}
