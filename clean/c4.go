package clean

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pipe-dev/pipe/docio"
)

// C4Config holds the rules of C4's cleaning (Raffel et al. 2020, section
// 2.2), as datatrove 0.10.1's C4QualityFilter applies them line by line
// (lines as str.splitlines cuts them, each stripped):
//
//   - a line with a word (str.split) longer than MaxWordLength is removed;
//   - Wikipedia citation marks ("[1]", "[edit]", "[citation needed]") are
//     taken out of the line;
//   - a line that does not end in a period, question mark, exclamation
//     mark, or double or single quote, or that ends in "...", is removed;
//   - a line of fewer than MinWordsPerLine words is removed;
//   - a line with "lorem ipsum" (any case) drops the document;
//   - a line with "javascript" (any case) is removed;
//   - a line with '{' drops the document;
//   - a line with "terms of use", "privacy policy", "cookie policy",
//     "uses cookies", "use of cookies" or "use cookies" is removed;
//   - a document with fewer than MinNumSentences sentences in the lines
//     that remain (spaCy's sentencizer, per line) is dropped.
//
// The checks run in that order and stop at the first that removes the line,
// so a '{' or "lorem ipsum" in a line that was already removed does not
// drop the document. (datatrove's split_paragraph=False, which applies the
// rules to spaCy sentences instead of lines, is not offered.)
type C4Config struct {
	FilterNoTerminalPunct bool
	RemoveCitations       bool
	FilterLoremIpsum      bool
	FilterJavascript      bool
	FilterCurlyBracket    bool
	FilterPolicy          bool
	MinNumSentences       int // 0 turns the check off
	MinWordsPerLine       int // 0 turns the check off
	MaxWordLength         int // code points; 0 turns the check off
}

// DefaultC4 returns datatrove's defaults: every rule on, at least 5
// sentences, at least 3 words per line, words of at most 1000 characters.
func DefaultC4() C4Config {
	return C4Config{
		FilterNoTerminalPunct: true,
		RemoveCitations:       true,
		FilterLoremIpsum:      true,
		FilterJavascript:      true,
		FilterCurlyBracket:    true,
		FilterPolicy:          true,
		MinNumSentences:       5,
		MinWordsPerLine:       3,
		MaxWordLength:         1000,
	}
}

// C4 is the C4 quality filter. Unlike the other filters it also rewrites
// the documents it keeps, as datatrove's C4QualityFilter does: doc.Text
// becomes the lines that remain, joined by '\n' and stripped. A dropped
// document is left as it was. Reasons: lorem_ipsum, curly_bracket,
// too_few_sentences. It is safe for concurrent use.
type C4 struct {
	cfg  C4Config
	pool sync.Pool // *c4Scratch
}

var _ Filter = (*C4)(nil)

// NewC4 returns the filter with cfg's rules.
func NewC4(cfg C4Config) *C4 {
	c := &C4{cfg: cfg}
	c.pool.New = func() any { return new(c4Scratch) }
	return c
}

func (c *C4) Name() string { return "c4" }

type c4Scratch struct {
	tok   wordTokenizer
	kept  []string
	lower []byte // the line in lower case (ASCII letters only)
}

// c4Policy are the phrases that remove a line (lower case).
var c4Policy = [...]string{"terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"}

