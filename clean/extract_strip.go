package clean

import (
	"bytes"
	"io"
)

// Scripts and style sheets are half the bytes of today's pages (54% of the
// extraction benchmark's HTML), and the parser reads each byte by byte and
// copies it into a text node that extraction never reads (indexed and
// elemText pass over script and style elements). stripRawText cuts their
// contents out before parsing, so that the parser builds the same tree,
// less those text nodes, in a fraction of the time.
//
// To cut exactly what the parser would have put in those nodes, the page
// is read the way golang.org/x/net/html's tokenizer reads it (the
// functions below follow its readTag, readComment, readScript, ... one for
// one, and their names say which): text, tags with their attributes,
// comments, and the raw text of script, style, textarea, title, xmp,
// iframe, noembed, noframes, noscript and plaintext. The parser changes
// how its tokenizer reads in one situation only, foreign content: inside
// <svg> and <math> a <style> is not raw text. And it ignores a <style> or
// <script> start tag in two places, so that the raw text that follows is
// text of the page: in a frameset, and in a template's column group.
// Cutting stops at the first <svg>, <math>, <frameset> or <template> start
// tag; the rest of the page is parsed as it is.
//
// TestStripRawTextKeepsTree holds this to the parser itself: the page and
// its stripped version parse to the same tree but for the text of scripts
// and styles, on the benchmark's pages and on generated ones.

// stripRawText returns a reader of page without the contents of its script
// and style elements: the pieces between them, not a copy.
func stripRawText(page []byte) io.Reader {
	var pieces []io.Reader
	kept := 0 // page[kept:] is still to be read
	cut := func(from, to int) {
		pieces = append(pieces, bytes.NewReader(page[kept:from]))
		kept = to
	}
	s := tagScanner{b: page}
	for {
		lt := bytes.IndexByte(s.b[s.i:], '<')
		if lt < 0 {
			break
		}
		s.i += lt + 1
		raw, stop, ok := s.afterLT()
		if !ok || stop {
			break
		}
		if raw == "" {
			continue
		}
		if raw == "plaintext" { // raw text to the end
			break
		}
		start := s.i
		var end int
		if raw == "script" {
			end = s.scriptEnd()
		} else {
			end = s.rawEnd(raw)
		}
		if end < 0 { // no end tag: the rest is this element's text
			break
		}
		if (raw == "script" || raw == "style") && end > start {
			cut(start, end)
		}
		s.i = end
	}
	if pieces == nil {
		return bytes.NewReader(page)
	}
	return io.MultiReader(append(pieces, bytes.NewReader(page[kept:]))...)
}

// tagScanner reads b from i as x/net/html's tokenizer does, without
// making tokens. Each method leaves i after what it read; ok false means
// the page ended inside a token.
type tagScanner struct {
	b []byte
	i int
}

func isTagSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// afterLT reads what follows a '<' in text (Next): a start tag, an end
// tag, a comment, a doctype, or nothing (the '<' is text). raw is the
// lower-case name of a start tag whose contents are raw text; stop is set
// at a start tag after which cutting must stop.
func (s *tagScanner) afterLT() (raw string, stop, ok bool) {
	if s.i >= len(s.b) {
		return "", false, false
	}
	c := s.b[s.i]
	switch {
	case isASCIILetter(c):
		nameStart := s.i
		s.i++
		name, ok := s.readTag(nameStart)
		if !ok {
			return "", false, false
		}
		switch {
		case nameIs(name, "svg"), nameIs(name, "math"), nameIs(name, "frameset"), nameIs(name, "template"):
			return "", true, true
		}
		for _, r := range rawTextTags {
			if nameIs(name, r) {
				return r, false, true
			}
		}
		return "", false, true
	case c == '/':
		s.i++
		if s.i >= len(s.b) {
			return "", false, false
		}
		c = s.b[s.i]
		switch {
		case c == '>': // "</>": nothing
			s.i++
			return "", false, true
		case isASCIILetter(c):
			nameStart := s.i
			s.i++
			_, ok := s.readTag(nameStart)
			return "", false, ok
		}
		return "", false, s.untilCloseAngle()
	case c == '!':
		s.i++
		if s.i+2 > len(s.b) {
			return "", false, false
		}
		if s.b[s.i] == '-' && s.b[s.i+1] == '-' {
			s.i += 2
			return "", false, s.readComment()
		}
		// A doctype or a bogus comment: either ends at the next '>'
		// (readDoctype, readUntilCloseAngle; no CDATA outside foreign
		// content).
		return "", false, s.untilCloseAngle()
	case c == '?':
		return "", false, s.untilCloseAngle()
	}
	return "", false, true // text; c is read again
}

