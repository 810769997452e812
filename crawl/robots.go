package crawl

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// RobotsMaxBytes is how much of a robots.txt file is parsed. RFC 9309
// asks for at least 500 KiB; Google stops there too. A line cut by the
// limit is dropped.
const RobotsMaxBytes = 500 << 10

// Robots is a parsed robots.txt file (RFC 9309). For is the group of rules
// that one crawler obeys.
//
// A group is a run of user-agent lines followed by rules (allow,
// disallow). Lines that are neither (sitemap, crawl-delay, unknown keys)
// do not end a run of user-agent lines, so in
//
//	user-agent: a
//	sitemap: https://example.com/sitemap.xml
//	user-agent: b
//	disallow: /
//
// a and b share one group, as Google reads it. Rules before the first
// user-agent line belong to no group and are ignored.
type Robots struct {
	groups []robotsGroup
	// Sitemaps are the values of the Sitemap lines, in order. They belong
	// to no group.
	Sitemaps []string

	rules *Rules // the crawler's group, kept by the robots cache
}

type robotsGroup struct {
	agents     []string // product tokens, lower-case; "*" for the catch-all
	rules      []robotsRule
	crawlDelay time.Duration
	hasDelay   bool
}

type robotsRule struct {
	allow   bool
	pattern string // normalized as paths are (normPath), with * and $ kept
}

// Rules are the rules one crawler obeys on one host.
type Rules struct {
	rules []robotsRule
	// CrawlDelay is the group's Crawl-delay (not part of RFC 9309, but
	// widely used); HasCrawlDelay says whether there was one.
	CrawlDelay    time.Duration
	HasCrawlDelay bool
}

// AllowAll are the rules of a host whose robots.txt is unavailable (4xx)
// or empty: everything may be fetched.
var AllowAll = &Rules{}

// DisallowAll are the rules of a host whose robots.txt cannot be fetched
// (5xx, unreachable): nothing may be fetched.
var DisallowAll = &Rules{rules: []robotsRule{{allow: false, pattern: "/"}}}

// ParseRobots parses a robots.txt file. It never fails: lines it does not
// understand are passed over, as RFC 9309 asks. Only the first
// RobotsMaxBytes are read.
func ParseRobots(body []byte) *Robots {
	if len(body) > RobotsMaxBytes {
		body = body[:RobotsMaxBytes]
		if i := bytes.LastIndexAny(body, "\r\n"); i >= 0 {
			body = body[:i]
		}
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	r := &Robots{}
	var cur *robotsGroup
	sawRule := false // cur has had a rule, so a user-agent line starts a new group
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		key, value, ok := robotsLine(line)
		if !ok {
			continue
		}
		switch key {
		case "user-agent":
			if cur == nil || sawRule {
				r.groups = append(r.groups, robotsGroup{})
				cur, sawRule = &r.groups[len(r.groups)-1], false
			}
			if agent := lineAgent(value); agent != "" {
				cur.agents = append(cur.agents, agent)
			}
		case "allow", "disallow":
			if cur == nil {
				continue // before any user-agent line
			}
			sawRule = true
			if value == "" {
				continue // "disallow:" with no path disallows nothing
			}
			cur.rules = append(cur.rules, robotsRule{allow: key == "allow", pattern: normPath(value)})
		case "crawl-delay":
			if cur == nil || cur.hasDelay {
				continue
			}
			if secs, err := strconv.ParseFloat(value, 64); err == nil && secs >= 0 && secs < 1e6 {
				cur.crawlDelay, cur.hasDelay = time.Duration(secs*float64(time.Second)), true
			}
		case "sitemap":
			if value != "" {
				r.Sitemaps = append(r.Sitemaps, value)
			}
		}
	}
	return r
}

// robotsKeys maps the keys we read, and the misspellings of them that
// Google accepts, to their names.
var robotsKeys = map[string]string{
	"user-agent": "user-agent", "useragent": "user-agent", "user agent": "user-agent",
	"allow":    "allow",
	"disallow": "disallow", "dissallow": "disallow", "dissalow": "disallow", "disalow": "disallow", "diasllow": "disallow", "disallaw": "disallow",
	"crawl-delay": "crawl-delay", "crawldelay": "crawl-delay",
	"sitemap": "sitemap", "site-map": "sitemap",
}

// robotsLine splits a line into its key (one of robotsKeys' names) and
// value, without the comment and surrounding white space. A line without
// a colon is read as "key value" when its first word is a known key.
func robotsLine(line []byte) (key, value string, ok bool) {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimSpace(string(line))
	if s == "" {
		return "", "", false
	}
	k, v, found := strings.Cut(s, ":")
	if !found {
		k, v, found = strings.Cut(s, " ")
		if !found {
			k, v, found = strings.Cut(s, "\t")
		}
		if !found {
			return "", "", false
		}
	}
	key, ok = robotsKeys[strings.ToLower(strings.TrimSpace(k))]
	return key, strings.TrimSpace(v), ok
}

