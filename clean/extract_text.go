package clean

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Pass 3, text: the main element's subtree written out as plain text.
//
// Each block (paragraph, heading, list item, table row, <br>-separated
// line) becomes one line; runs of white space inside a line become one
// space, except in <pre>, which is copied as is; table cells are joined by
// " | ". Left out inside the main element: subtrees pruned as boilerplate,
// link blocks, a block that repeats the title, one that only says
// "Advertisement", and the labels at the start and end (trimmed).

const (
	blockLinkHeavy = 0.7 // above this share of letters in links, a single block is left out (containers: linkHeavy)
	labelLetters   = 30  // a line with fewer letters, not ended by sentence punctuation, is a label
)

// text writes the main element's subtree.
func (ix *pageIndex) text(main int32) string {
	w := textWriter{b: make([]byte, 0, 4096)}
	next := main + 1
	ix.writeChildren(&w, ix.elems[main].node, &next, false)
	return w.trimmed()
}

// writeChildren writes the children of n. next is the index of the next
// indexed element in document order.
func (ix *pageIndex) writeChildren(w *textWriter, n *html.Node, next *int32, pre bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			if pre {
				w.raw(c.Data)
			} else {
				w.words(c.Data)
			}
		case html.ElementNode:
			if !indexed(c) {
				continue
			}
			i := *next
			*next++
			if ix.leaveOut(i) {
				*next = ix.elems[i].end
				continue
			}
			switch {
			case c.DataAtom == atom.Br:
				w.lineBreak()
				w.brLine = true
			case c.DataAtom == atom.Td || c.DataAtom == atom.Th:
				w.cell()
				ix.writeChildren(w, c, next, pre)
			case ix.elems[i].block:
				item := isItem(c.DataAtom)
				if item {
					w.items++
				}
				w.lineBreak()
				ix.writeChildren(w, c, next, pre || c.DataAtom == atom.Pre)
				w.lineBreak()
				if item {
					w.items--
				}
			default:
				ix.writeChildren(w, c, next, pre)
			}
		}
	}
}

// isItem says whether a tag holds an item of a list or table, or
// preformatted text: lines that are short by nature.
func isItem(a atom.Atom) bool {
	switch a {
	case atom.Li, atom.Dt, atom.Dd, atom.Tr, atom.Pre:
		return true
	}
	return false
}

// leaveOut says whether element i, inside the main element, is left out.
func (ix *pageIndex) leaveOut(i int32) bool {
	if ix.gone[i] {
		return true
	}
	limit := linkHeavy
	if ix.subChars[i] == ix.elems[i].chars {
		limit = blockLinkHeavy
	}
	if c := ix.subChars[i]; c > 0 && float64(ix.subLinks[i]) > limit*float64(c) {
		return true
	}
	return ix.isTitle(i) || ix.isAdLabel(i)
}

// adLabels are the words that mark an advertisement's slot, in a few
// languages; a block that says only this is left out.
var adLabels = wordSet("advertisement", "advert", "advertising", "ad", "ads", "sponsored",
	"anzeige", "werbung", "publicidad", "publicité", "pubblicità", "publicidade",
	"reklama", "реклама", "iklan", "広告", "广告", "광고")

// isAdLabel says whether element i is a block that only says "Advertisement".
func (ix *pageIndex) isAdLabel(i int32) bool {
	e := &ix.elems[i]
	if e.chars == 0 || e.chars > 15 || ix.subChars[i] != e.chars {
		return false
	}
	return adLabels[strings.ToLower(strings.TrimSpace(elemText(e.node)))]
}

// isTitle says whether element i is a block of text that repeats the page
// title: all of <title> or og:title, or more than half of either (titles
// often add the site's name). Letter counts rule out most blocks before any
// text is compared.
func (ix *pageIndex) isTitle(i int32) bool {
	e := &ix.elems[i]
	if e.chars < 10 || ix.subChars[i] != e.chars {
		return false
	}
	var s string
	for _, t := range [...]string{ix.metaTitle, ix.titleTag} {
		n := countLetters(t)
		if e.chars > n || 2*e.chars <= n {
			continue
		}
		if s == "" {
			s = squashSpace(elemText(e.node))
		}
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// textWriter builds lines of text, collapsing white space.
type textWriter struct {
	b      []byte
	sep    byte // what to write before the next word: 0, ' ', '|' (a cell) or '\n'
	items  int  // depth of list items, table rows and <pre> around what is written
	brLine bool // the next line follows a <br>
	lines  []textLine
}

type textLine struct {
	start int  // offset in b
	item  bool // begun inside a list item, table row or <pre>, or after a <br>
}

// words writes s with each run of white space as one space.
func (w *textWriter) words(s string) {
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if unicode.IsSpace(r) {
			if w.sep == 0 {
				w.sep = ' '
			}
			i += size
			continue
		}
		j := i + size
		for j < len(s) {
			r, size := rune(s[j]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[j:])
			}
			if unicode.IsSpace(r) {
				break
			}
			j += size
		}
		w.flushSep()
		w.b = append(w.b, s[i:j]...)
		i = j
	}
}

// raw writes s as it is (inside <pre>), but for a line break at its end,
// which ends the line as lineBreak does.
func (w *textWriter) raw(s string) {
	body := strings.TrimRight(s, "\n")
	if body != "" {
		w.flushSep()
		w.b = append(w.b, body...)
	}
	if len(body) < len(s) {
		w.lineBreak()
	}
}

// lineBreak ends the current line, if any.
func (w *textWriter) lineBreak() { w.sep = '\n' }

// cell separates a table cell from the one before it on the line.
func (w *textWriter) cell() {
	if w.sep != '\n' {
		w.sep = '|'
	}
}

func (w *textWriter) flushSep() {
	if len(w.b) > 0 {
		switch w.sep {
		case ' ', '\n':
			w.b = append(w.b, w.sep)
		case '|':
			w.b = append(w.b, " | "...)
		}
	}
	if len(w.b) == 0 || w.sep == '\n' {
		w.lines = append(w.lines, textLine{start: len(w.b), item: w.items > 0 || w.brLine})
	}
	w.brLine = false
	w.sep = 0
}

// trimmed returns the text without the lines at its start and end that are
// labels rather than sentences (isLabel), unless they are list items or
// table rows: the dates, bylines, "Advertisement", "Comments" and "Related
// articles" at the edges of an article's container.
func (w *textWriter) trimmed() string {
	first, last := 0, len(w.lines)-1
	for first <= last && w.isLabel(first) {
		first++
	}
	for last >= first && w.isLabel(last) {
		last--
	}
	if first > last {
		return ""
	}
	return string(w.b[w.lines[first].start:w.lineEnd(last)])
}

func (w *textWriter) lineEnd(i int) int {
	if i+1 < len(w.lines) {
		return w.lines[i+1].start - 1
	}
	return len(w.b)
}

func (w *textWriter) isLabel(i int) bool {
	return !w.lines[i].item && isLabel(string(w.b[w.lines[i].start:w.lineEnd(i)]))
}

// isLabel says whether a line is short and does not end a sentence.
func isLabel(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return true
	}
	letters := 0
	for _, r := range line {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			letters++
			if letters >= labelLetters {
				return false
			}
		}
	}
	last, _ := utf8.DecodeLastRuneInString(line)
	return !strings.ContainsRune(".!?。！？\"”»:", last)
}
