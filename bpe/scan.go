package bpe

import (
	"unicode"
	"unicode/utf8"
)

// Hand-written scanners for the named patterns. Each one cuts text into the
// same pieces as the pattern's RegexSplitter (the tests and fuzz tests hold
// them to it), but walks the bytes once, looks ASCII up in a table and
// allocates nothing.
//
// The named patterns match at every position (their last alternatives take
// any single character), so a scanner only needs, for each position, the end
// of the match starting there: the end given by the first alternative that
// matches, with the backtracking of its quantifiers followed by hand.

// scanners maps a canonical pattern name to its scanner.
var scanners = map[string]Splitter{
	"gpt2":   scanner(gpt2Next),
	"cl100k": scanner(cl100kNext),
	"o200k":  scanner(o200kNext),
}

// scanner turns a next function, which returns the end of the piece that
// starts at text[i], into a Splitter.
type scanner func(text []byte, i int) int

func (next scanner) Split(text []byte, fn func(piece []byte)) {
	for i := 0; i < len(text); {
		j := next(text, i)
		fn(text[i:j:j])
		i = j
	}
}

// splitOpen is Split with pieces that keep the capacity of text, so that
// the encoder may read a few bytes past a piece (see loadWord).
func (next scanner) splitOpen(text []byte, fn func(piece []byte)) {
	for i := 0; i < len(text); {
		j := next(text, i)
		fn(text[i:j])
		i = j
	}
}

// Character classes, as bits, as tiktoken sees them (the tables of
// unicode.go). A character with none of cL, cN, cS is what the patterns write
// [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, unassigned code
// points and invalid bytes (each one U+FFFD, a symbol).
const (
	cL  = 1 << iota // \p{L}: letter
	cN              // \p{N}: number
	cS              // \s: White_Space, as Go's unicode.IsSpace
	cNL             // \r or \n
	cU              // o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cW              // o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]
)

// bmpClass holds the classes of the code points below U+10000, built from
// the same tables as unicodeClass (the tests check that they agree).
var bmpClass = func() (t [1 << 16]uint8) {
	fill := func(tab *unicode.RangeTable, bits uint8) {
		for _, r := range tab.R16 {
			for c := int(r.Lo); c <= int(r.Hi); c += int(r.Stride) {
				t[c] |= bits
			}
		}
	}
	fill(tabLu, cL|cU)
	fill(tabLt, cL|cU)
	fill(tabLl, cL|cW)
	fill(tabLm, cL|cU|cW)
	fill(tabLo, cL|cU|cW)
	fill(tabM, cU|cW)
	fill(tabN, cN)
	fill(unicode.White_Space, cS)
	t['\r'] |= cNL
	t['\n'] |= cNL
	return t
}()

// unicodeClass returns the classes of r from the tables of unicode.go, whose
// code points RegexSplitter's translated classes also hold.
func unicodeClass(r rune) uint8 {
	switch {
	case unicode.Is(tabLu, r), unicode.Is(tabLt, r):
		return cL | cU
	case unicode.Is(tabLl, r):
		return cL | cW
	case unicode.Is(tabL, r): // Lm, Lo
		return cL | cU | cW
	case unicode.Is(tabM, r):
		return cU | cW
	case unicode.Is(tabN, r):
		return cN
	case r == '\r' || r == '\n':
		return cS | cNL
	case unicode.IsSpace(r):
		return cS
	}
	return 0
}

// classAt returns the classes and the width of the character at text[i].
func classAt(text []byte, i int) (class uint8, width int) {
	if b := text[i]; b < utf8.RuneSelf {
		return bmpClass[b], 1
	}
	return classAtRune(text, i)
}

// classAtRune is classAt for a character that does not start with an ASCII
// byte (kept apart so that classAt inlines).
func classAtRune(text []byte, i int) (class uint8, width int) {
	r, w := utf8.DecodeRune(text[i:])
	if r < 1<<16 {
		return bmpClass[r], w
	}
	return unicodeClass(r), w
}

// span returns the end of the run of characters from text[i] whose classes
// masked by mask equal want.
func span(text []byte, i int, mask, want uint8) int {
	for i < len(text) {
		if b := text[i]; b < utf8.RuneSelf {
			if bmpClass[b]&mask != want {
				return i
			}
			i++
			continue
		}
		c, w := classAt(text, i)
		if c&mask != want {
			return i
		}
		i += w
	}
	return i
}

