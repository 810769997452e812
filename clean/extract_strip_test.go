package clean

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// treeWithoutRawText writes the tree that html.Parse makes of page, less the
// text of script and style elements, one node a line.
func treeWithoutRawText(page []byte) (string, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode && n.Type == html.ElementNode && n.Namespace == "" &&
				(n.Data == "script" || n.Data == "style") {
				continue
			}
			fmt.Fprintf(&b, "%*s%d %q %q %q\n", depth, "", c.Type, c.Namespace, c.Data, c.Attr)
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	return b.String(), nil
}

// checkStrip fails when the stripped page parses to another tree (less the
// scripts' and styles' text) or extracts to another result than page.
func checkStrip(t *testing.T, name string, page []byte) (cut bool) {
	t.Helper()
	stripped, err := io.ReadAll(stripRawText(page))
	if err != nil {
		t.Fatal(err)
	}
	want, werr := treeWithoutRawText(page)
	got, gerr := treeWithoutRawText(stripped)
	if want != got || (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: the stripped page parses to another tree (errors %v, %v)\npage:     %.300q\nstripped: %.300q\nwant:\n%.2000s\ngot:\n%.2000s", name, werr, gerr, page, stripped, want, got)
	}
	wres, werr := extractHTML(bytes.NewReader(page), "utf-8")
	gres, gerr := extractHTML(stripRawText(page), "utf-8")
	if wres != gres || fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%s: the stripped page extracts to %+v, %v; the page to %+v, %v", name, gres, gerr, wres, werr)
	}
	return len(stripped) < len(page)
}

// randomHTML strings together pieces of markup that reach each state of
// the tokenizer: tags and attribute quoting, comments and their odd ends,
// the raw-text elements, script escapes, foreign content, templates,
// framesets and tables.
func randomHTML(rng *rand.Rand) []byte {
	pieces := []string{
		"<script>", "</script>", "<SCRIPT type=x>", "</ScRiPt\t>", "<script/>", "</script/", "</scripts>", "<scripts>",
		"<style>", "</style>", "<style media='a>b'>", "</STYLE >", "<!--", "-->", "--!>", "<!-->", "<!--->", "<!-",
		"<script><!--", "<script>", "<!--<script>", "</script>-->", "-->", "<svg>", "</svg>", "<math>", "<title>",
		"</title>", "<textarea>", "</textarea>", "<template>", "</template>", "<frameset>", "<table>", "<colgroup>",
		"<col>", "<tr><td>", "<plaintext>", "<noscript>", "</noscript>", "<iframe>", "</iframe>", "<xmp>", "</xmp>",
		"<noembed>", "<noframes>", "</noframes>", "<a href='>'>", "<a href=\">\">", "<div class=\"x>y\" id=z>",
		"<p a=b>", "<p a=/>", "<p =x>", "<p a\"b=c>", "<p/>", "<p / >", "</p>", "<!DOCTYPE html>", "<!doctype>",
		"<!x>", "<?xml ?>", "</>", "</ x>", "</9>", "<![CDATA[", "]]>", "<head>", "<body>", "<html lang=en>",
		"<", ">", "=", "'", "\"", "/", "!", "-", "--", " ", "\n", "\r", "\t", "\f", "\x00", "text", "é", "<9",
		"<p>Some words of text.</p>", "<b>", "</b>", "<select>", "<option>", "<meta charset=utf-8>", "<h1>",
		"<article>", "<nav>", "var s = '</scr' + 'ipt>';", "if (a<b) {}", "a { color: red }", "--!", "--!-", "<!--x--!-->",
		"<p =\"", "=\"", "<p a='", "<?", "<!", "</", "<!D", "<a/", "<template><col>", "<template><colgroup>", "<frameset><style>", "<math><style>",
	}
	stops := rng.IntN(4) == 0 // most pages without the tags that stop cutting
	junk := func(b []byte, n int) []byte {
		for range n {
			p := pieces[rng.IntN(len(pieces))]
			for !stops && (strings.Contains(p, "<svg") || strings.Contains(p, "<math") || strings.Contains(p, "<template") || strings.Contains(p, "<frameset")) {
				p = pieces[rng.IntN(len(pieces))]
			}
			b = append(b, p...)
		}
		return b
	}
	if rng.IntN(2) == 0 {
		return junk(nil, 1+rng.IntN(40))
	}
	// Junk around scripts and styles that end.
	var b []byte
	for range 1 + rng.IntN(4) {
		b = junk(b, rng.IntN(5))
		tag := [...]string{"script", "style", "SCRIPT", "Style"}[rng.IntN(4)]
		b = append(b, "<"+tag+[...]string{">", " a=b>", "/>", "\n>"}[rng.IntN(4)]...)
		b = junk(b, rng.IntN(4))
		b = append(b, "</"+tag+[...]string{">", " >", "/>", "\t"}[rng.IntN(4)]...)
	}
	return junk(b, rng.IntN(5))
}

func TestStripRawTextKeepsTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n, cut := 0, 0
	for i := range 20000 {
		page := randomHTML(rng)
		if checkStrip(t, fmt.Sprintf("random page %d", i), page) {
			cut++
		}
		n++
	}
	t.Logf("%d random pages, %d with text cut", n, cut)

	files, _ := filepath.Glob("testdata/*.html")
	for _, f := range files {
		page, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkStrip(t, f, page)
	}
	if _, err := os.Stat(filepath.Join(benchDir, "ground-truth.json")); err != nil {
		return
	}
	var before, after int
	for _, pg := range loadBench(t) {
		utf8Page, _, err := decodeHTML(pg.html, "")
		if err != nil {
			continue
		}
		checkStrip(t, pg.id, utf8Page)
		stripped, _ := io.ReadAll(stripRawText(utf8Page))
		before += len(utf8Page)
		after += len(stripped)
	}
	t.Logf("benchmark pages: %d bytes, %d after stripping (%.0f%% cut)", before, after, 100*float64(before-after)/float64(before))
}

func FuzzStripRawText(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 20 {
		f.Add(randomHTML(rng))
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		checkStrip(t, "fuzz", page)
	})
}

// What is cut, on small worked examples.
func TestStripRawText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<p>a<script>x<y</script>b<style>p{}</style>", "<p>a<script></script>b<style></style>"},
		{"<script>a</scripts>b</script >c", "<script></script >c"},
		{"<script><!--<script>x</script>y--></script>z", "<script></script>z"},
		{"<script>x", "<script>x"},                                 // no end tag: kept
		{"<!--<script>x</script>-->", "<!--<script>x</script>-->"}, // a comment
		{"<title><script>x</script></title>", "<title><script>x</script></title>"},
		{"<a title='<script>'>x</a><script>y</script>", "<a title='<script>'>x</a><script></script>"},
		{"<script>a</script><svg><style>b</style></svg><script>c</script>", "<script></script><svg><style>b</style></svg><script>c</script>"},
		{"<textarea><style>x</style></textarea><style>y</style>", "<textarea><style>x</style></textarea><style></style>"},
	} {
		if got, _ := io.ReadAll(stripRawText([]byte(c.in))); string(got) != c.want {
			t.Errorf("stripRawText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
