package bpe

import (
	"cmp"
	"slices"
	"unicode"
)

// The character classes of the patterns as tiktoken sees them: Go's unicode
// tables (Unicode 15.0.0) with the code points that tiktoken's newer Unicode
// adds (unicodeAdded, in unicode_tables.go, which bpe/gen_unicode.py writes).
// The scanners read these; RegexSplitter adds the same code points to the
// classes of its regexes (see translateRegex). \s and \p{Lt} need no patch.
var (
	tabL  = withAdded(unicode.L, unicodeAdded["L"])
	tabLu = withAdded(unicode.Lu, unicodeAdded["Lu"])
	tabLt = withAdded(unicode.Lt, unicodeAdded["Lt"])
	tabLl = withAdded(unicode.Ll, unicodeAdded["Ll"])
	tabLm = withAdded(unicode.Lm, unicodeAdded["Lm"])
	tabLo = withAdded(unicode.Lo, unicodeAdded["Lo"])
	tabM  = withAdded(unicode.M, unicodeAdded["M"])
	tabN  = withAdded(unicode.N, unicodeAdded["N"])
)

// withAdded returns a table of the code points of base and of add (nil for
// none), in ranges of stride 1.
func withAdded(base, add *unicode.RangeTable) *unicode.RangeTable {
	if add == nil {
		return base
	}
	spans := append(tableSpans(base), tableSpans(add)...)
	slices.SortFunc(spans, func(a, b [2]rune) int { return cmp.Compare(a[0], b[0]) })

	out := &unicode.RangeTable{}
	emit := func(lo, hi rune) {
		if lo <= 0xFFFF {
			h := min(hi, 0xFFFF)
			out.R16 = append(out.R16, unicode.Range16{Lo: uint16(lo), Hi: uint16(h), Stride: 1})
			if h <= unicode.MaxLatin1 {
				out.LatinOffset++
			}
			lo = h + 1
		}
		if lo <= hi {
			out.R32 = append(out.R32, unicode.Range32{Lo: uint32(lo), Hi: uint32(hi), Stride: 1})
		}
	}
	cur := spans[0]
	for _, s := range spans[1:] {
		if s[0] <= cur[1]+1 {
			cur[1] = max(cur[1], s[1])
			continue
		}
		emit(cur[0], cur[1])
		cur = s
	}
	emit(cur[0], cur[1])
	return out
}

// tableSpans returns the code points of t as [lo, hi] spans, in t's order:
// one span per range of stride 1, one per code point of the others.
func tableSpans(t *unicode.RangeTable) [][2]rune {
	var spans [][2]rune
	add := func(lo, hi, stride rune) {
		if stride == 1 {
			spans = append(spans, [2]rune{lo, hi})
			return
		}
		for c := lo; c <= hi; c += stride {
			spans = append(spans, [2]rune{c, c})
		}
	}
	for _, r := range t.R16 {
		add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
	}
	for _, r := range t.R32 {
		add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
	}
	return spans
}