// rawTextTags are the start tags after which the tokenizer reads raw text
// (readStartTag).
var rawTextTags = [...]string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp"}

// nameIs reports whether a tag name is lower (lower case), ignoring ASCII
// case (startTagIn).
func nameIs(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// readTag reads a tag's name and attributes to the closing '>' (readTag,
// readTagName); the name starts at nameStart, and i is after its first
// letter.
func (s *tagScanner) readTag(nameStart int) (name []byte, ok bool) {
	for {
		if s.i >= len(s.b) {
			return nil, false
		}
		c := s.b[s.i]
		if isTagSpace(c) {
			name = s.b[nameStart:s.i]
			s.i++
			break
		}
		if c == '/' || c == '>' {
			name = s.b[nameStart:s.i]
			break
		}
		s.i++
	}
	s.skipSpace()
	for {
		if s.i >= len(s.b) {
			return nil, false
		}
		if s.b[s.i] == '>' {
			s.i++
			return name, true
		}
		s.readAttrKey()
		s.readAttrVal()
		s.skipSpace()
	}
}

func (s *tagScanner) skipSpace() {
	for s.i < len(s.b) && isTagSpace(s.b[s.i]) {
		s.i++
	}
}

// readAttrKey: readTagAttrKey. An '=' that starts the name is part of it.
func (s *tagScanner) readAttrKey() {
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case '=':
			if s.i == start {
				continue
			}
			return
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			return
		}
	}
}

// readAttrVal: readTagAttrVal.
func (s *tagScanner) readAttrVal() {
	s.skipSpace()
	if s.i >= len(s.b) {
		return
	}
	switch s.b[s.i] {
	case '/':
		s.i++
		return
	case '=':
		s.i++
	default:
		return
	}
	s.skipSpace()
	if s.i >= len(s.b) {
		return
	}
	switch q := s.b[s.i]; q {
	case '>':
		return
	case '\'', '"':
		s.i++
		if j := bytes.IndexByte(s.b[s.i:], q); j >= 0 {
			s.i += j + 1
		} else {
			s.i = len(s.b)
		}
	default:
		for s.i++; s.i < len(s.b); s.i++ {
			c := s.b[s.i]
			if isTagSpace(c) {
				s.i++
				return
			}
			if c == '>' {
				return
			}
		}
	}
}

// untilCloseAngle: readUntilCloseAngle.
func (s *tagScanner) untilCloseAngle() bool {
	j := bytes.IndexByte(s.b[s.i:], '>')
	if j < 0 {
		s.i = len(s.b)
		return false
	}
	s.i += j + 1
	return true
}

// readComment reads a comment after its "<!--" to its end: "-->", "--!>",
// or a '>' right at the start ("<!-->", "<!--->").
func (s *tagScanner) readComment() bool {
	dashes, beginning := 0, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch c {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return true
			}
		case '!':
			if dashes >= 2 {
				if s.i >= len(s.b) {
					return false
				}
				c = s.b[s.i]
				s.i++
				if c == '>' {
					return true
				}
				if c == '-' {
					dashes, beginning = 1, false
					continue
				}
			}
		}
		dashes, beginning = 0, false
	}
	return false
}

// rawEnd returns where the raw text of element tag (not script) ends: at
// its end tag, "</tag" and a space, '/' or '>' (readRawOrRCDATA), or -1
// when the page ends first.
func (s *tagScanner) rawEnd(tag string) int {
	for {
		j := bytes.IndexByte(s.b[s.i:], '<')
		if j < 0 {
			return -1
		}
		s.i += j + 1
		if s.i >= len(s.b) {
			return -1
		}
		if s.b[s.i] != '/' {
			continue // read again
		}
		s.i++
		if end, ok := s.rawEndTag(tag); ok {
			return end
		}
	}
}

