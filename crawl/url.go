package crawl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// MaxURLBytes is the longest normalized URL the crawler keeps; longer ones
// are dropped (reason "url_too_long"), as most crawlers and servers do.
const MaxURLBytes = 4096

// ErrURL is wrapped by the errors of Normalize and Resolve.
var ErrURL = errors.New("bad URL")

// Normalize returns the normal form of an absolute http or https URL, the
// form the seen set compares:
//
//   - scheme and host lower-case, an internationalized host in punycode,
//     a trailing dot of the host taken off;
//   - the default port (80 for http, 443 for https) and an empty port
//     taken off;
//   - the user name and password taken off;
//   - the path's dot segments removed (RFC 3986 5.2.4), "" made "/";
//   - percent-encoding normalized in path and query: escapes of
//     unreserved characters decoded, other escapes upper-case, bytes that
//     may not appear literally (space, controls, non-ASCII) escaped;
//   - an empty query ("?") and the fragment taken off.
//
// The query's parameters keep their order: reordering them changes the
// meaning of some URLs.
func Normalize(raw string) (string, error) {
	u, err := url.Parse(fixEscapes(strings.TrimSpace(raw)))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrURL, err)
	}
	return normalizeURL(u)
}

// Resolve resolves a reference found in a page (an href, a Location)
// against base and normalizes the result.
func Resolve(base *url.URL, ref string) (string, error) {
	r, err := url.Parse(fixEscapes(strings.TrimSpace(ref)))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrURL, err)
	}
	return normalizeURL(base.ResolveReference(r))
}

func normalizeURL(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		if scheme == "" {
			return "", fmt.Errorf("%w: not absolute: %q", ErrURL, u.String())
		}
		return "", fmt.Errorf("%w: scheme %q", ErrURL, scheme)
	}
	if u.Opaque != "" {
		return "", fmt.Errorf("%w: opaque %s URL", ErrURL, scheme)
	}
	host, err := normHost(u.Hostname())
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("%w: port %q", ErrURL, port)
		}
		port = strconv.Itoa(n)
	}
	if port == "80" && scheme == "http" || port == "443" && scheme == "https" {
		port = ""
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.Contains(host, ":") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port != "" {
		b.WriteString(":" + port)
	}
	path := removeDotSegments(normEscapes(u.EscapedPath(), false))
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if q := u.RawQuery; q != "" {
		b.WriteString("?")
		b.WriteString(normEscapes(q, true))
	}
	if b.Len() > MaxURLBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", errTooLong, MaxURLBytes)
	}
	return b.String(), nil
}

// fixEscapes writes a "%" that starts no escape as "%25", as browsers
// read it, where url.Parse would refuse the URL.
func fixEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
			b.WriteString("%25")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var errTooLong = fmt.Errorf("%w: too long", ErrURL)

// normHost returns a host name lower-case and in punycode, or an IP
// address in its canonical form.
func normHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("%w: no host", ErrURL)
	}
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%w: host %q", ErrURL, h)
		}
		return a.String(), nil
	}
	h = strings.TrimSuffix(h, ".")
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil {
		// Lookup refuses names that registries would; the web has
		// underscores and the like in host names, so fall back to lower case
		// when the name is ASCII.
		for i := 0; i < len(h); i++ {
			if c := h[i]; c >= 0x80 || c <= ' ' || strings.IndexByte("/?#@[]\\%", c) >= 0 {
				return "", fmt.Errorf("%w: host %q", ErrURL, h)
			}
		}
		ascii = strings.ToLower(h)
	}
	if ascii == "" {
		return "", fmt.Errorf("%w: no host", ErrURL)
	}
	return ascii, nil
}

// normEscapes normalizes the percent-encoding of an escaped path or query:
// escapes of unreserved characters are decoded, other escapes made
// upper-case, and bytes not allowed literally are escaped. "%" starting no
// escape becomes "%25".
func normEscapes(s string, query bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) {
				b.WriteByte(d)
			} else {
				writeEscape(&b, d)
			}
			i += 2
		case c == '%' || !allowedInURL(c, query):
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// allowedInURL reports whether c may appear unescaped in a path (or a
// query): unreserved, sub-delims, ":", "@", "/", and in a query "?".
func allowedInURL(c byte, query bool) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return query
	}
	return false
}

// removeDotSegments removes "." and ".." segments from a path, as RFC 3986
// section 5.2.4 does.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// Scope says which URLs a crawl follows.
type Scope struct {
	kind    string          // "host", "domain" or "regex"
	allowed map[string]bool // hosts (with port) for "host"; registrable domains for "domain"
	re      *regexp.Regexp
}

// NewScope returns the scope spec names, for the given seed URLs
// (normalized):
//
//   - "host": URLs on the host (and port) of a seed;
//   - "domain": URLs whose host is a seed's registrable domain (its eTLD+1
//     by the public suffix list, or the host itself when it is an IP
//     address or has no public suffix) or a subdomain of it, on any port;
//   - anything else: a regular expression (Go's syntax) that the
//     normalized URL must match somewhere.
func NewScope(spec string, seeds []string) (*Scope, error) {
	s := &Scope{kind: spec, allowed: map[string]bool{}}
	switch spec {
	case "host", "domain":
		for _, seed := range seeds {
			u, err := url.Parse(seed)
			if err != nil {
				return nil, fmt.Errorf("scope: seed %q: %w", seed, err)
			}
			if spec == "host" {
				s.allowed[u.Host] = true
			} else {
				s.allowed[registrable(u.Hostname())] = true
			}
		}
	default:
		re, err := regexp.Compile(spec)
		if err != nil {
			return nil, fmt.Errorf("scope: %q is neither host, domain nor a regular expression: %w", spec, err)
		}
		s.kind, s.re = "regex", re
	}
	return s, nil
}

// Extend adds the host (or domain) of u to a host or domain scope: the
// crawler does so for the target of a seed's redirect, so that a seed
// http://example.com/ that redirects to https://www.example.com/ is
// crawled. It returns the key added ("" for a regex scope).
func (s *Scope) Extend(u *url.URL) string {
	var k string
	switch s.kind {
	case "host":
		k = u.Host
	case "domain":
		k = registrable(u.Hostname())
	default:
		return ""
	}
	s.allowed[k] = true
	return k
}

// Contains reports whether a normalized URL is in scope.
func (s *Scope) Contains(u *url.URL) bool {
	switch s.kind {
	case "host":
		return s.allowed[u.Host]
	case "domain":
		h := u.Hostname()
		if net.ParseIP(h) != nil {
			return s.allowed[h]
		}
		for {
			if s.allowed[h] {
				return true
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				return false
			}
			h = h[i+1:]
		}
	}
	return s.re.MatchString(u.String())
}

// registrable returns the registrable domain of a host: its eTLD+1, or the
// host itself for an IP address or a name with no public suffix
// ("localhost").
func registrable(host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}

// origin returns scheme://host[:port] of a normalized URL: the key of
// robots.txt, of the per-host queues and of politeness.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// pathQuery returns what robots.txt rules are matched against: the path
// and query of a normalized URL.
func pathQuery(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}