// lineAgent returns the product token of a user-agent line's value,
// lower-case: "*" for the catch-all, else the leading run of letters, "-"
// and "_" (RFC 9309's identifier), so "Googlebot/2.1" names "googlebot".
// A value with no such run names no crawler ("").
func lineAgent(v string) string {
	if v == "*" || strings.HasPrefix(v, "*") && (v[1] == ' ' || v[1] == '\t') {
		return "*"
	}
	return ProductToken(v)
}

// ProductToken returns the product token of a User-Agent string, lower-case:
// its leading run of letters, "-" and "_". The token of
// "pipe-crawler/0.1 (+https://example.com)" is "pipe-crawler". It is what
// robots.txt user-agent lines are matched against.
func ProductToken(ua string) string {
	i := 0
	for i < len(ua) {
		c := ua[i]
		if c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			i++
			continue
		}
		break
	}
	return strings.ToLower(ua[:i])
}

// For returns the rules that a crawler with the given product token (see
// ProductToken) obeys: those of every group naming the token, case
// insensitively and exactly ("googlebot-news" is not "googlebot"),
// combined; when none names it, those of the "*" groups combined; when
// there are none, no rules. The Crawl-delay is the first given among the
// groups used.
func (r *Robots) For(token string) *Rules {
	token = strings.ToLower(token)
	out := r.combine(token)
	if out == nil {
		out = r.combine("*")
	}
	if out == nil {
		out = &Rules{}
	}
	return out
}

func (r *Robots) combine(agent string) *Rules {
	var out *Rules
	for i := range r.groups {
		g := &r.groups[i]
		for _, a := range g.agents {
			if a != agent || agent == "" {
				continue
			}
			if out == nil {
				out = &Rules{}
			}
			out.rules = append(out.rules, g.rules...)
			if g.hasDelay && !out.HasCrawlDelay {
				out.CrawlDelay, out.HasCrawlDelay = g.crawlDelay, true
			}
			break
		}
	}
	return out
}

// Allowed reports whether a URL path (with its query, without the
// fragment; "" means "/") may be fetched. The rule with the longest pattern
// that matches decides; between an allow and a disallow rule of the same
// length, allow wins; no matching rule means allowed. /robots.txt is
// always allowed.
func (r *Rules) Allowed(pathQuery string) bool {
	if pathQuery == "" {
		pathQuery = "/"
	}
	if p, _, _ := strings.Cut(pathQuery, "?"); p == "/robots.txt" {
		return true
	}
	p := normPath(pathQuery)
	best, allow := -1, true
	for _, rule := range r.rules {
		n := len(rule.pattern)
		if n < best || n == best && !rule.allow {
			continue
		}
		if matchPattern(rule.pattern, p) {
			best, allow = n, rule.allow
		}
	}
	return allow
}

// matchPattern reports whether path matches a robots.txt pattern: "*"
// stands for any run of characters, a "$" at the end anchors the pattern
// at the end of the path, and otherwise the pattern need only match a
// prefix of the path.
//
// Matching the literal pieces between stars leftmost-first is enough:
// for "/a*b*c" it finds the first "b" after "/a", then the first "c"
// after that; a later "b" could only leave less room for "c".
func matchPattern(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	if anchored {
		pattern = pattern[:len(pattern)-1]
	}
	pieces := strings.Split(pattern, "*")
	first := pieces[0]
	if !strings.HasPrefix(path, first) {
		return false
	}
	pos := len(first)
	if len(pieces) == 1 {
		return !anchored || pos == len(path)
	}
	for _, piece := range pieces[1 : len(pieces)-1] {
		i := strings.Index(path[pos:], piece)
		if i < 0 {
			return false
		}
		pos += i + len(piece)
	}
	last := pieces[len(pieces)-1]
	if anchored {
		return len(path)-len(last) >= pos && strings.HasSuffix(path, last)
	}
	return strings.Contains(path[pos:], last)
}

// normPath puts a URL path (with query) or a robots.txt pattern in the
// form that RFC 9309 section 2.2.2 compares: octets outside printable
// ASCII percent-encoded, the escapes of unreserved characters decoded
// ("%62" is "b"), other escapes with upper-case hex digits. In the query,
// the escapes of ":", "@", "/" and "?" are decoded too, characters that a
// query may hold literally, so that a rule written
// "/foo?url=https://a.b" matches "/foo?url=https%3A%2F%2Fa.b" (the RFC's
// example). A "%" that starts no escape is written "%25".
func normPath(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c <= ' ' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	inQuery := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '?':
			inQuery = true
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) || inQuery && (d == ':' || d == '@' || d == '/' || d == '?') {
				b.WriteByte(d)
			} else {
				writeEscape(&b, d)
			}
			i += 2
		case c == '%' || c <= ' ' || c >= 0x7f:
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isUnreserved reports whether c is an unreserved character of RFC 3986:
// ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}