// Runs of one kind, as span arguments.
const (
	letters = cL
	numbers = cN
	others  = cL | cN | cS // with want 0: [^\s\p{L}\p{N}]
)

// kindRun returns the end of the run of letters, numbers or others (as c,
// the classes of text[i], says) that starts at text[i].
func kindRun(text []byte, i int, c uint8) int {
	switch {
	case c&cL != 0:
		return span(text, i, letters, cL)
	case c&cN != 0:
		return span(text, i, numbers, cN)
	}
	return span(text, i, others, 0)
}

// spaceRun describes the run of white space starting at text[i]: its end,
// the start of its last character, and the index of its last \r or \n (-1
// when it has none).
func spaceRun(text []byte, i int) (end, last, lastNL int) {
	lastNL = -1
	for end = i; end < len(text); {
		c, w := classAt(text, end)
		if c&cS == 0 {
			break
		}
		if c&cNL != 0 {
			lastNL = end
		}
		last = end
		end += w
	}
	return end, last, lastNL
}

// contraction returns the length of a contraction suffix (s, d, m, t, ll, ve,
// re) at the start of b, 0 if none; fold makes it case-insensitive, with
// Rust's folding of s to ſ (U+017F).
func contraction(b []byte, fold bool) int {
	if len(b) == 0 {
		return 0
	}
	lower := func(c byte) byte {
		if fold && 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch c := lower(b[0]); c {
	case 's', 'd', 'm', 't':
		return 1
	case 'l':
		if len(b) > 1 && lower(b[1]) == 'l' {
			return 2
		}
	case 'v', 'r':
		if len(b) > 1 && lower(b[1]) == 'e' {
			return 2
		}
	case 0xC5: // ſ is C5 BF
		if fold && len(b) > 1 && b[1] == 0xBF {
			return 2
		}
	}
	return 0
}

// gpt2Next returns the end of the piece at text[i] under PatternGPT2:
//
//	'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
func gpt2Next(text []byte, i int) int {
	if text[i] == '\'' {
		if n := contraction(text[i+1:], false); n > 0 {
			return i + 1 + n
		}
	}
	if text[i] == ' ' && i+1 < len(text) {
		if c, _ := classAt(text, i+1); c&cS == 0 {
			return kindRun(text, i+1, c)
		}
	}
	c, w := classAt(text, i)
	if c&cS == 0 {
		return kindRun(text, i, c)
	}
	// \s++$, else \s+(?!\S): all but the last space, else \s.
	end, last, _ := spaceRun(text, i)
	if end == len(text) {
		return end
	}
	if last > i {
		return last
	}
	return i + w
}

// cl100kNext returns the end of the piece at text[i] under PatternCL100K:
//
//	'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|
//	 ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
func cl100kNext(text []byte, i int) int {
	if text[i] == '\'' {
		if n := contraction(text[i+1:], true); n > 0 {
			return i + 1 + n
		}
	}
	c, w := classAt(text, i)
	// [^\r\n\p{L}\p{N}]?+\p{L}++
	if c&cL != 0 {
		return span(text, i, letters, cL)
	}
	if c&(cN|cNL) == 0 && i+w < len(text) {
		if c2, _ := classAt(text, i+w); c2&cL != 0 {
			return span(text, i+w, letters, cL)
		}
	}
	// \p{N}{1,3}+
	if c&cN != 0 {
		j := i + w
		for k := 1; k < 3 && j < len(text); k++ {
			c2, w2 := classAt(text, j)
			if c2&cN == 0 {
				break
			}
			j += w2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]++[\r\n]*+
	if j := optionalSpace(text, i); c&cS == 0 || j > i {
		j = span(text, j, others, 0)
		for j < len(text) && (text[j] == '\r' || text[j] == '\n') {
			j++
		}
		return j
	}
	// \s++$, else \s*[\r\n], else \s+(?!\S), else \s.
	end, last, lastNL := spaceRun(text, i)
	switch {
	case end == len(text):
		return end
	case lastNL >= 0:
		return lastNL + 1
	case last > i:
		return last
	}
	return i + w
}

// optionalSpace returns i+1 if text[i] is a space followed by a character
// of [^\s\p{L}\p{N}], else i: where " ?[^\s\p{L}\p{N}]" puts its class.
func optionalSpace(text []byte, i int) int {
	if text[i] == ' ' && i+1 < len(text) {
		if c, _ := classAt(text, i+1); c&others == 0 {
			return i + 1
		}
	}
	return i
}

// o200kNext returns the end of the piece at text[i] under PatternO200K,
// whose alternatives are
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	\p{N}{1,3}
//	 ?[^\s\p{L}\p{N}]+[\r\n/]*
//	\s*[\r\n]+
//	\s+(?!\S)
//	\s+
//
// Below, U is [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and W is [\p{Ll}\p{Lm}\p{Lo}\p{M}].
func o200kNext(text []byte, i int) int {
	if e := o200kASCIIWord(text, i); e >= 0 {
		return e
	}
	c, w := classAt(text, i)
	prefix := c&(cL|cN|cNL) == 0 && i+w < len(text)
	if prefix {
		if e := o200kLower(text, i+w); e >= 0 {
			return o200kSuffix(text, e)
		}
	}
	if c&(cU|cW) != 0 {
		if e := o200kLower(text, i); e >= 0 {
			return o200kSuffix(text, e)
		}
	}
	if prefix {
		if e := span(text, i+w, cU, cU); e > i+w {
			return o200kSuffix(text, span(text, e, cW, cW))
		}
	}
	if c&cU != 0 {
		e := span(text, i, cU, cU)
		return o200kSuffix(text, span(text, e, cW, cW))
	}
	// \p{N}{1,3}
	if c&cN != 0 {
		j := i + w
		for k := 1; k < 3 && j < len(text); k++ {
			c2, w2 := classAt(text, j)
			if c2&cN == 0 {
				break
			}
			j += w2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n/]*
	if j := optionalSpace(text, i); c&cS == 0 || j > i {
		j = span(text, j, others, 0)
		for j < len(text) && (text[j] == '\r' || text[j] == '\n' || text[j] == '/') {
			j++
		}
		return j
	}
	// \s*[\r\n]+, else \s+(?!\S), else \s+.
	end, last, lastNL := spaceRun(text, i)
	switch {
	case lastNL >= 0:
		return lastNL + 1
	case end == len(text) || last == i:
		return end
	}
	return last
}

// o200kASCIIWord is o200kNext's fast path for a word of ASCII letters,
// perhaps after one ASCII character of [^\r\n\p{L}\p{N}], that an ASCII
// character ends: as U is [A-Z] and W is [a-z] there, U*W+ does not
// backtrack, and the word is [A-Z]*[a-z]+ or else [A-Z]+. It returns -1 when
// the piece at text[i] is not such a word.
func o200kASCIIWord(text []byte, i int) int {
	j := i
	if b := text[j]; b < utf8.RuneSelf && bmpClass[b]&(cL|cN|cNL) == 0 {
		j++
	}
	u := j
	for u < len(text) && 'A' <= text[u] && text[u] <= 'Z' {
		u++
	}
	end := u
	for end < len(text) && 'a' <= text[end] && text[end] <= 'z' {
		end++
	}
	if end == j || end < len(text) && text[end] >= utf8.RuneSelf {
		return -1
	}
	return o200kSuffix(text, end)
}

// o200kLower matches U*W+ at text[i] and returns its end, or -1. U* is
// greedy: it takes the whole run of U, and W+ then continues with the run of
// W after it; when none follows, U* gives characters back until one of them
// (the last one in W: an Lm, Lo or M) can be W+ on its own.
func o200kLower(text []byte, i int) int {
	j, lastW := i, -1
	for j < len(text) {
		b := text[j]
		c, w := bmpClass[b], 1
		if b >= utf8.RuneSelf {
			c, w = classAtRune(text, j)
		}
		if c&cU == 0 {
			if c&cW != 0 {
				return span(text, j, cW, cW)
			}
			break
		}
		if c&cW != 0 {
			lastW = j + w
		}
		j += w
	}
	return lastW
}

// o200kSuffix returns the end of (?i:'s|'t|'re|'ve|'m|'ll|'d)? at text[i].
func o200kSuffix(text []byte, i int) int {
	if i < len(text) && text[i] == '\'' {
		if n := contraction(text[i+1:], true); n > 0 {
			return i + 1 + n
		}
	}
	return i
}
