package clean

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

func TestURLFilter(t *testing.T) {
	f, err := NewURLFilter(URLFilterConfig{
		DomainsFile:     "testdata/filters/domains.txt",
		Domains:         []string{"extra.org."},
		URLs:            []string{"https://example.com/one/bad/page"},
		BannedWordsFile: "testdata/filters/banned_words.txt",
		SoftBannedWords: []string{"cheap", "pills"},
		BannedSubwords:  []string{"xxx-video"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url    string
		keep   bool
		reason string
	}{
		{"https://example.com/page", true, ""},
		{"https://blocked.com/page", false, "domain"},
		{"http://www.blocked.com:8080/", false, "domain"},
		{"http://user:pw@a.b.BLOCKED.com./x", false, "domain"},
		{"//blocked.com/x", false, "domain"},
		{"blocked.com/no/scheme", false, "domain"},
		{"https://notblocked.com/", true, ""},
		{"https://shouty.org", false, "domain"},
		{"https://extra.org/", false, "domain"},
		{"https://spam.co.uk/", false, "domain"},
		{"https://co.uk/", true, ""}, // a public suffix has no registered domain
		// A listed host that is not a registered domain blocks itself only.
		{"https://ads.tracker.net/pixel", false, "subdomain"},
		{"https://x.ads.tracker.net/pixel", true, ""},
		{"https://tracker.net/", true, ""},
		// Private suffixes are not suffixes: user.blogspot.com is a host of blogspot.com.
		{"https://user.blogspot.com/", false, "subdomain"},
		{"https://other.blogspot.com/", true, ""},
		// Hosts without a listed suffix are never blocked by domain.
		{"http://127.0.0.1/casino-free", false, "hard_blacklisted"},
		{"http://[::1]:80/", true, ""},
		{"http://localhost/", true, ""},
		{"https://example.com/one/bad/page", false, "url"},
		{"https://example.com/one/bad/page?x", true, ""},
		{"https://example.com/Casino-night", false, "hard_blacklisted"},
		{"https://example.com/casinos", true, ""},    // words are whole
		{"https://example.com/free-money", true, ""}, // the listed "free-money" is "freemoney", one word
		{"https://example.com/freemoney", false, "hard_blacklisted"},
		{"https://example.com/cheap/deals", true, ""},
		{"https://example.com/cheap/cheap", true, ""}, // different words count
		{"https://example.com/cheap/pills", false, "soft_blacklisted"},
		{"https://example.com/my-XXXVideo-page", false, "blacklisted_subword"},
		{"https://пример.рф/", true, ""},
		{"", true, ""},
	} {
		d := docio.Document{URL: c.url}
		keep, reason := f.Filter(&d)
		if keep != c.keep || reason != c.reason {
			t.Errorf("%q: %v %q, want %v %q", c.url, keep, reason, c.keep, c.reason)
		}
	}
	d := docio.Document{Metadata: map[string]any{"url": "https://blocked.com/"}}
	if keep, _ := f.Filter(&d); keep {
		t.Error("the URL in metadata was not used")
	}
	if _, err := NewURLFilter(URLFilterConfig{DomainsFile: "testdata/filters/missing.txt"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing list: %v", err)
	}
}

// registeredDomain follows the ICANN section of the Public Suffix List,
// in ASCII and in Unicode.
func TestRegisteredDomain(t *testing.T) {
	for host, want := range map[string]string{
		"example.com":            "example.com",
		"www.books.amazon.co.uk": "amazon.co.uk",
		"co.uk":                  "",
		"com":                    "",
		"foo.blogspot.com":       "blogspot.com",
		"a.b.foo.blogspot.co.uk": "blogspot.co.uk",
		"xn--e1afmkfd.xn--p1ai":  "xn--e1afmkfd.xn--p1ai",
		"www.пример.рф":          "пример.рф",
		"1.2.3.4":                "",
		"localhost":              "",
		"foo.localdomain":        "",
		"a..com":                 "",
		"":                       "",
	} {
		if got := registeredDomain(host); got != want {
			t.Errorf("registeredDomain(%q) = %q, want %q", host, got, want)
		}
	}
}

// A list file: one entry a line, trimmed; blank lines and comments
// skipped; CRLF and a last line without a newline read as well; a line
// over 1 MiB refused with its number.
func TestReadList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	os.WriteFile(path, []byte("# comment\n  a.com \r\n\n\t\nb.org\r\n  # indented comment\nc.net"), 0o644)
	got, err := ReadList(path)
	if want := []string{"a.com", "b.org", "c.net"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadList = %q, %v, want %q", got, err, want)
	}
	os.WriteFile(path, []byte("a.com\n"+strings.Repeat("x", 1<<20+1)+"\n"), 0o644)
	if _, err := ReadList(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a 1 MiB line: %v", err)
	}
}
