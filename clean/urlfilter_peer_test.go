package clean

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/peertest"
)

// TestURLFilterMatchesDatatrove gives the URL filter and datatrove 0.10.1's
// URLFilter the same lists (a sample of those datatrove ships: every 500th
// of its 4.6 million blocked domains, every 20th blocked URL, its banned
// words, subwords and soft words) and the same URLs (built from the lists
// to hit each rule and miss it narrowly, the extraction benchmark's real
// URLs, and odd hosts), and compares every decision. The one difference
// allowed is the documented one: on a URL with capitals, pipe (which
// compares hosts and words in lower case) must decide as datatrove does on
// the URL in lower case.
func TestURLFilterMatchesDatatrove(t *testing.T) {
	py := peertest.Python(t, "datatrove", "tldextract", "ahocorasick")
	dir := t.TempDir()
	script := filepath.Join("..", "scripts", "urlfilter_peer.py")
	if out, err := exec.Command(py, script, "lists", dir, "--every-domain", "500", "--every-url", "20").CombinedOutput(); err != nil {
		t.Fatalf("urlfilter_peer.py lists: %v\n%s", err, out)
	}
	list := func(name string) []string {
		words, err := ReadList(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return words
	}
	f, err := NewURLFilter(URLFilterConfig{
		DomainsFile:         filepath.Join(dir, "domains.txt"),
		URLsFile:            filepath.Join(dir, "urls.txt"),
		BannedWordsFile:     filepath.Join(dir, "banned_words.txt"),
		BannedSubwordsFile:  filepath.Join(dir, "banned_subwords.txt"),
		SoftBannedWordsFile: filepath.Join(dir, "soft_banned_words.txt"),
	})
	if err != nil {
		t.Fatal(err)
	}

	urls := urlCorpus(list("domains.txt"), list("urls.txt"), list("banned_words.txt"), list("banned_subwords.txt"), list("soft_banned_words.txt"))
	if b, err := os.ReadFile(filepath.Join(benchDir, "ground-truth.json")); err == nil {
		var truth map[string]struct{ URL string }
		if err := json.Unmarshal(b, &truth); err != nil {
			t.Fatal(err)
		}
		for _, p := range truth {
			urls = append(urls, p.URL)
		}
	} else if peertest.Required() {
		t.Fatalf("the extraction benchmark's URLs: %v", err)
	}
	// datatrove also decides on each URL with capitals in lower case.
	ask := append([]string(nil), urls...)
	for _, u := range urls {
		if l := strings.ToLower(u); l != u {
			ask = append(ask, l)
		}
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, u := range ask {
		enc.Encode(u)
	}
	cmd := exec.Command(py, script, "filter", dir)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("urlfilter_peer.py filter: %v\n%s", err, stderr.Bytes())
	}
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != len(ask) {
		t.Fatalf("datatrove returned %d verdicts for %d URLs", len(lines), len(ask))
	}
	theirs := map[string]string{} // URL → reason, "" for kept
	for i, line := range lines {
		var v [2]any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("verdict %d: %v", i, err)
		}
		keep, reason := verdictOf(v)
		if keep != (reason == "") {
			t.Fatalf("verdict %s for %q", line, ask[i])
		}
		theirs[ask[i]] = reason
	}

	same, caseOnly := 0, 0
	reasons := map[string]int{}
	var diffs []string
	for _, u := range urls {
		keep, ours := f.Filter(&docio.Document{URL: u})
		if keep != (ours == "") {
			t.Fatalf("%q: keep %v with reason %q", u, keep, ours)
		}
		reasons[ours]++
		switch {
		case ours == theirs[u]:
			same++
		case ours == theirs[strings.ToLower(u)] && u != strings.ToLower(u):
			caseOnly++
		default:
			diffs = append(diffs, fmt.Sprintf("%q: pipe %q, datatrove %q (in lower case %q)", u, ours, theirs[u], theirs[strings.ToLower(u)]))
		}
	}
	t.Logf("%d URLs: %d decided alike, %d differ only by case (pipe decides as datatrove does in lower case); pipe's reasons %v",
		len(urls), same, caseOnly, reasons)
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%d of %d URLs decided differently, e.g.:\n%s", len(diffs), len(urls), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
	for _, r := range []string{"", "domain", "subdomain", "url", "hard_blacklisted", "soft_blacklisted", "blacklisted_subword"} {
		if reasons[r] < 5 {
			t.Errorf("only %d URLs with reason %q: the corpus does not exercise every rule", reasons[r], r)
		}
	}
	if caseOnly == 0 {
		t.Error("no URL exercised the case difference")
	}
}

// urlCorpus builds URLs from the lists: each blocked domain as the host,
// under a subdomain, with a port and user info, in capitals, as a label of
// another host and with a letter more; each blocked URL as listed and with
// a scheme; each banned word as a path word, inside a longer word and in
// capitals; soft words alone, in pairs and repeated; subwords split by
// punctuation; and hosts of every odd kind.
func urlCorpus(domains, blockedURLs, banned, subwords, soft []string) []string {
	var urls []string
	for i, d := range domains {
		switch i % 8 {
		case 0:
			urls = append(urls, "http://"+d+"/")
		case 1:
			urls = append(urls, "https://www."+d+"/index.html")
		case 2:
			urls = append(urls, "http://user:pw@a.b."+d+":8080/x?y=1#z")
		case 3:
			urls = append(urls, "HTTPS://"+strings.ToUpper(d)+"/Page")
		case 4:
			urls = append(urls, "https://"+d+".example.org/")
		case 5:
			urls = append(urls, "https://x"+d+"/")
		case 6:
			urls = append(urls, "//"+d+"./path")
		case 7:
			urls = append(urls, d+"/no-scheme")
		}
	}
	for _, u := range blockedURLs {
		urls = append(urls, u, "http://"+u)
	}
	for i, w := range banned {
		urls = append(urls, "https://example.com/"+w+"-page", "https://example.com/x"+w+"y", "https://example.com/?q="+strings.ToUpper(w))
		if i%10 == 0 {
			urls = append(urls, "https://"+w+".com/")
		}
	}
	for i, w := range soft {
		v := soft[(i*7+3)%len(soft)]
		urls = append(urls, "https://example.com/"+w, "https://example.com/"+w+"/"+v, "https://example.com/"+w+"_"+w, "https://example.com/"+strings.ToUpper(w)+"/"+v)
	}
	for _, w := range subwords {
		urls = append(urls, "https://example.com/"+strings.ReplaceAll(w, " ", "-")+".html", "https://example.com/a"+strings.ReplaceAll(w, " ", "")+"z")
	}
	urls = append(urls,
		"http://127.0.0.1/", "http://10.0.0.1:8080/casino", "http://[::1]/", "http://[2001:db8::1]:443/x",
		"http://localhost/", "http://foo.localdomain/", "https://co.uk/", "https://com/", "https://blogspot.com/",
		"https://someone.blogspot.com/", "https://a.b.c.d.e.example.co.uk/", "https://xn--e1afmkfd.xn--p1ai/",
		"https://пример.рф/", "https://example\u3002com/", "https://www.example.com./", "mailto:someone@example.com",
		"https://example.com", "?", "https://example.com/%20casino%20", "ftp://example.com/pub/",
	)
	return urls
}
