package site

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The embedded site is whole: every page's links lead to a page of the site
// (or to /search, which robots.txt disallows), every page is reachable from
// the home page, and the texts are all there.
func TestSiteLinks(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	href := regexp.MustCompile(`href="([^"]+)"`)
	reached := map[string]bool{"index.html": true}
	queue := []string{"index.html"}
	var htmlBytes int
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		b := s.File(name)
		htmlBytes += len(b)
		for _, m := range href.FindAllStringSubmatch(string(b), -1) {
			u, err := url.Parse(m[1])
			if err != nil || u.IsAbs() {
				t.Errorf("%s links to %q", name, m[1])
				continue
			}
			target := strings.TrimPrefix(u.Path, "/")
			if target == "search" || target == "style.css" {
				continue
			}
			if s.File(target) == nil {
				t.Errorf("%s links to %s, which the site lacks", name, m[1])
			} else if !reached[target] {
				reached[target] = true
				queue = append(queue, target)
			}
		}
	}
	pages := 0
	for _, p := range s.Paths() {
		if strings.HasSuffix(p, ".html") {
			pages++
			if !reached[p] {
				t.Errorf("%s is not reachable from the home page", p)
			}
		}
	}
	// 1,189 chapters of 66 books with the contents of each, 81 parts of the
	// Opticks and its contents, home and about.
	if pages != 1189+66+1+81+1+2 || htmlBytes < 5_000_000 {
		t.Errorf("%d pages, %d bytes of HTML reached; want 1,340 pages and over 5 MB", pages, htmlBytes)
	}
	for name, want := range map[string]string{
		"kjv/genesis/1.html":     "In the beginning God created the heaven and the earth.",
		"kjv/revelation/22.html": "The grace of our Lord Jesus Christ be with you all. Amen.",
		"opticks/part-001.html":  "OPTICKS",
	} {
		if !strings.Contains(string(s.File(name)), want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
}

func TestServe(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, c := range []struct {
		path, contentType, body string
		code                    int
	}{
		{"/", "text/html; charset=utf-8", "Loopback Library", 200},
		{"/kjv/", "text/html; charset=utf-8", "King James Version", 200},
		{"/kjv/genesis/1.html", "text/html; charset=utf-8", "Let there be light", 200},
		{"/robots.txt", "text/plain; charset=utf-8", "Disallow: /search", 200},
		{"/search?q=light", "", "", 404},
		{"/../etc/passwd", "", "", 404},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.code == 200 && (resp.Header.Get("Content-Type") != c.contentType || !strings.Contains(string(b), c.body))) {
			t.Errorf("GET %s: %d %q, want %d %q with %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.contentType, c.body)
		}
	}
}
