package bpe

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// The pre-split patterns of OpenAI's encodings, exactly as tiktoken 0.14
// defines them (tiktoken_ext/openai_public.py). They are written for Rust's
// fancy-regex: `++`, `*+`, `?+` and `{1,3}+` are possessive quantifiers.
const (
	// PatternGPT2 is the pattern of gpt2, r50k_base, p50k_base and p50k_edit.
	PatternGPT2 = `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`

	// PatternCL100K is the pattern of cl100k_base.
	PatternCL100K = `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`

	// PatternO200K is the pattern of o200k_base and o200k_harmony.
	PatternO200K = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|\p{N}{1,3}` +
		`| ?[^\s\p{L}\p{N}]+[\r\n/]*` +
		`|\s*[\r\n]+` +
		`|\s+(?!\S)` +
		`|\s+`
)

// namedPatterns maps every accepted pattern name to its regex. The canonical
// names are gpt2, cl100k and o200k; the others are tiktoken's encoding names.
var namedPatterns = map[string]string{
	"gpt2":          PatternGPT2,
	"r50k":          PatternGPT2,
	"r50k_base":     PatternGPT2,
	"p50k_base":     PatternGPT2,
	"p50k_edit":     PatternGPT2,
	"cl100k":        PatternCL100K,
	"cl100k_base":   PatternCL100K,
	"o200k":         PatternO200K,
	"o200k_base":    PatternO200K,
	"o200k_harmony": PatternO200K,
}

// LookupPattern returns the regex of a named pattern: gpt2 (also r50k,
// r50k_base, p50k_base, p50k_edit), cl100k (also cl100k_base) or o200k (also
// o200k_base, o200k_harmony).
func LookupPattern(name string) (regex string, ok bool) {
	regex, ok = namedPatterns[name]
	return regex, ok
}

// PatternName returns the canonical name (gpt2, cl100k or o200k) of a regex
// that is exactly one of the named patterns, so that a tokenizer file carrying
// cl100k's regex gets cl100k's scanner.
func PatternName(regex string) (name string, ok bool) {
	switch regex {
	case PatternGPT2:
		return "gpt2", true
	case PatternCL100K:
		return "cl100k", true
	case PatternO200K:
		return "o200k", true
	}
	return "", false
}

// NewSplitter returns the splitter for a pattern name (see LookupPattern) or a
// regex. The named patterns, and regexes equal to one of them, get a
// hand-written scanner; any other regex is compiled with NewRegexSplitter.
func NewSplitter(pattern string) (Splitter, error) {
	if err := CheckPattern(pattern); err != nil {
		return nil, err
	}
	regex := pattern
	if r, ok := LookupPattern(pattern); ok {
		regex = r
	}
	if name, ok := PatternName(regex); ok && scanners[name] != nil {
		return scanners[name], nil
	}
	return NewRegexSplitter(regex)
}

// RegexSplitter splits text at the matches of a regex written for Rust's
// regex / fancy-regex (tiktoken's engine), run by regexp2. It is the reference
// the hand-written scanners are tested against, and the splitter for custom
// patterns.
//
// Text is matched as runes, each invalid UTF-8 byte being one U+FFFD rune of
// one byte. Unlike tiktoken, which drops text that no match covers, the bytes
// between two matches (and before the first or after the last) are passed on
// as one piece of their own, so the pieces always cover the text. The named
// patterns leave no such gaps.
type RegexSplitter struct {
	re *regexp2.Regexp
}

var _ Splitter = (*RegexSplitter)(nil)

// NewRegexSplitter compiles regex, translated from Rust's syntax to regexp2's
// (see translateRegex).
func NewRegexSplitter(regex string) (*RegexSplitter, error) {
	tr, err := translateRegex(regex)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", regex, err)
	}
	re, err := regexp2.Compile(tr, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", regex, err)
	}
	return &RegexSplitter{re: re}, nil
}

// Split calls fn with the pieces of text; see RegexSplitter.
func (s *RegexSplitter) Split(text []byte, fn func(piece []byte)) {
	// runes[k] starts at byte off[k]; off[len(runes)] = len(text).
	runes := make([]rune, 0, len(text))
	off := make([]int, 0, len(text)+1)
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRune(text[i:])
		runes = append(runes, r)
		off = append(off, i)
		i += w
	}
	off = append(off, len(text))

	done := 0 // bytes passed to fn so far
	m, err := s.re.FindRunesMatch(runes)
	for ; m != nil && err == nil; m, err = s.re.FindNextMatch(m) {
		if m.Length == 0 {
			continue
		}
		start, end := off[m.Index], off[m.Index+m.Length]
		if start > done {
			fn(text[done:start:start])
		}
		fn(text[start:end:end])
		done = end
	}
	if err != nil {
		// Only a match timeout fails, and no timeout is set.
		panic(fmt.Sprintf("bpe: regexp2 failed: %v", err))
	}
	if done < len(text) {
		fn(text[done:])
	}
}

// translateRegex rewrites a regex in Rust's regex syntax to one regexp2 (.NET
// flavour) runs with the same matches:
//
//   - possessive quantifiers become atomic groups: X++ → (?>X+), X?+ → (?>X?),
//     X{1,3}+ → (?>X{1,3});
//   - $ outside (?m) becomes \z: .NET's $ also matches before a final "\n";
//   - in case-insensitive parts, a character also matches the members of its
//     simple case-folding orbit (unicode.SimpleFold) that regexp2, which
//     compares lower cases, would miss, as Rust matches the whole orbit:
//     s → [sſ] (ſ, U+017F, is its own lower case), σ → [σς];
//   - the Unicode classes that tiktoken's Unicode (16.0.0) makes larger than
//     Go's (15.0.0), which regexp2 reads, get the code points it adds
//     (unicodeAdded, also in the scanners' tables) as literal ranges:
//     \p{Lu} → [\p{Lu}ᲉꟋ-ꟌꟚꟜ𐵐-𐵥], \P{Lu} → [^\p{Lu}ᲉꟋ-ꟌꟚꟜ𐵐-𐵥], and in a
//     class [^\s\p{Lu}] → [^\s\p{Lu}ᲉꟋ-ꟌꟚꟜ𐵐-𐵥]; \P{Lu} inside a class is
//     refused;
//   - \pL → \p{L}, \x{HEX} / \u{HEX} / \xHH → the character, (?P<n> → (?<n>.
//
// Nested character classes and class set operations (&&, --) are refused or
// passed on as they are; Unicode class names must be Go's (L, Lu, Greek, …).
// Classes other than those the named patterns use (\p{L}, \p{Lu}, \p{Lt},
// \p{Ll}, \p{Lm}, \p{Lo}, \p{M}, \p{N}, \s), such as \p{Nd} or \w, keep
// Go's Unicode 15.0.0.
func translateRegex(regex string) (string, error) {
	t := &translator{src: []rune(regex)}
	out, err := t.seq(regexFlags{})
	if err != nil {
		return "", err
	}
	if t.i < len(t.src) {
		return "", fmt.Errorf("unbalanced ) at offset %d", t.i)
	}
	return out, nil
}

type regexFlags struct {
	ci    bool // (?i): case-insensitive
	multi bool // (?m): ^ and $ match at line ends
}

type translator struct {
	src []rune
	i   int // next rune of src
}

// seq translates alternatives up to an unmatched ')' or the end.
func (t *translator) seq(f regexFlags) (string, error) {
	var out strings.Builder
	for t.i < len(t.src) {
		switch t.src[t.i] {
		case ')':
			return out.String(), nil
		case '|':
			t.i++
			out.WriteByte('|')
			continue
		}
		atom, err := t.atom(&f)
		if err != nil {
			return "", err
		}
		q, possessive := t.quantifier()
		if possessive {
			out.WriteString("(?>" + atom + q + ")")
		} else {
			out.WriteString(atom + q)
		}
	}
	return out.String(), nil
}

// atom translates one atom: a character, escape, class or group. A flag
// group such as (?i) changes f for the rest of the enclosing group.
func (t *translator) atom(f *regexFlags) (string, error) {
	c := t.src[t.i]
	switch c {
	case '\\':
		return t.escape(*f)
	case '[':
		return t.class(*f)
	case '(':
		return t.group(f)
	case '*', '+', '?':
		return "", fmt.Errorf("repetition %q at offset %d follows nothing", c, t.i)
	case '$':
		t.i++
		if f.multi {
			return "$", nil
		}
		return `\z`, nil
	}
	t.i++
	if f.ci {
		return foldLiteral(c), nil
	}
	return string(c), nil
}

// quantifier reads a quantifier, if any, and whether it is possessive.
func (t *translator) quantifier() (q string, possessive bool) {
	start := t.i
	if t.i >= len(t.src) {
		return "", false
	}
	switch t.src[t.i] {
	case '*', '+', '?':
		t.i++
	case '{':
		// {n}, {n,}, {n,m} or Rust's {,m}; anything else is a literal '{'.
		j := t.i + 1
		for j < len(t.src) && (t.src[j] >= '0' && t.src[j] <= '9' || t.src[j] == ',') {
			j++
		}
		body := string(t.src[t.i+1 : j])
		if j >= len(t.src) || t.src[j] != '}' || body == "" || body == "," || strings.Count(body, ",") > 1 {
			return "", false
		}
		t.i = j + 1
		if body[0] == ',' {
			return t.lazyOrPossessive("{0" + body + "}")
		}
	default:
		return "", false
	}
	return t.lazyOrPossessive(string(t.src[start:t.i]))
}

// lazyOrPossessive reads the ? or + that may follow quantifier q.
func (t *translator) lazyOrPossessive(q string) (string, bool) {
	possessive := false
	if t.i < len(t.src) {
		switch t.src[t.i] {
		case '?':
			t.i++
			q += "?"
		case '+':
			t.i++
			possessive = true
		}
	}
	return q, possessive
}

// escape translates a backslash escape outside a class.
func (t *translator) escape(f regexFlags) (string, error) {
	if r, ok, err := t.codepoint(); err != nil {
		return "", err
	} else if ok {
		if f.ci {
			return foldLiteral(r), nil
		}
		return quoteRune(r), nil
	}
	return t.simpleEscape(false)
}

// simpleEscape passes on an escape that means the same in both flavours,
// and a Unicode class (\pL or \p{L}) as unicodeClassRegex writes it;
// inClass says whether the escape is inside a bracketed class.
func (t *translator) simpleEscape(inClass bool) (string, error) {
	if t.i+1 >= len(t.src) {
		return "", fmt.Errorf("trailing backslash")
	}
	c := t.src[t.i+1]
	if (c == 'p' || c == 'P') && t.i+2 < len(t.src) && t.src[t.i+2] != '{' {
		name := string(t.src[t.i+2])
		t.i += 3
		return unicodeClassRegex(name, c == 'P', inClass)
	}
	if c == 'p' || c == 'P' {
		end := t.i + 2
		for end < len(t.src) && t.src[end] != '}' {
			end++
		}
		if end >= len(t.src) {
			return "", fmt.Errorf("unclosed \\%c{ at offset %d", c, t.i)
		}
		name := string(t.src[t.i+3 : end])
		t.i = end + 1
		return unicodeClassRegex(name, c == 'P', inClass)
	}
	t.i += 2
	return `\` + string(c), nil
}

// unicodeClassRegex writes \p{name}, or \P{name} when negated, for regexp2:
// Go's table of the class with the code points that tiktoken adds to it
// (unicodeAdded), as literal ranges. A class with none is passed on as it
// is. Inside a bracketed class (inClass), \p{name} becomes members of it,
// and \P{name}, the complement of a union, is refused.
func unicodeClassRegex(name string, negated, inClass bool) (string, error) {
	add := unicodeAdded[name]
	switch {
	case add == nil && negated:
		return `\P{` + name + `}`, nil
	case add == nil:
		return `\p{` + name + `}`, nil
	case negated && inClass:
		return "", fmt.Errorf(`\P{%s} inside a class is not supported`, name)
	}
	var b strings.Builder
	if !inClass {
		b.WriteByte('[')
		if negated {
			b.WriteByte('^')
		}
	}
	b.WriteString(`\p{` + name + `}`)
	for _, s := range tableSpans(add) {
		b.WriteString(quoteClassRune(s[0]))
		if s[1] > s[0] {
			b.WriteString("-" + quoteClassRune(s[1]))
		}
	}
	if !inClass {
		b.WriteByte(']')
	}
	return b.String(), nil
}

// codepoint reads \x{HEX}, \u{HEX}, \U{HEX}, \xHH, \uHHHH or \UHHHHHHHH.
func (t *translator) codepoint() (r rune, ok bool, err error) {
	if t.i+1 >= len(t.src) {
		return 0, false, nil
	}
	width := map[rune]int{'x': 2, 'u': 4, 'U': 8}[t.src[t.i+1]]
	if width == 0 {
		return 0, false, nil
	}
	start := t.i
	j := t.i + 2
	if j < len(t.src) && t.src[j] == '{' {
		j++
		width = -1
	}
	n := 0
	for j < len(t.src) && n != width {
		d := hexDigit(t.src[j])
		if d < 0 {
			break
		}
		r = r*16 + rune(d)
		if r > unicode.MaxRune {
			return 0, false, fmt.Errorf("escape at offset %d: code point too large", start)
		}
		j++
		n++
	}
	if width == -1 {
		if j >= len(t.src) || t.src[j] != '}' || n == 0 {
			return 0, false, fmt.Errorf("bad escape at offset %d", start)
		}
		j++
	} else if n != width {
		return 0, false, fmt.Errorf("bad escape at offset %d", start)
	}
	t.i = j
	return r, true, nil
}

func hexDigit(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// class translates a bracketed class, adding the case-folding orbits of its
// literal characters (and of small ranges) under (?i).
func (t *translator) class(f regexFlags) (string, error) {
	start := t.i
	var b strings.Builder
	var extra []rune // orbit members to add under (?i)
	b.WriteByte('[')
	t.i++
	if t.i < len(t.src) && t.src[t.i] == '^' {
		b.WriteByte('^')
		t.i++
	}
	first := true
	prev := rune(-1) // last literal, for ranges
	for {
		if t.i >= len(t.src) {
			return "", fmt.Errorf("unclosed [ at offset %d", start)
		}
		c := t.src[t.i]
		switch {
		case c == ']' && !first:
			t.i++
			for _, r := range extra {
				b.WriteString(quoteClassRune(r))
			}
			b.WriteByte(']')
			return b.String(), nil
		case c == '[':
			return "", fmt.Errorf("nested class at offset %d not supported", t.i)
		case c == '\\':
			r, ok, err := t.codepoint()
			if err != nil {
				return "", err
			}
			if ok {
				b.WriteString(quoteClassRune(r))
				prev = r
				break
			}
			s, err := t.simpleEscape(true)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			prev = -1 // \d, \p{L}, \n…: no case orbit, or not one character
			if len(s) == 2 && !unicode.IsLetter(rune(s[1])) && !unicode.IsDigit(rune(s[1])) {
				prev = rune(s[1]) // an escaped punctuation character
			}
		case c == '-' && prev >= 0 && t.i+1 < len(t.src) && t.src[t.i+1] != ']':
			// A range prev-hi: the orbits of prev were already added.
			t.i++
			b.WriteByte('-')
			hi := t.src[t.i]
			if hi == '\\' {
				r, ok, err := t.codepoint()
				if err != nil || !ok {
					return "", fmt.Errorf("bad range end at offset %d", t.i)
				}
				hi = r
			} else {
				t.i++
			}
			b.WriteString(quoteClassRune(hi))
			if f.ci && hi-prev < 256 {
				for r := prev + 1; r <= hi; r++ {
					extra = append(extra, foldExtras(r)...)
				}
			}
			prev = -1
			first = false
			continue
		default:
			t.i++
			b.WriteRune(c)
			prev = c
		}
		if f.ci && prev >= 0 {
			extra = append(extra, foldExtras(prev)...)
		}
		first = false
	}
}

// group translates a parenthesized group or a flag setting.
func (t *translator) group(f *regexFlags) (string, error) {
	start := t.i
	t.i++ // '('
	prefix := "("
	inner := *f
	rest := string(t.src[t.i:])
	switch {
	case !strings.HasPrefix(rest, "?"):
	case strings.HasPrefix(rest, "?P<"):
		prefix = "(?<"
		t.i += 3
	case strings.HasPrefix(rest, "?:"), strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"),
		strings.HasPrefix(rest, "?>"):
		prefix += rest[:2]
		t.i += 2
	case strings.HasPrefix(rest, "?<=") || strings.HasPrefix(rest, "?<!"):
		prefix += rest[:3]
		t.i += 3
	case strings.HasPrefix(rest, "?<"):
		prefix = "(?<"
		t.i += 2
	default:
		// Flags: (?flags) or (?flags:...).
		t.i++
		on := true
		flags := ""
		for t.i < len(t.src) && t.src[t.i] != ')' && t.src[t.i] != ':' {
			c := t.src[t.i]
			switch c {
			case '-':
				on = false
			case 'i':
				inner.ci = on
			case 'm':
				inner.multi = on
			case 's', 'x':
			case 'u':
				t.i++
				continue // Unicode mode is always on in regexp2
			default:
				return "", fmt.Errorf("flag %q at offset %d not supported", c, t.i)
			}
			flags += string(c)
			t.i++
		}
		if t.i >= len(t.src) {
			return "", fmt.Errorf("unclosed ( at offset %d", start)
		}
		if t.src[t.i] == ')' {
			t.i++
			*f = inner
			if flags == "" || flags == "-" {
				return "", nil
			}
			return "(?" + flags + ")", nil
		}
		t.i++ // ':'
		if flags == "" || flags == "-" {
			prefix = "(?:"
		} else {
			prefix = "(?" + flags + ":"
		}
	}
	body, err := t.seq(inner)
	if err != nil {
		return "", err
	}
	if t.i >= len(t.src) {
		return "", fmt.Errorf("unclosed ( at offset %d", start)
	}
	t.i++ // ')'
	return prefix + body + ")", nil
}

// foldExtras returns the members of r's simple case-folding orbit that .NET's
// lower-case comparison misses: those whose lower case differs from r's.
func foldExtras(r rune) []rune {
	var out []rune
	for o := unicode.SimpleFold(r); o != r; o = unicode.SimpleFold(o) {
		if unicode.ToLower(o) != unicode.ToLower(r) {
			out = append(out, o)
		}
	}
	return out
}

// foldLiteral returns a case-insensitive literal r, as a class when its
// orbit needs more than .NET's lower-case comparison (s → [sſ]).
func foldLiteral(r rune) string {
	extra := foldExtras(r)
	if len(extra) == 0 {
		return quoteRune(r)
	}
	s := "[" + quoteClassRune(r)
	for _, o := range extra {
		s += quoteClassRune(o)
	}
	return s + "]"
}

// quoteRune writes r as a literal outside a class.
func quoteRune(r rune) string {
	if r < utf8.RuneSelf && strings.ContainsRune(`\.+*?()|[]{}^$#-`, r) {
		return `\` + string(r)
	}
	if r < ' ' || r == 0x7f {
		return fmt.Sprintf(`\u%04X`, r)
	}
	return string(r)
}

// quoteRune writes r as a literal inside a class.
func quoteClassRune(r rune) string {
	if r < utf8.RuneSelf && strings.ContainsRune(`\[]^-`, r) {
		return `\` + string(r)
	}
	if r < ' ' || r == 0x7f {
		return fmt.Sprintf(`\u%04X`, r)
	}
	return string(r)
}

// ErrUnknownPattern is matched (errors.Is) by CheckPattern's error.
var ErrUnknownPattern = errors.New("unknown pattern name")

// CheckPattern refuses a pattern that is a bare word (letters, digits, "_"
// and "-" only) but not a known name (see LookupPattern): as a regex it
// would only match its own text, so it is a misspelt name, such as cl200k.
// The empty pattern, names, and anything else (taken as a regex) pass.
func CheckPattern(p string) error {
	if _, ok := LookupPattern(p); ok || p == "" {
		return nil
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return nil
		}
	}
	names := slices.Sorted(maps.Keys(namedPatterns))
	return fmt.Errorf("%w %q: want one of %s, or a regex", ErrUnknownPattern, p, strings.Join(names, ", "))
}
