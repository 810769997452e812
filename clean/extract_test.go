package clean

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// para is a paragraph long enough to read as prose.
func para(words string) string {
	return "<p>" + words + " " + strings.Repeat("The committee met on Tuesday, and the members agreed to continue the work. ", 3) + "</p>"
}

func page(body string) []byte {
	return []byte("<!doctype html><html><head><title>Rain in Spain - Daily News</title></head><body>" + body + "</body></html>")
}

// TestExtractKeepsArticleDropsFurniture: each case is a page with a main
// text (paragraphs starting with "Alpha", "Bravo", ...) and one kind of
// boilerplate whose words must not come out.
func TestExtractKeepsArticleDropsFurniture(t *testing.T) {
	article := para("Alpha") + para("Bravo") + para("Charlie")
	for _, tc := range []struct {
		name, body, gone string
	}{
		{"nav", `<nav><ul><li><a href="/">Home</a></li><li><a href="/w">World</a></li></ul></nav><article>` + article + `</article>`, "World"},
		{"menu list", `<div class="top"><ul><li><a href="/a">Sports</a></li><li><a href="/b">Weather</a></li><li><a href="/c">Opinion</a></li></ul></div><div>` + article + `</div>`, "Weather"},
		{"footer", `<main>` + article + `</main><footer><p>Copyright 2024 Daily News Corporation, all rights reserved worldwide.</p></footer>`, "Copyright"},
		{"comments", `<article>` + article + `</article><div id="comments"><h3>3 comments</h3>` + para("Zulu said this was great") + `</div>`, "Zulu"},
		{"cookie banner", `<div class="cookie-consent"><p>We use cookies to improve your experience, by continuing you accept our policy.</p></div><article>` + article + `</article>`, "cookies"},
		{"share bar", `<article><div class="share-buttons"><span>Share on Facebook</span><span>Tweet this</span></div>` + article + `</article>`, "Facebook"},
		{"related", `<article>` + article + `<div class="related-articles"><h3>Read next</h3>` + para("Yankee story you will love") + `</div></article>`, "Yankee"},
		{"ad slot", `<article>` + para("Alpha") + `<div class="ad-slot"><p>Buy the new phone now, limited offer for readers of this site.</p></div>` + para("Bravo") + para("Charlie") + `</article>`, "phone"},
		{"ad label", `<article>` + para("Alpha") + `<div>Advertisement</div>` + para("Bravo") + para("Charlie") + `</article>`, "Advertisement"},
		{"hidden", `<article>` + article + `<div style="display: none">Xray secret text that is hidden from readers of the page.</div><p hidden>Hidden too.</p></article>`, "Xray"},
		{"script and style", `<article><script>var Whiskey = 1;</script><style>.Whiskey{}</style>` + article + `</article>`, "Whiskey"},
		{"caption", `<article><figure><img src="a.jpg"><figcaption>Victor photographed by a reader</figcaption></figure>` + article + `</article>`, "Victor"},
		{"repeated title", `<article><h1>Rain in Spain</h1>` + article + `</article>`, "Rain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Extract(page(tc.body), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"Alpha", "Bravo", "Charlie"} {
				if !strings.Contains(res.Text, w) {
					t.Errorf("lost %q:\n%s", w, res.Text)
				}
			}
			if strings.Contains(res.Text, tc.gone) {
				t.Errorf("kept %q:\n%s", tc.gone, res.Text)
			}
		})
	}
}

// TestExtractLines pins the text layout: one block per line, <br> breaks a
// line, inline elements do not, table cells are joined by " | ".
func TestExtractLines(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"blocks and br", `<div><p>It rained.</p><h2>Heading of the section</h2><p>First  line.<br>Second <b>bold</b> line.</p><div>A <span>div</span>   block.</div></div>`,
			"It rained.\nHeading of the section\nFirst line.\nSecond bold line.\nA div block."},
		{"labels at the edges", `<div><div>By Jane Doe</div><div>May 1, 2024</div><p>The text of the article, which ends here.</p><div>Share</div></div>`,
			"The text of the article, which ends here."},
		{"list", `<div><p>Things to bring, in this order:</p><ul><li>a tent</li><li>two <em>warm</em> blankets</li></ul></div>`,
			"Things to bring, in this order:\na tent\ntwo warm blankets"},
		{"table", `<div><p>The results of the vote are below.</p><table><tr><th>Party</th><th>Seats</th></tr><tr><td>Green</td><td>12</td></tr></table></div>`,
			"The results of the vote are below.\nParty | Seats\nGreen | 12"},
		{"pre", "<div><p>Run this command, then wait:</p><pre>make  all\n  install</pre></div>",
			"Run this command, then wait:\nmake  all\n  install"},
		{"entities and nbsp", `<div><p>Fish&nbsp;&amp;&nbsp;chips, &quot;fresh&quot; today.</p></div>`,
			`Fish & chips, "fresh" today.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Extract(page(tc.body), "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tc.want {
				t.Errorf("got\n%q\nwant\n%q", res.Text, tc.want)
			}
		})
	}
}

func TestExtractTitle(t *testing.T) {
	body := `<article>` + para("Alpha") + `</article>`
	for _, tc := range []struct {
		name, head, body, want string
	}{
		{"og:title wins", `<title>Site | Story</title><meta property="og:title" content="The  Story">`, body, "The Story"},
		{"title", `<title>
			Site | Story </title>`, body, "Site | Story"},
		{"h1", ``, `<h1>Only a <i>headline</i></h1>` + body, "Only a headline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Extract([]byte("<html><head>"+tc.head+"</head><body>"+tc.body+"</body></html>"), "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Title != tc.want {
				t.Errorf("title %q, want %q", res.Title, tc.want)
			}
		})
	}
}

func TestExtractLangAndCharset(t *testing.T) {
	// "Müller" and "größer" in ISO-8859-1, declared three ways.
	latin1 := "<p>Herr M\xfcller sagt, die Stadt sei gr\xf6\xdfer geworden, und alle stimmen ihm zu, auch heute.</p>"
	for _, tc := range []struct {
		name, page, contentType, charset string
	}{
		{"meta charset", `<html lang="de"><head><meta charset="iso-8859-1"></head><body>` + latin1 + `</body></html>`, "", "windows-1252"},
		{"meta http-equiv", `<html lang="de"><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"></head><body>` + latin1 + `</body></html>`, "", "windows-1252"},
		{"header", `<html lang="de"><body>` + latin1 + `</body></html>`, "text/html; charset=latin1", "windows-1252"},
		{"header beats meta", `<html lang="de"><head><meta charset="utf-8"></head><body>` + latin1 + `</body></html>`, `text/html;charset="iso-8859-1"`, "windows-1252"},
		{"undeclared, not UTF-8", `<html lang="de"><body>` + latin1 + `</body></html>`, "", "windows-1252"},
		{"UTF-8", `<html lang="de"><body><p>Herr Müller sagt, die Stadt sei größer geworden, und alle stimmen ihm zu, auch heute.</p></body></html>`, "", "utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Extract([]byte(tc.page), tc.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Text, "Müller") || !strings.Contains(res.Text, "größer") {
				t.Errorf("text not decoded: %q", res.Text)
			}
			if res.Charset != tc.charset || res.Lang != "de" {
				t.Errorf("charset %q lang %q, want %q de", res.Charset, res.Lang, tc.charset)
			}
		})
	}
}

