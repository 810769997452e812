package clean

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/format"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/peertest"
)

// The peer is datatrove 0.10.1 (PyPI) with spaCy, run by
// scripts/datatrove_peer.py with the Python of $PIPE_PEER_DIR/venv
// (scripts/peers.sh installs both, and the Debian documentation packages
// the corpus comes from).

// runDatatrove runs datatrove_peer.py with args on the documents and
// returns its output lines.
func runDatatrove(t *testing.T, py string, docs []docio.Document, args ...string) [][]byte {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, d := range docs {
		if err := enc.Encode(map[string]string{"id": d.ID, "text": d.Text}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(py, append([]string{filepath.Join("..", "scripts", "datatrove_peer.py")}, args...)...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("datatrove_peer.py %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
}

// peerResult is one line of datatrove_peer.py filters.
type peerResult struct {
	ID               string  `json:"id"`
	GopherRepetition [2]any  `json:"gopher_repetition"`
	GopherQuality    [2]any  `json:"gopher_quality"`
	C4               [2]any  `json:"c4"`
	C4Text           *string `json:"c4_text"`
	FineWeb          [2]any  `json:"fineweb"`
	PII              string  `json:"pii"`
	Words            [2]any  `json:"words"` // count, sha1 of the words joined by NUL
}

func verdictOf(v [2]any) (bool, string) {
	keep, _ := v[0].(bool)
	reason, _ := v[1].(string)
	return keep, reason
}

// TestFiltersMatchDatatrove runs the Gopher, C4 and FineWeb filters, the
// PII formatter and the word tokenizer on a corpus of real pages (Debian's
// HTML documentation, extracted by Extract, whole and in pieces) and of
// documents made to sit on each rule's edge, and compares every decision
// with datatrove's on the same documents.
func TestFiltersMatchDatatrove(t *testing.T) {
	py := peertest.Python(t, "datatrove", "spacy")
	docs := filterCorpus(t)
	if len(docs) < 2000 {
		t.Fatalf("corpus has %d documents, want at least 2000 (are debian-handbook and python3.11-doc installed?)", len(docs))
	}
	var size int
	for _, d := range docs {
		size += len(d.Text)
	}
	start := time.Now()
	lines := runDatatrove(t, py, docs, "filters")
	t.Logf("datatrove ran on %d documents (%.1f MB) in %v", len(docs), float64(size)/1e6, time.Since(start).Round(time.Millisecond))
	if len(lines) != len(docs) {
		t.Fatalf("datatrove_peer.py returned %d results for %d documents", len(lines), len(docs))
	}

	type filterCase struct {
		f       Filter
		theirs  func(*peerResult) [2]any
		agree   int
		reasons int
		diffs   []string
	}
	cases := []*filterCase{
		{f: NewGopherRepetition(DefaultGopherRepetition()), theirs: func(r *peerResult) [2]any { return r.GopherRepetition }},
		{f: NewGopherQuality(DefaultGopherQuality()), theirs: func(r *peerResult) [2]any { return r.GopherQuality }},
		{f: NewC4(DefaultC4()), theirs: func(r *peerResult) [2]any { return r.C4 }},
		{f: NewFineWeb(DefaultFineWeb()), theirs: func(r *peerResult) [2]any { return r.FineWeb }},
	}
	pii := NewPII(DefaultPII())
	var c4TextSame, c4BothKept, piiSame, wordsSame int
	var piiDiffs, c4Diffs, wordDiffs []string
	var tok wordTokenizer
	for i, line := range lines {
		var r peerResult
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		if r.ID != docs[i].ID {
			t.Fatalf("result %d is for %q, want %q", i, r.ID, docs[i].ID)
		}
		for _, c := range cases {
			d := docs[i]
			keep, reason := c.f.Filter(&d)
			tkeep, treason := verdictOf(c.theirs(&r))
			if keep == tkeep {
				c.agree++
				if reason == treason {
					c.reasons++
				}
			} else {
				c.diffs = append(c.diffs, fmt.Sprintf("%s: ours %v %q, datatrove %v %q; text %.200q", d.ID, keep, reason, tkeep, treason, d.Text))
			}
			if _, ok := c.f.(*C4); ok && keep && tkeep {
				c4BothKept++
				if r.C4Text != nil && *r.C4Text == d.Text {
					c4TextSame++
				} else if r.C4Text != nil {
					c4Diffs = append(c4Diffs, fmt.Sprintf("%s: ours %.300q\n  datatrove %.300q", d.ID, d.Text, *r.C4Text))
				}
			}
		}
		d := docs[i]
		pii.Apply(&d)
		if normalizePII(d.Text) == normalizePII(r.PII) {
			piiSame++
		} else {
			piiDiffs = append(piiDiffs, fmt.Sprintf("%s:\n  ours      %.300q\n  datatrove %.300q", d.ID, firstDiff(d.Text, r.PII), firstDiff(r.PII, d.Text)))
		}
		words := tok.wordsOf(docs[i].Text)
		h := sha1.Sum([]byte(strings.Join(words, "\x00")))
		if fmt.Sprint(len(words)) == fmt.Sprint(r.Words[0]) && hex.EncodeToString(h[:]) == r.Words[1] {
			wordsSame++
		} else {
			wordDiffs = append(wordDiffs, docs[i].ID)
		}
	}
	n := len(docs)
	for _, c := range cases {
		pct := 100 * float64(c.agree) / float64(n)
		t.Logf("%-18s keep/drop agree on %d/%d documents (%.2f%%), reasons on %d", c.f.Name(), c.agree, n, pct, c.reasons)
		for j, d := range c.diffs {
			if j == 10 {
				t.Logf("  ... and %d more", len(c.diffs)-10)
				break
			}
			t.Logf("  %s", d)
		}
		if pct < 99 {
			t.Errorf("%s agrees with datatrove on %.2f%% of documents, want at least 99%%", c.f.Name(), pct)
		}
	}
	t.Logf("c4 rewritten text identical on %d/%d documents both kept", c4TextSame, c4BothKept)
	for j, d := range c4Diffs {
		if j == 5 {
			break
		}
		t.Logf("  %s", d)
	}
	if c4BothKept > 0 && float64(c4TextSame) < 0.99*float64(c4BothKept) {
		t.Errorf("c4 text agrees on %d/%d kept documents, want at least 99%%", c4TextSame, c4BothKept)
	}
	t.Logf("pii output identical on %d/%d documents", piiSame, n)
	for j, d := range piiDiffs {
		if j == 5 {
			break
		}
		t.Logf("  %s", d)
	}
	if piiSame != n {
		t.Errorf("pii output differs from datatrove's on %d documents", n-piiSame)
	}
	t.Logf("words identical to spaCy's on %d/%d documents", wordsSame, n)
	if len(wordDiffs) > 0 {
		showWordDiffs(t, py, docs, wordDiffs)
		if float64(wordsSame) < 0.99*float64(n) {
			t.Errorf("words agree on %d/%d documents, want at least 99%%", wordsSame, n)
		}
	}
}

// TestRandomTextMatchesDatatrove compares the words and the PII formatter
// with datatrove's on short random strings made of the pieces that its
// rules turn on (affixes, exception parts, emoticons, units, URL, e-mail
// and IP pieces, odd whitespace), where a small difference shows at once.
func TestRandomTextMatchesDatatrove(t *testing.T) {
	py := peertest.Python(t, "datatrove", "spacy")
	tokenPieces := []string{":", ")", "(", "-", ";", "'", "''", "’", "s", "S", "a", "A", "Dr", ".", "..", "...", "e", "g", "i", "t",
		"it", "don", "n't", "'s", "D", "8", "<", "3", "=", "o", "O", " ", " ", "  ", "\n", "/", "w", "and", "or", "°", "C", "c", "1",
		"10", "km", "$", "US$", "%", "+", "^", "*", "—", "–", "~", ",", "x", "Y", "Ph", "m", "p", "http", "://", "www", "com", "@",
		"[", "]", "{", "}", "!", "?", "\"", "“", "…", "😀", "é", "日", "\u00a0", "_", "|", "\\", "#", "&", "org", "co", "uk", "192",
		"168", "0", "255", "8080", "?q=", "#x", "mailto:", "user", "b.", "Mr", "vs", "e.g.", "a.m.", "°F", "²", "m²", "kg", "€",
		"A$", "Ü", "İ", "\u212a", "\t", "\r\n", "\x0b", "\u2028", "\u3000", "»", "„", "`", "´", "¡", "·", "।", "。", "，", "--",
		"---", "——", "•", "©", "→", ":-)", "<3", "^_^", "o.O", "C++", "and/or", "w/o", "'cause", "Let", "'em", "y'", "all", "ca",
		"nt", "n’t", "ve", "'ve", "ll", "'d"}
	piiPieces := []string{"a", "b", "Z", "0", "1", "2", "5", "9", "25", "255", "256", "192", "168", "10", "127", "172", "16",
		"100", "64", "01", "00", ".", "..", "@", "@", "-", "_", "+", "!", "#", "$", "%", "&", "'", "*", "/", "=", "?", "^", "`",
		"{", "|", "}", "~", "[", "]", ":", " ", "\n", "é", "日", "com", "org", "co.uk", "x-y", "-x", "x-", "mail", "user.name",
		"\u00a0", "(", ")", "<", ">", "\"", ",", ";"}
	rng := rand.New(rand.NewPCG(11, 13))
	random := func(pieces []string, n, maxLen int) []docio.Document {
		docs := make([]docio.Document, n)
		for i := range docs {
			var b strings.Builder
			for k := 1 + rng.IntN(maxLen); k > 0; k-- {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			docs[i] = docio.Document{ID: fmt.Sprint(i), Text: b.String()}
		}
		return docs
	}

	docs := random(tokenPieces, 20000, 14)
	lines := runDatatrove(t, py, docs, "words")
	var tok wordTokenizer
	bad := 0
	for i, d := range docs {
		var want []string
		if err := json.Unmarshal(lines[i], &want); err != nil {
			t.Fatal(err)
		}
		got := tok.wordsOf(d.Text)
		if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			if bad++; bad <= 10 {
				t.Errorf("words of %q: ours %q, spaCy %q", d.Text, got, want)
			}
		}
	}
	t.Logf("words identical on %d/%d random strings", len(docs)-bad, len(docs))

	docs = random(piiPieces, 20000, 16)
	lines = runDatatrove(t, py, docs, "pii")
	pii := NewPII(DefaultPII())
	bad = 0
	for i, d := range docs {
		var want string
		if err := json.Unmarshal(lines[i], &want); err != nil {
			t.Fatal(err)
		}
		pii.Apply(&d)
		if d.Text != want {
			if bad++; bad <= 10 {
				t.Errorf("pii of %q: ours %q, datatrove %q", docs[i].Text, d.Text, want)
			}
		}
	}
	t.Logf("pii identical on %d/%d random strings", len(docs)-bad, len(docs))

	// Documents of random lines, each a few words with odd endings, cut
	// by every kind of line break Python knows, for the line rules.
	common := []string{"the", "and", "of", "to", "be", "that", "with", "have", "cat", "dog", "a", "I", "word", "sentence",
		"here", "there", "ipsum", "cookies", "use", "policy", "terms", "privacy", "don't", "été", "are", "sat", "quietly"}
	odd := []string{"JavaScript", "lorem", "{x}", "[1]", "[edit]", "#", "...", "…", "-", "•", "1990", "e.g.", "U.S.", "Mr.",
		"x.y", "well-known", "http://a.com/x", "日本"}
	ends := []string{"", ".", "!", "?", "\"", "'", "...", "..", ":", ". ", ".\t", "।", "。", "?!", ".[1]", ". [2]"}
	breaks := []string{"\n", "\n", "\n", "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\u0085", "\u2028", "\n \n", "\n\n\n"}
	docs = make([]docio.Document, 1000)
	for i := range docs {
		var b strings.Builder
		punct := rng.Float64() * 0.3 // how often words are cut by ", " or ". "
		for l := 2 + rng.IntN(30); l > 0; l-- {
			if rng.IntN(3) == 0 {
				b.WriteString("  ")
			}
			for w := 1 + rng.IntN(16); w > 0; w-- {
				if rng.IntN(12) == 0 {
					b.WriteString(odd[rng.IntN(len(odd))])
				} else {
					b.WriteString(common[rng.IntN(len(common))])
				}
				switch {
				case w == 1:
				case rng.Float64() < punct:
					b.WriteString([]string{", ", ". "}[rng.IntN(2)])
				case rng.IntN(10) == 0:
					b.WriteString("  ")
				default:
					b.WriteString(" ")
				}
			}
			if rng.Float64() < 2*punct {
				b.WriteString(ends[rng.IntN(len(ends))])
			}
			b.WriteString(breaks[rng.IntN(len(breaks))])
		}
		docs[i] = docio.Document{ID: fmt.Sprint(i), Text: b.String()}
	}
	lines = runDatatrove(t, py, docs, "filters")
	filters := []Filter{NewGopherRepetition(DefaultGopherRepetition()), NewGopherQuality(DefaultGopherQuality()), NewC4(DefaultC4()), NewFineWeb(DefaultFineWeb())}
	bad = 0
	reasons := map[string]int{}
	for i, d := range docs {
		var r peerResult
		if err := json.Unmarshal(lines[i], &r); err != nil {
			t.Fatal(err)
		}
		for k, theirs := range [][2]any{r.GopherRepetition, r.GopherQuality, r.C4, r.FineWeb} {
			d := d
			keep, reason := filters[k].Filter(&d)
			tkeep, treason := verdictOf(theirs)
			reasons[filters[k].Name()+":"+treason]++
			sameText := k != 2 || !keep || r.C4Text == nil || *r.C4Text == d.Text
			if keep != tkeep || reason != treason || !sameText {
				if bad++; bad <= 10 {
					t.Errorf("%s on %.300q: ours %v %q, datatrove %v %q (same C4 text: %v)", filters[k].Name(), docs[i].Text, keep, reason, tkeep, treason, sameText)
				}
			}
		}
	}
	t.Logf("filters agree on %d/%d decisions on random documents; datatrove's verdicts: %v", 4*len(docs)-bad, 4*len(docs), reasons)
}

// TestWordTablesMatchSpacy regenerates words_tables.go from the installed
// spaCy and datatrove and checks that it has not changed, so that a new
// peer version with other rules cannot pass unnoticed.
func TestWordTablesMatchSpacy(t *testing.T) {
	py := peertest.Python(t, "datatrove", "spacy")
	cmd := exec.Command(py, filepath.Join("..", "scripts", "datatrove_peer.py"), "tables")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("datatrove_peer.py tables: %v\n%s", err, stderr.Bytes())
	}
	want, err := format.Source(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("words_tables.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("words_tables.go differs from what the installed peers give: regenerate it with\n" +
			"  $PIPE_PEER_DIR/venv/bin/python scripts/datatrove_peer.py tables | gofmt > clean/words_tables.go\n" +
			"and rerun TestFiltersMatchDatatrove")
	}
}

// normalizePII replaces datatrove's replacement strings by placeholders, so
// that one disagreement does not shift the replacement cycle of every
// later document.
func normalizePII(s string) string {
	cfg := DefaultPII()
	for _, r := range cfg.EmailReplacement {
		s = strings.ReplaceAll(s, r, "<EMAIL>")
	}
	for _, r := range cfg.IPReplacement {
		s = strings.ReplaceAll(s, r, "<IP>")
	}
	return s
}

// firstDiff returns a from a little before where it first differs from b.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[max(0, i-40):]
}

// showWordDiffs logs where our words first differ from spaCy's for a few
// of the documents ids.
func showWordDiffs(t *testing.T, py string, docs []docio.Document, ids []string) {
	t.Helper()
	byID := map[string]docio.Document{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	var some []docio.Document
	for _, id := range ids[:min(len(ids), 5)] {
		some = append(some, byID[id])
	}
	lines := runDatatrove(t, py, some, "words")
	var tok wordTokenizer
	for i, d := range some {
		var want []string
		if err := json.Unmarshal(lines[i], &want); err != nil {
			t.Fatal(err)
		}
		got := tok.wordsOf(d.Text)
		j := 0
		for j < len(got) && j < len(want) && got[j] == want[j] {
			j++
		}
		lo := max(0, j-3)
		t.Logf("  words of %s differ at %d: ours %q, spaCy %q", d.ID, j, got[lo:min(len(got), j+4)], want[lo:min(len(want), j+4)])
	}
}

// --- the corpus --------------------------------------------------------------

// filterCorpus returns the test documents: text that Extract finds in the
// HTML of debian-handbook (every English page, every twelfth page of the
// other languages) and of the Python 3.11 documentation, whole (when short)
// and in pieces of 1 to 80 lines, and then documents made from those
// pieces to sit on the edges of each rule (craftedDocs).
func filterCorpus(tb testing.TB) []docio.Document {
	tb.Helper()
	var pages []string
	hb := "/usr/share/doc/debian-handbook/html"
	langs, _ := os.ReadDir(hb)
	for _, l := range langs {
		files, _ := filepath.Glob(filepath.Join(hb, l.Name(), "*.html"))
		sort.Strings(files)
		for i, f := range files {
			if l.Name() == "en-US" || i%12 == 0 {
				pages = append(pages, f)
			}
		}
	}
	pyRoot := "/usr/share/doc/python3.11/html"
	var pyPages []string
	filepath.WalkDir(pyRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".html") && !strings.Contains(p, "/_") {
			pyPages = append(pyPages, p)
		}
		return nil
	})
	sort.Strings(pyPages)
	for i, p := range pyPages {
		if i%2 == 0 {
			pages = append(pages, p)
		}
	}

	var docs []docio.Document
	var pool []string // lines of prose, for craftedDocs
	sizes := []int{1, 2, 3, 5, 8, 12, 20, 35, 80}
	for pi, p := range pages {
		page, err := os.ReadFile(p)
		if err != nil || len(page) > 2<<20 {
			continue
		}
		res, err := Extract(page, "text/html")
		if err != nil || res.Text == "" {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p, hb+"/"), "/usr/share/doc/")
		text := res.Text
		if len(text) <= 6000 {
			docs = append(docs, docio.Document{ID: name, Text: text})
		}
		lines := strings.Split(text, "\n")
		// Three pieces of the page, of sizes that change from page to page.
		for k := 0; k < 3; k++ {
			n := sizes[(pi*3+k)%len(sizes)]
			at := (len(lines) * (2*k + 1)) / 6
			end := min(len(lines), at+n)
			if at >= end {
				continue
			}
			piece := strings.Join(lines[at:end], "\n")
			if len(piece) > 8000 {
				piece = piece[:strings.LastIndexByte(piece[:8000], '\n')+1]
			}
			if strings.TrimSpace(piece) == "" {
				continue
			}
			docs = append(docs, docio.Document{ID: fmt.Sprintf("%s#%d+%d", name, at, n), Text: piece})
		}
		if strings.HasPrefix(name, "en-US/") || strings.HasPrefix(name, "python3.11/") {
			for _, l := range lines {
				if len(l) > 60 && strings.Count(l, " ") > 8 {
					pool = append(pool, l)
				}
			}
		}
	}
	return append(docs, craftedDocs(pool)...)
}

