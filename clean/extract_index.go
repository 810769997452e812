package clean

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Pass 1, index: one walk over the DOM that lays out the elements that can
// hold text in document order and counts the text each one owns.
//
// The elements live in one slice, parents before children, so a subtree is
// a range: element i's descendants are i+1 .. end-1. Sums over subtrees are
// then one backwards loop, and the text pass finds an element's entry by
// walking the DOM in the same order with a counter.
//
// Text belongs to its nearest block-level element: in
//
//	<p>Rain <a href="/w">today</a>, <b>cold</b>.</p>
//
// the <p> owns 13 letters ("Raintodaycold"), 5 of them in a link; the <a>
// and <b> own nothing.

// pageElem is one indexed element.
type pageElem struct {
	node   *html.Node
	parent int32 // index of the parent element; -1 for <html>
	end    int32 // one past the last index of the subtree
	hint   hint
	block  bool // block-level: owns its own text and that of its inline content

	chars     int32 // letters and digits owned
	linkChars int32 // of which inside <a>
}

// pageIndex is a parsed page, indexed.
type pageIndex struct {
	elems []pageElem
	lang  string

	titleTag, metaTitle string // <title> and og:title / twitter:title

	// Set by selectMain (extract_select.go), read by text. Each has one
	// entry per element.
	gone  []bool    // pruned with its subtree (its own hint, or an ancestor's)
	own   []float64 // the score of the text the element owns (blockScore)
	sum   []float64 // own summed over the subtree; a gone child costs instead
	prose []float64 // the positive own scores summed over the subtree

	subChars, subLinks []int32 // chars and linkChars summed over the subtree, gone excluded
	allChars           []int32 // chars summed over the subtree, gone included
}

// indexPage indexes the document node of a parsed page.
func indexPage(doc *html.Node) *pageIndex {
	ix := &pageIndex{elems: make([]pageElem, 0, 1024)}
	ix.walk(doc, -1, -1, false)
	return ix
}

func (ix *pageIndex) walk(n *html.Node, parent, owner int32, inLink bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			if owner >= 0 {
				ix.count(c.Data, owner, inLink)
			}
		case html.ElementNode:
			if c.DataAtom == atom.Head {
				ix.readHead(c)
				continue
			}
			if c.DataAtom == atom.Html {
				ix.lang = strings.TrimSpace(elemAttr(c, "lang"))
			}
			if !indexed(c) {
				continue
			}
			i := int32(len(ix.elems))
			ix.elems = append(ix.elems, pageElem{
				node:   c,
				parent: parent,
				hint:   elementHint(c),
				block:  isBlock(c.DataAtom),
			})
			o := owner
			if ix.elems[i].block || owner < 0 {
				o = i
			}
			ix.walk(c, i, o, inLink || c.DataAtom == atom.A)
			ix.elems[i].end = int32(len(ix.elems))
		}
	}
}

// count adds the letters and digits of s to element owner.
func (ix *pageIndex) count(s string, owner int32, inLink bool) {
	n := countLetters(s)
	e := &ix.elems[owner]
	e.chars += n
	if inLink {
		e.linkChars += n
	}
}

// countLetters counts the letters and digits in s.
func countLetters(s string) int32 {
	var n int32
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			n++
		}
	}
	return n
}

// readHead takes the title and the og:title / twitter:title metadata from
// <head>. Nothing in <head> is indexed.
func (ix *pageIndex) readHead(head *html.Node) {
	for c := head.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.Title:
			if ix.titleTag == "" {
				ix.titleTag = squashSpace(elemText(c))
			}
		case atom.Meta:
			key := elemAttr(c, "property")
			if key == "" {
				key = elemAttr(c, "name")
			}
			if ix.metaTitle == "" && (strings.EqualFold(key, "og:title") || strings.EqualFold(key, "twitter:title")) {
				ix.metaTitle = squashSpace(elemAttr(c, "content"))
			}
		}
	}
}

// title is og:title, else <title>, else the text of the first <h1>.
func (ix *pageIndex) title() string {
	if ix.metaTitle != "" {
		return ix.metaTitle
	}
	if ix.titleTag != "" {
		return ix.titleTag
	}
	for _, e := range ix.elems {
		if e.node.DataAtom == atom.H1 {
			return squashSpace(elemText(e.node))
		}
	}
	return ""
}

// indexed says whether an element can hold text worth reading. Scripts,
// styles, media, form controls and hidden elements cannot; the text pass
// uses the same test, so the two walks meet the same elements in the same
// order.
func indexed(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Math,
		atom.Canvas, atom.Iframe, atom.Object, atom.Embed, atom.Video, atom.Audio,
		atom.Picture, atom.Img, atom.Map, atom.Button, atom.Input, atom.Select,
		atom.Option, atom.Textarea, atom.Datalist, atom.Dialog, atom.Head,
		atom.Title, atom.Meta, atom.Link, atom.Base, atom.Frameset, atom.Noframes:
		return false
	}
	if n.Namespace != "" { // svg and math content that kept its children
		return false
	}
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return false
		case "style":
			if hiddenStyle(a.Val) {
				return false
			}
		}
	}
	return true
}

// hiddenStyle reports whether an inline style hides the element
// (display: none or visibility: hidden, any spacing or case).
func hiddenStyle(style string) bool {
	for decl := range strings.SplitSeq(style, ";") {
		prop, val, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		prop, val = strings.TrimSpace(prop), strings.TrimSpace(val)
		val = strings.TrimSuffix(val, "!important")
		val = strings.TrimSpace(val)
		if strings.EqualFold(prop, "display") && strings.EqualFold(val, "none") ||
			strings.EqualFold(prop, "visibility") && strings.EqualFold(val, "hidden") {
			return true
		}
	}
	return false
}

// isBlock says whether a tag starts a new block of text. Unknown tags
// (custom elements) count as blocks: they are most often components.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.A, atom.Abbr, atom.B, atom.Bdi, atom.Bdo, atom.Big, atom.Cite, atom.Code,
		atom.Data, atom.Del, atom.Dfn, atom.Em, atom.Font, atom.I, atom.Ins, atom.Kbd,
		atom.Label, atom.Mark, atom.Nobr, atom.Q, atom.Rp, atom.Rt, atom.Ruby, atom.S,
		atom.Samp, atom.Small, atom.Span, atom.Strike, atom.Strong, atom.Sub, atom.Sup,
		atom.Time, atom.Tt, atom.U, atom.Var, atom.Wbr, atom.Br, atom.Output:
		return false
	}
	return true
}

func elemAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key && a.Namespace == "" {
			return a.Val
		}
	}
	return ""
}

// nodeText is all the text under n, as is.
func elemText(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b.WriteString(c.Data)
			case html.ElementNode:
				if c.DataAtom != atom.Script && c.DataAtom != atom.Style {
					rec(c)
				}
			}
		}
	}
	rec(n)
	return b.String()
}

// collapseSpace trims s and turns each run of white space into one space.
func squashSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