// TestExtractRefuses checks the pages Extract skips, each with its reason,
// and that none of them takes long.
func TestExtractRefuses(t *testing.T) {
	deep := []byte("<html><body>" + strings.Repeat("<div>", 100_000) + "text" + strings.Repeat("</div>", 100_000) + "</body></html>")
	big := bytes.Repeat([]byte("<p>filler text</p>\n"), 50<<20/19)
	for _, tc := range []struct {
		name        string
		page        []byte
		contentType string
		reason      string
		sentinel    error
	}{
		{"50 MB page", big, "", ReasonHTMLTooLarge, ErrHTMLTooLarge},
		{"100,000 nested divs", deep, "", ReasonHTMLTooDeep, ErrHTMLTooDeep},
		{"unknown charset in header", []byte("<p>hello</p>"), "text/html; charset=klingon-8", ReasonCharset, ErrCharset},
		{"unknown charset in meta", []byte(`<meta charset="x-nonsense"><p>hello</p>`), "", ReasonCharset, ErrCharset},
		{"undecodable charset", []byte(`<meta charset="iso-2022-kr"><p>hello</p>`), "", ReasonCharset, ErrCharset},
		{"empty", nil, "", ReasonNoMainText, ErrNoMainText},
		{"only navigation", page(`<nav><a href="/">Home</a> <a href="/a">About us</a></nav>`), "", ReasonNoMainText, ErrNoMainText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Extract(tc.page, tc.contentType)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			if !errors.Is(err, tc.sentinel) || ExtractReason(err) != tc.reason {
				t.Fatalf("got %v (reason %q), want %v (reason %q)", err, ExtractReason(err), tc.sentinel, tc.reason)
			}
		})
	}
}

func TestExtractMaxBytes(t *testing.T) {
	p := page(para("Alpha"))
	x := Extractor{MaxBytes: len(p)}
	if _, err := x.Extract(p, ""); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	x.MaxBytes--
	if _, err := x.Extract(p, ""); ExtractReason(err) != ReasonHTMLTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestSelectWorkedExample is the example in extract_select.go's comment.
func TestSelectWorkedExample(t *testing.T) {
	letters := func(n int) string { return strings.Repeat("abcd ", n/4) }
	var b strings.Builder
	b.WriteString(`<html><body><ul>`)
	for range 5 {
		b.WriteString(`<li><a href="/x">abcdefghij</a></li>`)
	}
	b.WriteString(`</ul><article><div class="share">Share Tweet</div>`)
	for _, n := range []int{400, 300, 340} {
		b.WriteString("<p>" + letters(n) + "</p>")
	}
	b.WriteString(`</article><ul>`)
	for range 4 {
		b.WriteString(`<li><a href="/y">` + letters(40) + `</a></li>`)
	}
	b.WriteString(`</ul></body></html>`)

	page, _, err := decodeHTML([]byte(b.String()), "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	ix := indexPage(doc.Nodes[0])
	main := ix.selectMain()
	sums := map[string]float64{}
	for i, e := range ix.elems {
		sums[e.node.Data] = ix.sum[i]
	}
	if sums["body"] != 610 || sums["article"] != 1030 || ix.elems[main].node.Data != "article" {
		t.Fatalf("body %v, article %v, main <%s>; want 610, 1030, <article>", sums["body"], sums["article"], ix.elems[main].node.Data)
	}
	want := strings.TrimSpace(letters(400)) + "\n" + strings.TrimSpace(letters(300)) + "\n" + strings.TrimSpace(letters(340))
	if got := ix.text(main); got != want {
		t.Fatalf("text\n%q\nwant\n%q", got, want)
	}
}

// TestExtractConcurrent runs one Extractor from many goroutines (run with
// -race): it holds no state between pages.
func TestExtractConcurrent(t *testing.T) {
	var x Extractor
	p := page(para("Alpha") + para("Bravo"))
	want, err := x.Extract(p, "")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				got, err := x.Extract(p, "")
				if err != nil || got != want {
					errs <- errors.New("different result")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
