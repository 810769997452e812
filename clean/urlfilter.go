package clean

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/pipe-dev/pipe/docio"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// URLFilterConfig holds the lists of the URL filter, which applies them as
// datatrove 0.10.1's URLFilter does. datatrove's built-in lists are not ours
// to ship: point the File fields at lists of your choice, such as the ones
// in datatrove's assets (banned_words.txt, banned_subwords.txt,
// soft_banned_words.txt, and the domains and urls files of its blocklist
// archive).
//
// List files have one entry per line; surrounding white space is trimmed,
// blank lines and lines starting with '#' are skipped. Each list is the
// entries of its file followed by those of its field.
type URLFilterConfig struct {
	// Domains: a listed registered domain (the host's public suffix and one
	// label more, by the ICANN section of the Public Suffix List) blocks
	// that domain and every host under it (reason "domain"); a listed host
	// that is not a registered domain blocks that host exactly (reason
	// "subdomain"). With "example.com" listed, "example.com" and
	// "www.example.com" are dropped, "badexample.com" is not; with
	// "ads.example.com", "ads.example.com" is dropped, "x.ads.example.com"
	// is not. A host without a listed suffix (an IP address, "localhost")
	// is never blocked by domain.
	DomainsFile string
	Domains     []string
	// URLs drop a document whose URL is one of them, character for
	// character (reason "url").
	URLsFile string
	URLs     []string
	// BannedWords drop a URL that has one of them as a word (reason
	// "hard_blacklisted"). The URL's words are its runs of ASCII letters and
	// digits; an entry is reduced to its ASCII letters and digits, so
	// "free-money" is the word "freemoney". "porn" drops
	// http://x.com/porn-videos, not /pornography.
	BannedWordsFile string
	BannedWords     []string
	// SoftBannedWords drop a URL that has at least SoftWordThreshold
	// different ones of them as words (reason "soft_blacklisted");
	// SoftWordThreshold 0 means datatrove's 2.
	SoftBannedWordsFile string
	SoftBannedWords     []string
	SoftWordThreshold   int
	// BannedSubwords drop a URL that contains one of them anywhere once
	// both are reduced to lower-case ASCII letters and digits (reason
	// "blacklisted_subword").
	BannedSubwordsFile string
	BannedSubwords     []string
}

// URLFilter drops documents by their URL (doc.URL, or a string
// doc.Metadata["url"] when that is empty); a document without a URL is
// kept. The checks, in datatrove's order and with its reasons: domain,
// subdomain, url, hard_blacklisted, soft_blacklisted, blacklisted_subword.
//
// One difference from datatrove 0.10.1: hosts and words are compared in
// lower case, so http://WWW.Example.COM/Casino is dropped with
// "example.com" or "casino" listed, where datatrove (which compares them
// as written) keeps it. On a URL in lower case the two decide alike. It is
// safe for concurrent use.
type URLFilter struct {
	domains    map[string]bool
	urls       map[string]bool
	banned     map[string]bool
	soft       map[string]int // word → its index
	softThresh int
	subwords   []string
}

var _ Filter = (*URLFilter)(nil)

// NewURLFilter reads the list files of cfg and returns the filter.
func NewURLFilter(cfg URLFilterConfig) (*URLFilter, error) {
	f := &URLFilter{banned: map[string]bool{}, soft: map[string]int{}, softThresh: cfg.SoftWordThreshold}
	if f.softThresh <= 0 {
		f.softThresh = 2
	}
	domains, err := listWithFile(cfg.Domains, cfg.DomainsFile)
	if err != nil {
		return nil, err
	}
	f.domains = make(map[string]bool, len(domains))
	for _, d := range domains {
		f.domains[strings.ToLower(strings.TrimRight(d, "."))] = true
	}
	urls, err := listWithFile(cfg.URLs, cfg.URLsFile)
	if err != nil {
		return nil, err
	}
	f.urls = make(map[string]bool, len(urls))
	for _, u := range urls {
		f.urls[u] = true
	}
	banned, err := listWithFile(cfg.BannedWords, cfg.BannedWordsFile)
	if err != nil {
		return nil, err
	}
	for _, w := range banned {
		if w = alnumLower(w); w != "" {
			f.banned[w] = true
		}
	}
	soft, err := listWithFile(cfg.SoftBannedWords, cfg.SoftBannedWordsFile)
	if err != nil {
		return nil, err
	}
	for _, w := range soft {
		if _, ok := f.soft[alnumLower(w)]; !ok && alnumLower(w) != "" {
			f.soft[alnumLower(w)] = len(f.soft)
		}
	}
	subwords, err := listWithFile(cfg.BannedSubwords, cfg.BannedSubwordsFile)
	if err != nil {
		return nil, err
	}
	for _, w := range subwords {
		if w = alnumLower(w); w != "" {
			f.subwords = append(f.subwords, w)
		}
	}
	return f, nil
}

func (f *URLFilter) Name() string { return "url" }

