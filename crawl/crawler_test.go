package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/warc"
)

// Every test server here listens on loopback (httptest's 127.0.0.1), and
// every crawl sets AllowPrivate; no test reaches any other address.

// server is an in-process site that counts the requests it gets.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.RequestURI()]++
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *server) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.hits {
		n += v
	}
	return n
}

func html(body string) string {
	return "<!doctype html><html><head><title>t</title></head><body>" + body + "</body></html>"
}

func writeHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, html(body))
}

// testConfig is a crawl of seeds fit for tests: private addresses allowed,
// no politeness delay, short retry waits and timeouts.
func testConfig(t *testing.T, seeds ...string) Config {
	return Config{
		Seeds:        seeds,
		AllowPrivate: true,
		RetryWait:    5 * time.Millisecond,
		Timeout:      2 * time.Second,
		OutDir:       t.TempDir(),
		StateDir:     t.TempDir(),
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Concurrency:  4,
		MaxDepth:     -1,
	}
}

func runCrawl(t *testing.T, cfg Config) *Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return st
}

// record is a WARC record as the tests look at it.
type record struct {
	file, typ, target string
	header            warc.Header
	status            int
	httpHeader        warc.Header
	payload           []byte
	block             []byte
}

// readWARCs reads every completed WARC file in dir, in name order.
func readWARCs(t *testing.T, dir string) []record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.warc.gz"))
	sort.Strings(files)
	var out []record
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := warc.NewReader(f, path)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			block, err := io.ReadAll(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			x := record{file: filepath.Base(path), typ: rec.Type, target: rec.TargetURI, header: rec.Header, block: block}
			if rec.Type == warc.TypeResponse {
				resp, err := warc.ReadHTTPResponse(bytes.NewReader(block))
				if err != nil {
					t.Fatalf("%s: %s: %v", path, rec.TargetURI, err)
				}
				x.status, x.httpHeader = resp.StatusCode, resp.Header
				if x.payload, err = io.ReadAll(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, x)
		}
		f.Close()
	}
	return out
}

func responses(recs []record) map[string]record {
	m := map[string]record{}
	for _, r := range recs {
		if r.typ == warc.TypeResponse {
			m[r.target] = r
		}
	}
	return m
}

// linkedSite serves n pages /p/0 .. /p/n-1, each linking to the next two
// and back to the first.
func linkedSite(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &i); err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		writeHTML(w, fmt.Sprintf(`<h1>page %d</h1><p>text of page %d</p><a href="/p/%d">next</a> <a href="%d">skip</a> <a href="/p/0#top">home</a>`,
			i, i, i+1, i+2))
	}
}