// Filter records, in doc.Metadata["c4"], the lines of the text, the lines
// it kept and the sentences in those (with MinNumSentences set). A document
// dropped for "lorem ipsum" or '{' gets no measures: the reason says it all.
func (c *C4) Filter(doc *docio.Document) (bool, string) {
	cfg := &c.cfg
	sc := c.pool.Get().(*c4Scratch)
	defer c.pool.Put(sc)
	sc.kept = sc.kept[:0]
	sentences, lines := 0, 0
	for rest := doc.Text; rest != ""; {
		var line string
		line, rest = nextPyLine(rest)
		lines++
		line = pyStrip(line)
		words, long := 0, false
		for f := line; ; {
			var w string
			w, f = nextPyField(f)
			if w == "" {
				break
			}
			words++
			if cfg.MaxWordLength > 0 && len(w) > cfg.MaxWordLength && pyLen(w) > cfg.MaxWordLength {
				long = true
			}
		}
		if long {
			continue
		}
		if cfg.RemoveCitations && strings.IndexByte(line, '[') >= 0 {
			line = removeCitations(line)
		}
		if cfg.FilterNoTerminalPunct && (!hasC4End(line) || strings.HasSuffix(line, "...")) {
			continue
		}
		if words < cfg.MinWordsPerLine {
			continue
		}
		lower := sc.lowerLine(line)
		if cfg.FilterLoremIpsum && lower.has("lorem ipsum") {
			return false, "lorem_ipsum"
		}
		if cfg.FilterJavascript && lower.has("javascript") {
			continue
		}
		if cfg.FilterCurlyBracket && strings.IndexByte(line, '{') >= 0 {
			return false, "curly_bracket"
		}
		if cfg.FilterPolicy && lower.hasPolicy() {
			continue
		}
		if cfg.MinNumSentences > 0 {
			sentences += sc.tok.countSentences(line)
		}
		sc.kept = append(sc.kept, line)
	}
	m := Measures(doc, c.Name())
	m.Set("lines", float64(lines))
	m.Set("lines_kept", float64(len(sc.kept)))
	if cfg.MinNumSentences > 0 {
		m.Set("sentences", float64(sentences))
	}
	if sentences < cfg.MinNumSentences {
		return false, "too_few_sentences"
	}
	doc.Text = pyStrip(strings.Join(sc.kept, "\n"))
	return true, ""
}

// hasC4End: the line ends in a period, '?', '!', or a double or single quote.
func hasC4End(line string) bool {
	if line == "" {
		return false
	}
	switch line[len(line)-1] {
	case '.', '?', '!', '"', '\'':
		return true
	}
	return false
}

// lowered is a line and, when it has no Kelvin sign, its ASCII letters in
// lower case (Python's str.lower as far as ASCII needles can tell).
type lowered struct {
	line  string
	lower string // "" when the line has a Kelvin sign
}

func (sc *c4Scratch) lowerLine(line string) lowered {
	if strings.Contains(line, "\u212a") {
		return lowered{line: line}
	}
	sc.lower = sc.lower[:0]
	for i := 0; i < len(line); i++ {
		sc.lower = append(sc.lower, lowerASCII(line[i]))
	}
	return lowered{line: line, lower: unsafeString(sc.lower)}
}

// has reports whether lower(line) contains needle (lower-case ASCII).
func (l lowered) has(needle string) bool {
	if l.lower == "" && l.line != "" {
		return hasASCIIFold(l.line, needle)
	}
	return strings.Contains(l.lower, needle)
}

func (l lowered) hasPolicy() bool {
	for _, p := range c4Policy {
		if l.has(p) {
			return true
		}
	}
	return false
}

// removeCitations returns line without the matches of datatrove's
// CITATION_REGEX, \[\d*]|\[edit]|\[citation needed], found left to right
// without overlap (\d is any decimal digit, as in Python).
func removeCitations(line string) string {
	var b []byte
	last := 0
	for i := 0; i < len(line); {
		j := strings.IndexByte(line[i:], '[')
		if j < 0 {
			break
		}
		i += j
		n := citationAt(line[i:])
		if n == 0 {
			i++
			continue
		}
		b = append(b, line[last:i]...)
		i += n
		last = i
	}
	if b == nil && last == 0 {
		return line
	}
	return string(append(b, line[last:]...))
}

// citationAt returns the length of the citation mark at the start of s
// (which starts with '['), or 0.
func citationAt(s string) int {
	i := 1
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if runeClass(r)&cPyDecimal == 0 {
			break
		}
		i += w
	}
	if i < len(s) && s[i] == ']' {
		return i + 1
	}
	if strings.HasPrefix(s, "[edit]") {
		return len("[edit]")
	}
	if strings.HasPrefix(s, "[citation needed]") {
		return len("[citation needed]")
	}
	return 0
}
