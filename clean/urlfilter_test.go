package clean

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

func TestURLFilter(t *testing.T) {
	f, err := NewURLFilter(URLFilterConfig{
		DomainsFile:       "testdata/filters/domains.txt",
		Domains:           []string{"extra.example."},
		BannedWordsFile:   "testdata/filters/banned_words.txt",
		SoftBannedWords:   []string{"cheap", "pills"},
		SoftWordThreshold: 2,
		BannedSubwords:    []string{"xxxvideo"},
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
		{"https://blocked.example/page", false, "domain"},
		{"http://www.blocked.example:8080/", false, "domain"},
		{"http://user:pw@a.b.SPAM.test./x", false, "domain"},
		{"https://shouty.example", false, "domain"},
		{"https://extra.example/", false, "domain"},
		{"https://notblocked.example/", true, ""},
		{"https://example.com/Casino-night", false, "banned_word"},
		{"https://example.com/casinos", true, ""},    // words are whole
		{"https://example.com/free-money", true, ""}, // the listed "free-money" is "freemoney", one word
		{"https://example.com/freemoney", false, "banned_word"},
		{"https://example.com/cheap/deals", true, ""},
		{"https://example.com/cheap/pills", false, "soft_banned_words"},
		{"https://example.com/my-XXXVideo-page", false, "banned_subword"},
		{"", true, ""},
	} {
		d := docio.Document{URL: c.url}
		keep, reason := f.Filter(&d)
		if keep != c.keep || reason != c.reason {
			t.Errorf("%q: %v %q, want %v %q", c.url, keep, reason, c.keep, c.reason)
		}
	}
	d := docio.Document{Metadata: map[string]any{"url": "https://blocked.example/"}}
	if keep, _ := f.Filter(&d); keep {
		t.Error("the URL in metadata was not used")
	}
	if _, err := NewURLFilter(URLFilterConfig{DomainsFile: "testdata/filters/missing.txt"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing list: %v", err)
	}
}