func TestCrawlSite(t *testing.T) {
	const n = 30
	s := newServer(t, linkedSite(n))
	cfg := testConfig(t, s.URL+"/p/0")
	st := runCrawl(t, cfg)
	if st.Pages != n || !st.Done || st.Queued != 0 {
		t.Fatalf("pages %d done %v queued %d, want %d true 0; stats %+v", st.Pages, st.Done, st.Queued, n, st)
	}
	for i := range n {
		if h := s.hit(fmt.Sprintf("/p/%d", i)); h != 1 {
			t.Errorf("/p/%d fetched %d times", i, h)
		}
	}
	recs := readWARCs(t, cfg.OutDir)
	if len(recs) == 0 || recs[0].typ != warc.TypeWarcinfo {
		t.Fatalf("first record is not warcinfo")
	}
	infoID := recs[0].header.Get("WARC-Record-ID")
	counts := map[string]int{}
	reqIDs := map[string]string{}
	for _, r := range recs {
		counts[r.typ]++
		if r.typ == warc.TypeWarcinfo {
			continue
		}
		if got := r.header.Get("WARC-Warcinfo-ID"); got != infoID {
			t.Errorf("%s %s: WARC-Warcinfo-ID %q, want %q", r.typ, r.target, got, infoID)
		}
		if r.header.Get("WARC-Date") == "" {
			t.Errorf("%s %s: no WARC-Date", r.typ, r.target)
		}
		switch r.typ {
		case warc.TypeRequest:
			reqIDs[r.target] = r.header.Get("WARC-Record-ID")
			if !bytes.HasPrefix(r.block, []byte("GET /p/")) || !bytes.Contains(r.block, []byte("User-Agent: "+DefaultUserAgent)) {
				t.Errorf("request block %q", r.block)
			}
		case warc.TypeResponse:
			if r.status != 200 {
				t.Errorf("%s: status %d", r.target, r.status)
			}
			if ip := r.header.Get("WARC-IP-Address"); ip != "127.0.0.1" {
				t.Errorf("%s: WARC-IP-Address %q", r.target, ip)
			}
			sum := sha1.Sum(r.payload)
			if want := "sha1:" + base32.StdEncoding.EncodeToString(sum[:]); r.header.Get("WARC-Payload-Digest") != want {
				t.Errorf("%s: payload digest %s, want %s", r.target, r.header.Get("WARC-Payload-Digest"), want)
			}
			if r.header.Get("WARC-Concurrent-To") != reqIDs[r.target] {
				t.Errorf("%s: response not concurrent to its request", r.target)
			}
			if !bytes.Contains(r.payload, []byte("text of page")) {
				t.Errorf("%s: payload %q", r.target, r.payload)
			}
		case warc.TypeMetadata:
			if !bytes.Contains(r.block, []byte("charset-detected: utf-8\r\n")) || !bytes.Contains(r.block, []byte("fetchTimeMs: ")) {
				t.Errorf("%s: metadata %q", r.target, r.block)
			}
		}
	}
	if counts[warc.TypeRequest] != n || counts[warc.TypeResponse] != n || counts[warc.TypeMetadata] != n || counts[warc.TypeWarcinfo] != 1 {
		t.Errorf("record counts %v", counts)
	}
	if len(responses(recs)) != n {
		t.Errorf("%d distinct responses, want %d", len(responses(recs)), n)
	}
	if len(st.Files) != 1 || !strings.HasSuffix(st.Files[0], ".warc.gz") {
		t.Errorf("files %q", st.Files)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(cfg.OutDir, "*"+openSuffix)); len(leftovers) > 0 {
		t.Errorf("open files left: %q", leftovers)
	}
}

func TestCrawlToStream(t *testing.T) {
	s := newServer(t, linkedSite(5))
	cfg := testConfig(t, s.URL+"/p/0")
	var buf bytes.Buffer
	cfg.OutDir, cfg.Out, cfg.StateDir = "", &buf, ""
	st := runCrawl(t, cfg)
	if st.Pages != 5 {
		t.Fatalf("pages %d", st.Pages)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.warc.gz"), buf.Bytes(), 0o644)
	if got := len(responses(readWARCs(t, dir))); got != 5 {
		t.Errorf("%d responses in the stream", got)
	}
}

func TestCrawlRobots(t *testing.T) {
	robots := "user-agent: *\ndisallow: /private\ncrawl-delay: 0.1\n\nuser-agent: otherbot\ndisallow: /\n"
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			io.WriteString(w, robots)
		case "/":
			writeHTML(w, `<a href="/private/a">a</a><a href="/public">b</a><a href="/privately">c</a><a href="/robots.txt">r</a>`)
		default:
			writeHTML(w, "leaf")
		}
	})
	cfg := testConfig(t, s.URL+"/")
	start := time.Now()
	st := runCrawl(t, cfg)
	if s.hit("/private/a") != 0 || s.hit("/privately") != 0 {
		t.Error("a disallowed page was fetched")
	}
	if st.Skipped[ReasonRobots] != 2 {
		t.Errorf("skipped %v", st.Skipped)
	}
	if st.Pages != 3 || s.hit("/robots.txt") != 2 { // once for the rules, once as a page
		t.Errorf("pages %d, robots.txt fetched %d times", st.Pages, s.hit("/robots.txt"))
	}
	// Crawl-delay 0.1s between the 3 page fetches.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("crawl took %v: Crawl-delay not honoured", el)
	}
}

