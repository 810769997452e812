package crawl

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"io"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html/charset"
)

// pageInfo is what the crawler reads out of a page.
type pageInfo struct {
	links     []string // absolute, normalized, rel=nofollow ones left out
	nofollow  int      // links left out for rel=nofollow or a robots meta tag
	badLinks  int      // hrefs that are not http(s) URLs
	canonical string   // <link rel=canonical>, resolved; "" when none
	charset   string   // the page's encoding (WHATWG name) as declared or detected
	robots    string   // the content of <meta name=robots>, lower-case
}

// charsetOf returns the encoding of a page: from a byte order mark, the
// Content-Type header's charset, a <meta> in the first 1024 bytes, or,
// failing those, utf-8 when the bytes are valid UTF-8 and windows-1252
// when not (the HTML standard's rules, as x/net/html/charset applies
// them).
func charsetOf(payload []byte, contentType string) string {
	_, name, _ := charset.DetermineEncoding(payload, contentType)
	return name
}

// readPage parses an HTML page fetched from u and collects its links:
// the href of every a and area element, resolved against the page's
// <base href> (or u), left out when rel has nofollow or a
// <meta name=robots> (or one naming agent) says nofollow.
func readPage(u *url.URL, payload []byte, contentType, agent string) pageInfo {
	info := pageInfo{charset: charsetOf(payload, contentType)}
	var r io.Reader = bytes.NewReader(payload)
	if info.charset != "utf-8" {
		if cr, err := charset.NewReaderLabel(info.charset, r); err == nil {
			r = cr
		}
	}
	doc, err := goquery.NewDocumentFromReader(r)
	if err != nil {
		return info // the HTML parser reads any bytes; only a read error gets here
	}
	base := u
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := Resolve(u, href); err == nil {
			base, _ = url.Parse(b)
		}
	}
	nofollowAll := false
	doc.Find("meta[name]").Each(func(_ int, s *goquery.Selection) {
		name := strings.ToLower(strings.TrimSpace(s.AttrOr("name", "")))
		if name != "robots" && (agent == "" || name != agent) {
			return
		}
		content := strings.ToLower(s.AttrOr("content", ""))
		if info.robots == "" {
			info.robots = strings.TrimSpace(content)
		}
		for t := range strings.SplitSeq(content, ",") {
			if t = strings.TrimSpace(t); t == "nofollow" || t == "none" {
				nofollowAll = true
			}
		}
	})
	doc.Find("link[rel][href]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if !hasToken(s.AttrOr("rel", ""), "canonical") {
			return true
		}
		if c, err := Resolve(base, s.AttrOr("href", "")); err == nil {
			info.canonical = c
			return false
		}
		return true
	})
	doc.Find("a[href], area[href]").Each(func(_ int, s *goquery.Selection) {
		if nofollowAll || hasToken(s.AttrOr("rel", ""), "nofollow") {
			info.nofollow++
			return
		}
		l, err := Resolve(base, s.AttrOr("href", ""))
		if err != nil {
			info.badLinks++
			return
		}
		info.links = append(info.links, l)
	})
	return info
}

// hasToken reports whether a space-separated list (a rel attribute) has
// token, case-insensitively.
func hasToken(list, token string) bool {
	for _, t := range strings.Fields(list) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

// sitemapMaxBytes bounds a sitemap, decompressed: the sitemaps protocol's
// 50 MB.
const sitemapMaxBytes = 50 << 20

// readSitemap returns the URLs a sitemap lists: the <loc> of each <url> of
// a <urlset>, and of each <sitemap> of a <sitemapindex> (in sitemaps),
// resolved against u. A gzipped sitemap is decompressed; a plain text one
// lists a URL a line.
func readSitemap(u *url.URL, payload []byte) (pages, sitemaps []string) {
	if bytes.HasPrefix(payload, []byte{0x1f, 0x8b}) {
		if zr, err := gzip.NewReader(bytes.NewReader(payload)); err == nil {
			if b, err := io.ReadAll(io.LimitReader(zr, sitemapMaxBytes)); len(b) > 0 {
				_ = err // a cut-off sitemap still lists the URLs before the cut
				payload = b
			}
		}
	}
	trimmed := bytes.TrimSpace(payload)
	if !bytes.HasPrefix(trimmed, []byte("<")) {
		for line := range bytes.Lines(trimmed) {
			if l, err := Resolve(u, string(bytes.TrimSpace(line))); err == nil {
				pages = append(pages, l)
			}
		}
		return pages, nil
	}
	d := xml.NewDecoder(bytes.NewReader(payload))
	d.Strict = false
	d.CharsetReader = charset.NewReaderLabel
	var stack []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, strings.ToLower(t.Name.Local))
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			n := len(stack)
			if n < 2 || stack[n-1] != "loc" {
				continue
			}
			l, err := Resolve(u, string(t))
			if err != nil {
				continue
			}
			switch stack[n-2] {
			case "url":
				pages = append(pages, l)
			case "sitemap":
				sitemaps = append(sitemaps, l)
			}
		}
	}
	return pages, sitemaps
}
