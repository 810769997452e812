package clean

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Text helpers shared by the quality filters. The filters reproduce
// datatrove's, which are Python: lengths are in code points (len(str)),
// whitespace is str.isspace, lines are str.splitlines or str.split("\n"),
// and words come from spaCy's English tokenizer (words_spacy.go). These
// helpers give the same answers on the same text, without allocating.
//
// The character classes are generated from the peers themselves
// (words_tables.go, by scripts/datatrove_peer.py tables): each code point
// carries a bit set of the classes it belongs to, looked up in a 128-entry
// table for ASCII and by binary search in the range list otherwise.

// runeRange is a run of code points lo..hi (inclusive) with the same classes.
type runeRange struct {
	lo, hi  rune
	classes uint32
}

var asciiClasses [utf8.RuneSelf]uint32

func init() {
	for _, rr := range runeClasses {
		for r := rr.lo; r <= rr.hi && r < utf8.RuneSelf; r++ {
			asciiClasses[r] = rr.classes
		}
	}
}

// runeClass returns the class bits (cSpace, cAlpha, ...) of r.
func runeClass(r rune) uint32 {
	if r < utf8.RuneSelf {
		if r < 0 {
			return 0
		}
		return asciiClasses[r]
	}
	lo, hi := 0, len(runeClasses)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		rr := &runeClasses[m]
		switch {
		case r < rr.lo:
			hi = m
		case r > rr.hi:
			lo = m + 1
		default:
			return rr.classes
		}
	}
	return 0
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClasses[r]&cSpace != 0
	}
	return r >= 0x85 && runeClass(r)&cSpace != 0
}

// pyLen is Python's len(s).
func pyLen(s string) int { return utf8.RuneCountInString(s) }

// pyStrip is Python's s.strip().
func pyStrip(s string) string { return pyRStrip(pyLStrip(s)) }

// pyLStrip is Python's s.lstrip().
func pyLStrip(s string) string {
	for len(s) > 0 {
		r, w := rune(s[0]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s)
		}
		if !isPySpace(r) {
			break
		}
		s = s[w:]
	}
	return s
}

// pyRStrip is Python's s.rstrip().
func pyRStrip(s string) string {
	for len(s) > 0 {
		r, w := rune(s[len(s)-1]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeLastRuneInString(s)
		}
		if !isPySpace(r) {
			break
		}
		s = s[:len(s)-w]
	}
	return s
}

// nextPyLine splits off the first line of s the way Python's str.splitlines
// does (at \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029), returning
// the line without its break and the rest. Iterating
//
//	for rest := s; rest != ""; { line, rest = nextPyLine(rest) }
//
// visits exactly the elements of s.splitlines().
func nextPyLine(s string) (line, rest string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= 0x1e && asciiClasses[c]&cLineBreak != 0 {
				if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					return s[:i], s[i+2:]
				}
				return s[:i], s[i+1:]
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == 0x85 || r == 0x2028 || r == 0x2029 {
			return s[:i], s[i+w:]
		}
		i += w
	}
	return s, ""
}

// nextPyField splits off the first whitespace-separated field of s, as
// Python's str.split() does; field is "" when s holds only whitespace.
func nextPyField(s string) (field, rest string) {
	s = pyLStrip(s)
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if isPySpace(r) {
			return s[:i], s[i:]
		}
		i += w
	}
	return s, ""
}

// hasASCIIFold reports whether lower(s) contains needle, for a lower-case
// ASCII needle, without building lower(s). Python's str.lower maps only
// ASCII capitals and the Kelvin sign (U+212A) to ASCII letters; other
// characters cannot be part of an ASCII match.
func hasASCIIFold(s, needle string) bool {
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != needle[0] {
			continue
		}
		if matchFoldAt(s, i, needle) {
			return true
		}
	}
	if strings.IndexByte(needle, 'k') >= 0 {
		return hasKelvinFold(s, needle)
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func matchFoldAt(s string, i int, needle string) bool {
	for j := 0; j < len(needle); j++ {
		if lowerASCII(s[i+j]) != needle[j] {
			return false
		}
	}
	return true
}

// hasKelvinFold is the slow path of hasASCIIFold for text with the Kelvin
// sign K (U+212A), which Python lower-cases to 'k'.
func hasKelvinFold(s, needle string) bool {
	const kelvin = "\u212a"
	if !strings.Contains(s, kelvin) {
		return false
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if i+len(kelvin) <= len(s) && s[i:i+len(kelvin)] == kelvin {
			b = append(b, 'k')
			i += len(kelvin)
			continue
		}
		b = append(b, lowerASCII(s[i]))
		i++
	}
	return strings.Contains(string(b), needle)
}

// unsafeString views b as a string without copying; b must not change while
// the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