func (f *URLFilter) Filter(doc *docio.Document) (bool, string) {
	u := doc.URL
	if u == "" {
		u, _ = doc.Metadata["url"].(string)
		if u == "" {
			return true, ""
		}
	}
	if len(f.domains) > 0 {
		host := urlHostname(u)
		if reg := registeredDomain(host); reg != "" {
			if f.domains[reg] {
				return false, "domain"
			}
			if f.domains[host] {
				return false, "subdomain"
			}
		}
	}
	if f.urls[u] {
		return false, "url"
	}
	if len(f.banned) > 0 || len(f.soft) > 0 {
		var softSeen []bool // by index; distinct words count once
		soft := 0
		var buf [64]byte
		for rest := u; rest != ""; {
			var w string
			w, rest = nextURLWord(rest, buf[:0])
			if w == "" {
				continue
			}
			if f.banned[w] {
				return false, "hard_blacklisted"
			}
			if i, ok := f.soft[w]; ok {
				if softSeen == nil {
					softSeen = make([]bool, len(f.soft))
				}
				if !softSeen[i] {
					softSeen[i] = true
					soft++
				}
			}
		}
		if len(f.soft) > 0 && soft >= f.softThresh {
			return false, "soft_blacklisted"
		}
	}
	if len(f.subwords) > 0 {
		norm := alnumLower(u)
		for _, w := range f.subwords {
			if strings.Contains(norm, w) {
				return false, "blacklisted_subword"
			}
		}
	}
	return true, ""
}

// registeredDomain returns the registered domain of a lower-case host: its
// public suffix by the ICANN section of the Public Suffix List and the
// label before it, or "" for a host that has no such suffix or is one (an
// IP address, "localhost", "co.uk"). Private suffixes (blogspot.com) are
// not suffixes here, as in tldextract's default. A host in Unicode is
// looked up in its ASCII (punycode) form and answered in its own.
func registeredDomain(host string) string {
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	ascii := host
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			a, err := idna.ToASCII(host)
			if err != nil {
				return ""
			}
			ascii = a
			break
		}
	}
	suffix := ""
	for h := ascii; ; {
		s, icann := publicsuffix.PublicSuffix(h)
		if icann {
			suffix = s
			break
		}
		// A private suffix (the ICANN one is inside it), or no rule matched
		// (PublicSuffix's default rule "*": no suffix).
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return ""
		}
		h = s[i+1:]
	}
	// The suffix's labels and one more, counted from the end of host.
	labels := strings.Count(suffix, ".") + 2
	start := len(host)
	for ; labels > 0; labels-- {
		if start <= 0 {
			return "" // the host is the suffix
		}
		start = strings.LastIndexByte(host[:start-1], '.') + 1
	}
	if host[start] == '.' {
		return "" // an empty label before the suffix
	}
	return host[start:]
}

// nextURLWord returns the first run of ASCII letters and digits of s in
// lower case (in buf when it fits) and the rest of s after it.
func nextURLWord(s string, buf []byte) (word, rest string) {
	i := 0
	for i < len(s) && !isAlnumASCII(s[i]) {
		i++
	}
	j := i
	upper := false
	for j < len(s) && isAlnumASCII(s[j]) {
		upper = upper || 'A' <= s[j] && s[j] <= 'Z'
		j++
	}
	w := s[i:j]
	if upper {
		for k := 0; k < len(w); k++ {
			buf = append(buf, lowerASCII(w[k]))
		}
		w = unsafeString(buf)
	}
	return w, s[j:]
}

// alnumLower keeps the ASCII letters and digits of s, in lower case.
func alnumLower(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if isAlnumASCII(s[i]) {
			b = append(b, lowerASCII(s[i]))
		}
	}
	return string(b)
}

// urlHostname returns the lower-case host of a URL as tldextract finds it:
// after the scheme and "//" (or the whole string up to the path, when it
// has none), without user info, port or final dots.
func urlHostname(u string) string {
	if i := strings.Index(u, "//"); i == 0 {
		u = u[2:]
	} else if i >= 2 && u[i-1] == ':' && isScheme(u[:i-1]) {
		u = u[i+2:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "[") { // IPv6 literal
		if i := strings.IndexByte(u, ']'); i >= 0 {
			return strings.ToLower(u[1:i])
		}
		return ""
	}
	if i := strings.IndexByte(u, ':'); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimSpace(u)
	// The other full stops that IDNA treats as dots (tldextract does too).
	if strings.ContainsAny(u, "\u3002\uff0e\uff61") {
		u = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".").Replace(u)
	}
	return strings.ToLower(strings.TrimRight(u, "."))
}

// isScheme reports whether s is made of URL scheme characters (letters,
// digits, '+', '-', '.').
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnumASCII(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// listWithFile returns the entries of the file at path (if path is not
// empty) followed by list.
func listWithFile(list []string, path string) ([]string, error) {
	var out []string
	if path != "" {
		words, err := ReadList(path)
		if err != nil {
			return nil, err
		}
		out = words
	}
	return append(out, list...), nil
}

// ReadList reads a list file: one entry per line, surrounding whitespace
// trimmed, blank lines and lines starting with '#' skipped. The entries
// are pieces of one string (a string per line was half the time of
// reading a long list), and a line may be 1 MiB long.
func ReadList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read list: %w", err)
	}
	var out []string
	for n, rest := 1, string(data); rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if len(line) > maxListLine {
			return nil, fmt.Errorf("read list %s: line %d is longer than %d bytes", path, n, maxListLine)
		}
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			out = append(out, line)
		}
	}
	return out, nil
}

const maxListLine = 1 << 20
