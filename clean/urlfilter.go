package clean

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/pipe-dev/pipe/docio"
)

// URLFilterConfig holds the lists of the URL filter, in the spirit of
// datatrove's URLFilter (whose built-in lists are not ours to ship: point
// DomainsFile and BannedWordsFile at lists of your choice, such as the
// ones in datatrove's assets).
//
// List files have one entry per line; blank lines and lines starting with
// '#' are skipped. Entries are compared in lower case.
type URLFilterConfig struct {
	// DomainsFile and Domains block a host and all its subdomains: with
	// "example.com" listed, "example.com" and "www.example.com" are dropped,
	// "badexample.com" is not.
	DomainsFile string
	Domains     []string
	// BannedWordsFile and BannedWords drop a URL that has one of them as a
	// word (the URL cut at every character that is not an ASCII letter or
	// digit): "porn" drops http://x.com/porn-videos, not /pornography.
	BannedWordsFile string
	BannedWords     []string
	// SoftBannedWords drop a URL with at least SoftWordThreshold of them
	// as words (datatrove: 2).
	SoftBannedWords   []string
	SoftWordThreshold int
	// BannedSubwords drop a URL that contains one of them anywhere once
	// reduced to lower-case letters and digits.
	BannedSubwords []string
}

// URLFilter drops documents by their URL (doc.URL, or a string
// doc.Metadata["url"] when that is empty); a document without a URL is
// kept. Reasons: domain, banned_word, soft_banned_words, banned_subword.
// It is safe for concurrent use.
type URLFilter struct {
	domains    map[string]bool
	banned     map[string]bool
	soft       map[string]bool
	softThresh int
	subwords   []string
}

var _ Filter = (*URLFilter)(nil)

// NewURLFilter reads the list files of cfg and returns the filter.
func NewURLFilter(cfg URLFilterConfig) (*URLFilter, error) {
	f := &URLFilter{domains: map[string]bool{}, banned: map[string]bool{}, soft: map[string]bool{}, softThresh: cfg.SoftWordThreshold}
	domains, err := listWithFile(cfg.Domains, cfg.DomainsFile)
	if err != nil {
		return nil, err
	}
	for _, d := range domains {
		f.domains[strings.TrimSuffix(strings.ToLower(d), ".")] = true
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
	for _, w := range cfg.SoftBannedWords {
		if w = alnumLower(w); w != "" {
			f.soft[w] = true
		}
	}
	for _, w := range cfg.BannedSubwords {
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
		for h := urlHostname(u); h != ""; {
			if f.domains[h] {
				return false, "domain"
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				break
			}
			h = h[i+1:]
		}
	}
	if len(f.banned) > 0 || len(f.soft) > 0 {
		soft := 0
		var buf [64]byte
		for rest := u; rest != ""; {
			var w string
			w, rest = nextURLWord(rest, buf[:0])
			if w == "" {
				continue
			}
			if f.banned[w] {
				return false, "banned_word"
			}
			if f.soft[w] {
				soft++
			}
		}
		if len(f.soft) > 0 && soft >= f.softThresh {
			return false, "soft_banned_words"
		}
	}
	if len(f.subwords) > 0 {
		norm := alnumLower(u)
		for _, w := range f.subwords {
			if strings.Contains(norm, w) {
				return false, "banned_subword"
			}
		}
	}
	return true, ""
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
		w = string(buf)
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

// urlHostname returns the lower-case host of a URL: after the scheme, up to
// the path, without user info, port or a final dot.
func urlHostname(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if strings.HasPrefix(u, "//") {
		u = u[2:]
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
	if i := strings.LastIndexByte(u, ':'); i >= 0 {
		u = u[:i]
	}
	return strings.ToLower(strings.TrimSuffix(u, "."))
}

// listWithFile returns list followed by the entries of the file at path
// (if path is not empty).
func listWithFile(list []string, path string) ([]string, error) {
	out := append([]string(nil), list...)
	if path == "" {
		return out, nil
	}
	words, err := ReadList(path)
	if err != nil {
		return nil, err
	}
	return append(out, words...), nil
}

// ReadList reads a list file: one entry per line, surrounding whitespace
// trimmed, blank lines and lines starting with '#' skipped.
func ReadList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read list: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read list %s: %w", path, err)
	}
	return out, nil
}