// craftedDocs returns documents that sit on the edges of the rules: built
// from the pool of real lines with one or more changes that push a measure
// near its limit (repeated lines and paragraphs, repeated phrases, bullets,
// ellipses, hashes, numbers, missing stop words, cut to about 50 words, few
// sentences, JavaScript and cookie lines, braces, citations, short lines,
// lines without punctuation, e-mail and IP addresses), plus fixed
// sentences that exercise the tokenizer's special cases.
func craftedDocs(pool []string) []docio.Document {
	if len(pool) == 0 {
		pool = []string{"The quick brown fox jumps over the lazy dog, and that is the end of the story."}
	}
	rng := rand.New(rand.NewPCG(5, 7))
	pick := func() string { return pool[rng.IntN(len(pool))] }
	var docs []docio.Document
	add := func(kind string, text string) {
		docs = append(docs, docio.Document{ID: fmt.Sprintf("crafted/%s/%d", kind, len(docs)), Text: text})
	}
	base := func(n int) []string {
		ls := make([]string, n)
		for i := range ls {
			ls[i] = pick()
		}
		return ls
	}
	words := func(s string) []string { return strings.Fields(s) }

	for i := 0; i < 40; i++ { // repeated lines and paragraphs
		ls := base(4 + rng.IntN(12))
		k := rng.IntN(len(ls))
		for j := 0; j < rng.IntN(5); j++ {
			ls = append(ls, ls[k])
		}
		sep := "\n"
		if i%2 == 0 {
			sep = "\n\n"
		}
		add("dup_lines", strings.Join(ls, sep))
	}
	for i := 0; i < 40; i++ { // repeated phrases
		ls := base(3 + rng.IntN(6))
		w := words(pick())
		a := rng.IntN(max(1, len(w)-5))
		phrase := strings.Join(w[a:min(len(w), a+2+rng.IntN(6))], " ")
		reps := 2 + rng.IntN(12)
		ls[rng.IntN(len(ls))] += " " + strings.Repeat(phrase+" ", reps)
		add("ngrams", strings.Join(ls, "\n"))
	}
	for i := 0; i < 60; i++ { // about 50 words
		w := words(strings.Join(base(6), " "))
		n := 35 + rng.IntN(30)
		add("short", strings.Join(w[:min(len(w), n)], " "))
	}
	for i := 0; i < 40; i++ { // bullets and ellipses
		ls := base(5 + rng.IntN(10))
		for j := range ls {
			switch rng.IntN(4) {
			case 0:
				ls[j] = []string{"- ", "• ", "  -", "-"}[rng.IntN(4)] + ls[j]
			case 1:
				ls[j] = strings.TrimRight(ls[j], ".") + []string{"...", "…", "... ", "...."}[rng.IntN(4)]
			}
		}
		add("bullets", strings.Join(ls, "\n"))
	}
	for i := 0; i < 30; i++ { // mostly bullets: near 90%
		ls := base(8 + rng.IntN(15))
		frac := 0.75 + 0.25*rng.Float64()
		for j := range ls {
			if rng.Float64() < frac {
				ls[j] = []string{"- ", "• ", "-"}[rng.IntN(3)] + ls[j]
			}
		}
		add("bullets_most", strings.Join(ls, "\n"))
	}
	short := []string{"a", "I", "to", "of", "it", "is", "in", "on", "we", "he", "an", "at", "so"}
	for i := 0; i < 30; i++ { // short words: mean length near 3
		w := words(strings.Join(base(3), " "))
		p := 0.4 + 0.4*rng.Float64()
		for j := range w {
			if rng.Float64() < p {
				w[j] = short[rng.IntN(len(short))]
			}
		}
		add("short_words", strings.Join(w, " "))
	}
	for i := 0; i < 30; i++ { // blank lines: newlines per word near 0.3
		ls := base(4 + rng.IntN(8))
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(l)
			b.WriteString(strings.Repeat("\n", 1+rng.IntN(7)))
		}
		add("blank_lines", b.String())
	}
	for i := 0; i < 40; i++ { // symbols, numbers, long words, no stop words
		w := words(strings.Join(base(4), " "))
		for j := range w {
			switch rng.IntN(8) {
			case 0:
				w[j] = "#" + w[j]
			case 1:
				w[j] = fmt.Sprint(rng.IntN(100000))
			case 2:
				w[j] = strings.Repeat(w[j], 3)
			case 3:
				if i%2 == 0 {
					switch strings.ToLower(strings.Trim(w[j], ".,")) {
					case "the", "and", "of", "to", "that", "with", "be", "have":
						w[j] = "xyz"
					}
				}
			}
		}
		add("symbols", strings.Join(w, " "))
	}
	c4Lines := []string{
		"Please enable JavaScript to view the comments powered by Disqus.",
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
		"The function is defined as f(x) { return x * 2; } in this example.",
		"This website uses cookies to improve your experience.",
		"By continuing you agree to our Terms of Use and Privacy Policy.",
		"The war began in 1914 and ended in 1918.[1]",
		"He was born in Paris.[citation needed] He moved to Lyon in 1920.",
		"The results were inconclusive.[edit]",
		"Read more about this topic here",
		"And so it went on and on...",
		"Short line.",
		"\"Is this a quote?\" she asked.",
		"'Single quoted sentence ends here.'",
		"A line with a  [12] citation in the middle of it.",
	}
	for i := 0; i < 80; i++ { // C4's line rules
		ls := base(1 + rng.IntN(6))
		for j := 0; j < 1+rng.IntN(3); j++ {
			at := rng.IntN(len(ls) + 1)
			ls = append(ls[:at], append([]string{c4Lines[rng.IntN(len(c4Lines))]}, ls[at:]...)...)
		}
		add("c4", strings.Join(ls, "\n"))
	}
	for i := 0; i < 60; i++ { // FineWeb's line rules
		ls := base(3 + rng.IntN(10))
		for j := range ls {
			switch rng.IntN(5) {
			case 0:
				ls[j] = strings.TrimRight(ls[j], ".!?")
			case 1:
				w := words(ls[j])
				ls[j] = strings.Join(w[:min(len(w), 1+rng.IntN(4))], " ")
			case 2:
				ls[j] += " "
			case 3:
				ls[j] += "\n"
			}
		}
		if i%3 == 0 {
			ls = append(ls, ls[0])
		}
		add("fineweb", strings.Join(ls, "\n"))
	}
	pii := []string{
		"Write to john.doe@example.com for details.",
		"Mail root@[192.168.0.1] or admin@[10.0.0.1] now.",
		"The DNS server is 8.8.8.8 and the gateway 192.168.1.1 here.",
		"Bad addresses: 1.2.3.256, 01.2.3.4, 1234.5.6.78 and 300.1.1.1.",
		"Reach me at x@y.z- or a.b@c, or at foo@bar.com@baz.org.",
		"Contact: me@host.co.uk. Also, sub-.x@domain-.com fails.",
		"Private 172.16.5.4, shared 100.64.1.1, public 172.32.0.1, test 192.0.2.10.",
		"Emails like é.user@site.org and _x@site.org and -y@site.org.",
		"Two in a row: a@b.com,c@d.org;e@f.net",
		"Addresses 0.0.0.0 and 255.255.255.255 and 224.0.0.1 and 240.1.2.3 and 192.0.0.9.",
		"Versions 3.11.7.1 and 1.2.3.4.5 and 10.20.30.40.",
		"Quoted \"alice@mail.example.com\" and <bob@mail.example.com>.",
		"user.name+tag@sub.domain.example.travel is long.",
		"foo..bar@example.com and .foo@example.com and foo.@example.com.",
	}
	for i := 0; i < 60; i++ {
		ls := base(1 + rng.IntN(3))
		ls = append(ls, pii[i%len(pii)], pii[rng.IntN(len(pii))])
		rng.Shuffle(len(ls), func(a, b int) { ls[a], ls[b] = ls[b], ls[a] })
		add("pii", strings.Join(ls, "\n"))
	}
	tokenizer := []string{
		"I don't know why you're here, but it's fine; we'll see. Can't stop, won't stop.",
		"It's--fine and that's--ok; Dr.Smith met Mr. Jones at 10a.m. on Jan. 5th, e.g. today.",
		"U.S. vs. U.K.: ''quoted'' and (:smile:) :) :-( <3 ;) o.O and C++ is fun.",
		"Visit http://example.com/a-b?c=d or www.example.com/foo-bar or https://x.org:8080/p.",
		"It costs $10.00 or 5km or 3.5kg or 20°C. or 100% or US$5 or 10-20 or 2+2=4.",
		"A state-of-the-art, well-known approach... yes...no... and/or w/o 'cause.",
		"Words,with,commas and a.b.C and x:y:z and a/b and <tag>text</tag> and a=b.",
		"The 1990s' music (and 'Dogs'!) shouldn't've been \"so\" loud—really—said O'Neil.",
		"Ünïcödé wörds and 日本語の文章。 and Русский текст, and العربية؟",
		"Emoji 😀 and symbols © ® ™ → ★ and ellipsis… and dash – here — there.",
		"Path /usr/share/doc and C:\\Windows and ~/.bashrc and ../x/y.txt and #include <stdio.h>.",
		"Numbers 1,000,000 and 3.14159 and -5 and +7 and 1e10 and 0x1F and 12:30pm.",
		"Tabs\tand\u00a0non-breaking\u2003spaces and\u200bzero width and\r\ncarriage returns.",
		"She said: \"Don't!\" He said: 'Won't.' They said: ‘Can’t’ and “quote” here.",
		"a.m. p.m. Ph.D. i.e. e.g. etc. vs. Mrs. St. Inc. Ltd. Co. Corp. Jr. Sr.",
	}
	for i := 0; i < 45; i++ {
		ls := base(1 + rng.IntN(3))
		ls = append(ls, tokenizer[i%len(tokenizer)])
		rng.Shuffle(len(ls), func(a, b int) { ls[a], ls[b] = ls[b], ls[a] })
		add("tokens", strings.Join(ls, "\n"))
	}
	// Edge cases of the text itself.
	for _, s := range []string{"", " ", "\n\n\n", "word", "One line only.", "\n\nLeading and trailing blank lines.\n\n",
		"Line one.\r\nLine two.\rLine three.\u2028Line four.\x0cLine five."} {
		add("edge", s)
	}
	return docs
}

// TestFilterCorpusDump writes the corpus as JSONL to $PIPE_FILTER_CORPUS
// (for running datatrove_peer.py by hand).
func TestFilterCorpusDump(t *testing.T) {
	path := os.Getenv("PIPE_FILTER_CORPUS")
	if path == "" {
		t.Skip("set PIPE_FILTER_CORPUS to a file to write the corpus to")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, d := range filterCorpus(t) {
		enc.Encode(map[string]string{"id": d.ID, "text": d.Text})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