func TestRobotsFetchPolicy(t *testing.T) {
	for _, c := range []struct {
		name      string
		robots    http.HandlerFunc
		wantPages int64
		reason    string
	}{
		{"404 allows all", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 2, ""},
		{"403 allows all", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, 2, ""},
		{"500 disallows all", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 0, ReasonRobotsDown},
		{"429 disallows all", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, 0, ReasonRobotsDown},
		{"redirect followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/real-robots.txt", http.StatusMovedPermanently)
		}, 1, ReasonRobots},
		{"redirect loop allows all", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/robots.txt?again", http.StatusFound)
		}, 2, ""},
		{"cut-off connection disallows all", func(w http.ResponseWriter, r *http.Request) {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		}, 0, ReasonRobotsDown},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/robots.txt":
					c.robots(w, r)
				case "/real-robots.txt":
					io.WriteString(w, "user-agent: pipe-crawler\ndisallow: /b\n")
				case "/":
					writeHTML(w, `<a href="/b">b</a>`)
				default:
					writeHTML(w, "b")
				}
			})
			cfg := testConfig(t, s.URL+"/")
			cfg.Retries = 1
			st := runCrawl(t, cfg)
			if st.Pages != c.wantPages {
				t.Errorf("pages %d, want %d; stats %+v", st.Pages, c.wantPages, st)
			}
			if c.reason != "" && st.Skipped[c.reason] == 0 {
				t.Errorf("skipped %v, want %s", st.Skipped, c.reason)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	var mu sync.Mutex
	flaky, busy := 0, 0
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			writeHTML(w, `<a href="/flaky">f</a><a href="/down">d</a><a href="/busy">b</a><a href="/later">l</a><a href="/slow">s</a><a href="/forever">x</a>`)
		case "/flaky": // two 500s, then a page
			mu.Lock()
			flaky++
			n := flaky
			mu.Unlock()
			if n <= 2 {
				w.WriteHeader(500)
				return
			}
			writeHTML(w, "ok at last")
		case "/down":
			w.WriteHeader(502)
		case "/busy": // 429 with Retry-After once
			mu.Lock()
			busy++
			first := busy == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			writeHTML(w, "not busy now")
		case "/later": // Retry-After longer than allowed
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(503)
		case "/slow":
			time.Sleep(400 * time.Millisecond)
			writeHTML(w, "slow")
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(t, s.URL+"/")
	cfg.Retries = 2
	cfg.Timeout = 200 * time.Millisecond
	cfg.MaxRetryAfter = 5 * time.Second
	cfg.PerHostConnections = 2
	start := time.Now()
	st := runCrawl(t, cfg)
	el := time.Since(start)
	if s.hit("/flaky") != 3 || s.hit("/down") != 3 || s.hit("/busy") != 2 || s.hit("/later") != 1 || s.hit("/slow") != 3 {
		t.Errorf("hits %v", s.hits)
	}
	want := map[string]int64{"status_502": 1, ReasonRetryAfter: 1, ReasonTimeout: 1, "status_404": 1}
	for k, v := range want {
		if st.Skipped[k] != v {
			t.Errorf("skipped[%s] = %d, want %d (%v)", k, st.Skipped[k], v, st.Skipped)
		}
	}
	if st.Pages != 3 { // /, /flaky, /busy
		t.Errorf("pages %d", st.Pages)
	}
	if el < time.Second {
		t.Errorf("crawl took %v: Retry-After: 1 not waited for", el)
	}
}