// rawEndTag reads tag after "</" (readRawEndTag): at its end tag it returns
// the position of the '<' without moving i; otherwise i is at the first
// byte that did not match.
func (s *tagScanner) rawEndTag(tag string) (int, bool) {
	start := s.i - 2
	for k := 0; k < len(tag); k++ {
		if s.i >= len(s.b) {
			return 0, false
		}
		if c := s.b[s.i]; c != tag[k] && c != tag[k]-('a'-'A') {
			return 0, false
		}
		s.i++
	}
	if s.i >= len(s.b) {
		return 0, false
	}
	switch s.b[s.i] {
	case ' ', '\n', '\r', '\t', '\f', '/', '>':
		s.i = start
		return start, true
	}
	return 0, false
}

// scriptEnd returns where a script's text ends, or -1 when the page ends
// first: readScript's states, "<!--" escapes and "<script" double escapes
// included.
func (s *tagScanner) scriptEnd() int {
	b := s.b
	var c byte
	read := func() bool {
		if s.i >= len(b) {
			return false
		}
		c = b[s.i]
		s.i++
		return true
	}
	unread := func() { s.i-- }

scriptData:
	if j := bytes.IndexByte(b[s.i:], '<'); j >= 0 {
		s.i += j + 1
	} else {
		return -1
	}
	// scriptDataLessThanSign
	if !read() {
		return -1
	}
	switch c {
	case '/':
		if end, ok := s.rawEndTag("script"); ok {
			return end
		}
		if s.i >= len(b) {
			return -1
		}
		goto scriptData
	case '!':
		goto scriptDataEscapeStart
	}
	unread()
	goto scriptData

scriptDataEscapeStart:
	if !read() {
		return -1
	}
	if c != '-' {
		unread()
		goto scriptData
	}
	if !read() {
		return -1
	}
	if c != '-' {
		unread()
		goto scriptData
	}
	goto scriptDataEscapedDashDash

scriptDataEscaped:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataEscapedDash
	case '<':
		goto scriptDataEscapedLessThanSign
	}
	goto scriptDataEscaped

scriptDataEscapedDash:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataEscapedDashDash
	case '<':
		goto scriptDataEscapedLessThanSign
	}
	goto scriptDataEscaped

scriptDataEscapedDashDash:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataEscapedDashDash
	case '<':
		goto scriptDataEscapedLessThanSign
	case '>':
		goto scriptData
	}
	goto scriptDataEscaped

scriptDataEscapedLessThanSign:
	if !read() {
		return -1
	}
	if c == '/' {
		if end, ok := s.rawEndTag("script"); ok {
			return end
		}
		if s.i >= len(b) {
			return -1
		}
		goto scriptDataEscaped
	}
	if isASCIILetter(c) {
		unread()
		goto scriptDataDoubleEscapeStart
	}
	unread()
	goto scriptData

scriptDataDoubleEscapeStart:
	for k := 0; k < len("script"); k++ {
		if !read() {
			return -1
		}
		if c != "script"[k] && c != "SCRIPT"[k] {
			unread()
			goto scriptDataEscaped
		}
	}
	if !read() {
		return -1
	}
	if isTagSpace(c) || c == '/' || c == '>' {
		goto scriptDataDoubleEscaped
	}
	unread()
	goto scriptDataEscaped

scriptDataDoubleEscaped:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedDash:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDashDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedDashDash:
	if !read() {
		return -1
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDashDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	case '>':
		goto scriptData
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedLessThanSign:
	if !read() {
		return -1
	}
	if c != '/' {
		unread()
		goto scriptDataDoubleEscaped
	}
	// scriptDataDoubleEscapeEnd
	if _, ok := s.rawEndTag("script"); ok {
		s.i += len("</script>")
		goto scriptDataEscaped
	}
	if s.i >= len(b) {
		return -1
	}
	goto scriptDataDoubleEscaped
}