func TestRedirects(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			writeHTML(w, `<a href="/loop/a">a</a><a href="/chain/0">c</a><a href="/moved">m</a>`)
		case r.URL.Path == "/loop/a":
			http.Redirect(w, r, "/loop/b", http.StatusFound)
		case r.URL.Path == "/loop/b":
			http.Redirect(w, r, "/loop/a", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/chain/"):
			var i int
			fmt.Sscanf(r.URL.Path, "/chain/%d", &i)
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", i+1), http.StatusMovedPermanently)
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/target", http.StatusMovedPermanently)
		case r.URL.Path == "/target":
			writeHTML(w, "target")
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(t, s.URL+"/")
	cfg.MaxRedirects = 3
	st := runCrawl(t, cfg)
	if s.hit("/loop/a") != 1 || s.hit("/loop/b") != 1 {
		t.Errorf("loop fetched %d, %d times", s.hit("/loop/a"), s.hit("/loop/b"))
	}
	for i := 0; i <= 3; i++ {
		if s.hit(fmt.Sprintf("/chain/%d", i)) != 1 {
			t.Errorf("/chain/%d fetched %d times", i, s.hit(fmt.Sprintf("/chain/%d", i)))
		}
	}
	if s.hit("/chain/4") != 0 {
		t.Error("redirect limit not applied")
	}
	if st.Skipped[ReasonTooManyRedirs] != 1 || st.Pages != 2 || st.Redirects != 7 {
		t.Errorf("stats %+v", st)
	}
	resp := responses(readWARCs(t, cfg.OutDir))
	if r, ok := resp[s.URL+"/moved"]; !ok || r.status != 301 || r.httpHeader.Get("Location") != "/target" {
		t.Errorf("redirect record %+v", r)
	}
}

func TestBodiesAndTypes(t *testing.T) {
	page := html(strings.Repeat("<p>compressible text</p>", 200))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(page))
	zw.Close()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			writeHTML(w, `<a href="/huge">h</a><a href="/png">p</a><a href="/gz">g</a><a href="/plain">t</a><a href="/nottype">n</a><a href="/latin1">l</a><a href="/badgz">b</a><a href="/bomb">z</a>`)
		case "/huge": // endless
			w.Header().Set("Content-Type", "text/html")
			chunk := []byte(strings.Repeat("<p>more</p>", 1000))
			for range 10000 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n"))
		case "/gz":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				t.Error("no Accept-Encoding: gzip")
			}
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		case "/plain":
			w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
			w.Write([]byte("caf\xe9"))
		case "/nottype": // no Content-Type: sniffed as HTML
			w.Header()["Content-Type"] = nil
			w.Write([]byte("<html><body><p>sniffed</p></body></html>"))
		case "/latin1":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<html><head><meta charset="windows-1252"></head><body><a href="/caf` + "\xe9" + `">c</a></body></html>`))
		case "/badgz":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("\x1f\x8bnot really gzip at all"))
		case "/bomb": // 8 MiB of zeros in a small gzip
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zero := make([]byte, 1<<20)
			for range 8 {
				if _, err := zw.Write(zero); err != nil {
					return
				}
			}
			zw.Close()
		case "/café":
			writeHTML(w, "café")
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(t, s.URL+"/")
	cfg.MaxBodySize = 64 << 10
	st := runCrawl(t, cfg)
	resp := responses(readWARCs(t, cfg.OutDir))
	if r := resp[s.URL+"/huge"]; len(r.payload) != 64<<10 || r.header.Get("WARC-Truncated") != "length" {
		t.Errorf("huge: %d bytes, WARC-Truncated %q", len(r.payload), r.header.Get("WARC-Truncated"))
	}
	if r := resp[s.URL+"/bomb"]; len(r.payload) != 64<<10 || r.header.Get("WARC-Truncated") != "length" {
		t.Errorf("bomb: %d bytes, WARC-Truncated %q", len(r.payload), r.header.Get("WARC-Truncated"))
	}
	if _, ok := resp[s.URL+"/png"]; ok || st.Skipped[ReasonContentType] != 1 {
		t.Errorf("png written, or not counted: %v", st.Skipped)
	}
	r := resp[s.URL+"/gz"]
	if string(r.payload) != page || r.httpHeader.Get("Content-Encoding") != "" || r.httpHeader.Get("X-Crawler-Content-Encoding") != "gzip" {
		t.Errorf("gz: payload decoded %v, header %v", string(r.payload) == page, r.httpHeader)
	}
	if r := resp[s.URL+"/plain"]; string(r.payload) != "caf\xe9" {
		t.Errorf("plain: %q", r.payload)
	}
	if _, ok := resp[s.URL+"/nottype"]; !ok {
		t.Error("page without Content-Type not kept")
	}
	if _, ok := resp[s.URL+"/caf%C3%A9"]; !ok {
		t.Errorf("link from a windows-1252 page not decoded: %v", s.hits)
	}
	if st.Skipped[ReasonBadEncoding] != 1 {
		t.Errorf("bad gzip: %v", st.Skipped)
	}
	if st.Charsets["iso-8859-1"] != 0 && st.Charsets["windows-1252"] != 2 {
		t.Errorf("charsets %v", st.Charsets)
	}
	if st.Truncated != 2 {
		t.Errorf("truncated %d", st.Truncated)
	}
}

func TestLinksAndScope(t *testing.T) {
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "other host") })
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			writeHTML(w, `<base href="/dir/">
				<link rel="canonical" href="/canon">
				<a href="rel">based</a>
				<a href="/nf" rel="external nofollow">nf</a>
				<a href="`+other.URL+`/x">other host</a>
				<a href="mailto:a@b.c">mail</a><a href="javascript:void(0)">js</a>
				<map><area href="/area"></map>
				<a href="/deep/1">deep</a>`)
		case "/meta-nofollow":
			writeHTML(w, `<meta name="robots" content="noindex, nofollow"><a href="/never">x</a>`)
		case "/deep/1":
			writeHTML(w, `<a href="/deep/2">d</a><a href="/meta-nofollow">m</a>`)
		case "/deep/2":
			writeHTML(w, `<a href="/deep/3">d</a>`)
		default:
			writeHTML(w, "leaf <<<< </b></i> <a href='/broken")
		}
	})
	cfg := testConfig(t, s.URL+"/")
	cfg.MaxDepth = 2
	st := runCrawl(t, cfg)
	if other.total() != 0 {
		t.Error("out-of-scope host fetched")
	}
	for path, want := range map[string]int{"/dir/rel": 1, "/area": 1, "/nf": 0, "/deep/2": 1, "/deep/3": 0, "/meta-nofollow": 1, "/never": 0} {
		if got := s.hit(path); got != want {
			t.Errorf("%s fetched %d times, want %d", path, got, want)
		}
	}
	if st.Links[LinkOutOfScope] != 1 || st.Links[LinkNofollow] != 2 || st.Links[LinkBad] != 2 || st.Links[LinkMaxDepth] == 0 {
		t.Errorf("links %v", st.Links)
	}
	var meta record
	for _, r := range readWARCs(t, cfg.OutDir) {
		if r.typ == warc.TypeMetadata && r.target == s.URL+"/" {
			meta = r
		}
	}
	if !bytes.Contains(meta.block, []byte("canonical: "+s.URL+"/canon\r\n")) {
		t.Errorf("metadata %q", meta.block)
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	s := newServer(t, linkedSite(3))
	cfg := testConfig(t, s.URL+"/p/0")
	cfg.AllowPrivate = false
	cfg.Retries = 1
	st := runCrawl(t, cfg)
	if s.total() != 0 {
		t.Errorf("a loopback server got %d requests", s.total())
	}
	if st.Skipped[ReasonPrivate] != 1 || st.Pages != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSeedRedirectExtendsScope(t *testing.T) {
	target := newServer(t, linkedSite(3))
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/p/0", http.StatusMovedPermanently)
	})
	cfg := testConfig(t, s.URL+"/")
	st := runCrawl(t, cfg)
	if st.Pages != 3 || st.Redirects != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSitemaps(t *testing.T) {
	var base string
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprintf(w, "user-agent: *\nallow: /\nsitemap: %s/sitemap-index.xml\n", base)
		case "/sitemap-index.xml":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>%s/sitemap.xml.gz</loc></sitemap></sitemapindex>`, base)
		case "/sitemap.xml.gz":
			w.Header().Set("Content-Type", "application/gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>%s/only-in-sitemap?a=1&amp;b=2</loc></url></urlset>`, base)
			zw.Close()
		default:
			writeHTML(w, "page")
		}
	})
	base = s.URL
	cfg := testConfig(t, s.URL+"/")
	cfg.Sitemaps = true
	st := runCrawl(t, cfg)
	if s.hit("/only-in-sitemap?a=1&b=2") != 1 || st.Pages != 2 || st.Skipped["sitemap"] != 2 {
		t.Errorf("hits %v stats %+v", s.hits, st)
	}
}

func TestResumeAndRoll(t *testing.T) {
	const n = 40
	s := newServer(t, linkedSite(n))
	cfg := testConfig(t, s.URL+"/p/0")
	cfg.MaxFileSize = 4 << 10 // a few pages a file
	cfg.MaxPages = 15
	st := runCrawl(t, cfg)
	if st.Pages != 15 || st.Done {
		t.Fatalf("first run: %+v", st)
	}
	cfg.MaxPages = 0
	st2 := runCrawl(t, cfg)
	if st2.Pages != n-15 || !st2.Done || st2.TotalPages != n {
		t.Fatalf("second run: %+v", st2)
	}
	recs := readWARCs(t, cfg.OutDir)
	seen := map[string]int{}
	files := map[string]bool{}
	for _, r := range recs {
		files[r.file] = true
		if r.typ == warc.TypeResponse {
			seen[r.target]++
		}
	}
	for i := range n {
		if c := seen[fmt.Sprintf("%s/p/%d", s.URL, i)]; c != 1 {
			t.Errorf("/p/%d written %d times", i, c)
		}
	}
	if len(files) < 4 {
		t.Errorf("only %d files: not rolled", len(files))
	}
	for f := range files {
		var first string
		for _, r := range recs {
			if r.file == f {
				first = r.typ
				break
			}
		}
		if first != warc.TypeWarcinfo {
			t.Errorf("%s starts with %s", f, first)
		}
	}
	// A third run finds nothing to do.
	st3 := runCrawl(t, cfg)
	if st3.Pages != 0 || !st3.Done {
		t.Errorf("third run: %+v", st3)
	}
}

func TestStateInUse(t *testing.T) {
	dir := t.TempDir()
	s1, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.close()
	if _, err := openStore(dir); err == nil || !strings.Contains(err.Error(), ErrStateInUse.Error()) {
		t.Errorf("second open: %v", err)
	}
}

func TestPartition(t *testing.T) {
	var servers []*server
	var seeds []string
	for range 6 {
		s := newServer(t, linkedSite(2))
		servers = append(servers, s)
		seeds = append(seeds, s.URL+"/p/0")
	}
	total := int64(0)
	for rank := range 3 {
		cfg := testConfig(t, seeds...)
		cfg.Rank, cfg.WorldSize = rank, 3
		total += runCrawl(t, cfg).Pages
	}
	if total != 12 {
		t.Errorf("ranks wrote %d pages together, want 12", total)
	}
	for _, s := range servers {
		if s.hit("/p/0") != 1 {
			t.Errorf("%s fetched %d times", s.URL, s.hit("/p/0"))
		}
	}
}

// More hosts than are scheduled at once: the dormant ones are taken up as
// active ones finish.
func TestManyHosts(t *testing.T) {
	defer func(n int) { maxActive = n }(maxActive)
	maxActive = 2
	var seeds []string
	var servers []*server
	for range 7 {
		s := newServer(t, linkedSite(3))
		servers = append(servers, s)
		seeds = append(seeds, s.URL+"/p/0")
	}
	cfg := testConfig(t, seeds...)
	cfg.MaxPages = 10
	if st := runCrawl(t, cfg); st.Pages != 10 {
		t.Fatalf("first run: %+v", st)
	}
	cfg.MaxPages = 0
	st := runCrawl(t, cfg)
	if st.TotalPages != 21 || !st.Done {
		t.Errorf("stats %+v", st)
	}
	for _, s := range servers {
		for i := range 3 {
			if h := s.hit(fmt.Sprintf("/p/%d", i)); h != 1 {
				t.Errorf("%s/p/%d fetched %d times", s.URL, i, h)
			}
		}
	}
}

// One connection per host and the delay between requests, by default;
// hosts are crawled in parallel.
func TestPoliteness(t *testing.T) {
	type visit struct{ start, end time.Time }
	var mu sync.Mutex
	visits := map[string][]visit{}
	inflight, most := 0, 0
	var seeds []string
	for range 3 {
		var s *server
		s = newServer(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inflight++
			most = max(most, inflight)
			mu.Unlock()
			start := time.Now()
			time.Sleep(20 * time.Millisecond)
			linkedSite(4)(w, r)
			mu.Lock()
			inflight--
			visits[s.URL] = append(visits[s.URL], visit{start, time.Now()})
			mu.Unlock()
		})
		seeds = append(seeds, s.URL+"/p/0")
	}
	cfg := testConfig(t, seeds...)
	cfg.PerHostDelay = 60 * time.Millisecond
	cfg.Concurrency = 8
	runCrawl(t, cfg)
	for host, vs := range visits {
		for i := 1; i < len(vs); i++ {
			if vs[i].start.Before(vs[i-1].end) {
				t.Errorf("%s: two requests at once", host)
			}
			if gap := vs[i].start.Sub(vs[i-1].end); gap < 55*time.Millisecond {
				t.Errorf("%s: %v between requests, want 60ms", host, gap)
			}
		}
	}
	if most < 2 {
		t.Errorf("at most %d requests at once over 3 hosts: hosts not crawled in parallel", most)
	}
}
