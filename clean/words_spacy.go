package clean

import (
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Words the way datatrove counts them.
//
// datatrove 0.10.1 splits English text into words with split_into_words,
// which is spaCy's tokenizer for a blank English pipeline (spacy.blank("en"):
// rules and exceptions, no statistical model), with every token stripped and
// the empty ones (whitespace) dropped. wordTokenizer reproduces that
// tokenizer, rule for rule, so that word counts, mean word lengths and
// n-grams are the ones datatrove sees:
//
//  1. Cut the text at whitespace (str.isspace). A single ' ' after a
//     token is swallowed; any other run of whitespace becomes a whitespace
//     token (it is not a word, but it separates tokens for step 5 and for
//     the sentence splitter).
//  2. A chunk that is an exception ("don't" → do, n't; "e.g."; ":)") becomes
//     the exception's tokens.
//  3. Otherwise peel prefixes ( ( " $ ...) and suffixes ( ) , . 's km ...)
//     off both ends, one of each per round, until none is left or the rest
//     (or the rest minus the affix just found) is an exception.
//  4. What remains is an exception, a URL, or split at infixes: "..."
//     anywhere, symbols, '-' between letters, ',' between letters, '.'
//     between a lower- and an upper-case letter, ':<>=/' before a letter,
//     [+-*^] between digits.
//  5. Exceptions that span several tokens of the result ("Dr" "." → "Dr.")
//     are merged back, longest first (spaCy's special-case matcher, which
//     also matches across single spaces, where it changes nothing).
//
// The character classes of each rule (which letters are lower case, which
// symbols are "icons", which quotes) are spaCy's own, generated into
// words_tables.go. What is left out: \d in the IPv4 part of the URL rule is
// taken as ASCII digits only. The peer tests compare the words with spaCy's:
// identical on all 2,878 documents of TestFiltersMatchDatatrove (3.4 MB of
// Debian documentation in 25 languages, and crafted text) and on 20,000
// random strings of affix, exception and URL pieces
// (TestRandomTextMatchesDatatrove).
//
// The cost is one pass over the text with a table lookup per character;
// exceptions are looked up in a map only when a bit set keyed by a word's
// length and end bytes says that they may match, and URLs only matched
// where an infix would otherwise split.
//
// Sentences (for C4) follow spaCy's rule-based Sentencizer on the same
// tokens: a sentence ends after a token that is one of its sentence-final
// characters, at the first following token that is not punctuation.

// spacyToken is a piece of text[start:end]; space marks a whitespace token.
type spacyToken struct {
	start, end int32
	space      bool
}

// wordTokenizer holds the buffers of one goroutine's tokenization.
type wordTokenizer struct {
	toks    []spacyToken
	out     []spacyToken // step 5's rewrite
	affixes []spacyToken // suffixes found in step 3, innermost last
	infixes []spacyToken
	matches []specialMatch
	words   []string
	// wordsText is the text that words are of: asked again for the same
	// text, wordsOf answers without tokenizing.
	wordsText string
}

// sharedTokenizers serves the filters that read a document's words
// (Gopher repetition and quality, FineWeb), which mostly see the same
// text one after the other on the same goroutine: from one pool, the
// second and third usually get the tokenizer that holds its words already
// (tokenizing three times was 8% of the clean pipeline's time).
var sharedTokenizers = sync.Pool{New: func() any { return new(wordTokenizer) }}

// specialMatch is a run of tokens toks[i:i+n] that are the pattern of
// exception key; adjacent when no space separates them, so that they
// spell key.
type specialMatch struct {
	i, n     int
	key      string
	adjacent bool
}

// words returns the words of text (tokens that are not whitespace), as
// substrings of text, valid until the next call.
func (t *wordTokenizer) wordsOf(text string) []string {
	if t.words != nil && text == t.wordsText {
		return t.words
	}
	t.wordsText = text
	t.words = t.words[:0]
	for _, tk := range t.tokenize(text) {
		if !tk.space {
			t.words = append(t.words, text[tk.start:tk.end])
		}
	}
	return t.words
}

// countSentences returns the number of sentences spaCy's Sentencizer finds
// in text, which is what datatrove's split_into_sentences returns for one
// line (at least 1).
func (t *wordTokenizer) countSentences(text string) int {
	n := 1
	seenEnd := false
	for _, tk := range t.tokenize(text) {
		s := text[tk.start:tk.end]
		end := isSentEnd(s)
		if seenEnd && !end && !isAllPunct(s) {
			n++
			seenEnd = false
		} else if end {
			seenEnd = true
		}
	}
	return n
}

// isSentEnd: s is one of the Sentencizer's punctuation characters.
func isSentEnd(s string) bool {
	r, w := utf8.DecodeRuneInString(s)
	return w == len(s) && w > 0 && runeClass(r)&cSentEnd != 0
}

// isAllPunct is spaCy's is_punct: every character is in category P.
func isAllPunct(s string) bool {
	for _, r := range s {
		if runeClass(r)&cUniPunct == 0 {
			return false
		}
	}
	return true
}

// tokenize returns the tokens of text, valid until the next call.
func (t *wordTokenizer) tokenize(text string) []spacyToken {
	t.toks = t.toks[:0]
	if text == "" {
		return t.toks
	}
	start := 0
	r0, _ := utf8.DecodeRuneInString(text)
	inSpace := isPySpace(r0)
	for i := 0; i < len(text); {
		r, w := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(text[i:])
		}
		if sp := isPySpace(r); sp != inSpace {
			if start < i {
				t.chunk(text, start, i, inSpace)
			}
			if r == ' ' {
				start = i + 1
			} else {
				start = i
			}
			inSpace = sp
		}
		i += w
	}
	if start < len(text) {
		t.chunk(text, start, len(text), inSpace)
	}
	t.mergeSpecials(text)
	return t.toks
}

func (t *wordTokenizer) add(start, end int, space bool) {
	t.toks = append(t.toks, spacyToken{int32(start), int32(end), space})
}

// chunk tokenizes text[s:e], a run without whitespace (or of whitespace
// only, which is one token): steps 2 to 4.
func (t *wordTokenizer) chunk(text string, s, e int, space bool) {
	if space {
		t.add(s, e, true)
		return
	}
	if t.addSpecial(text, s, e) {
		return
	}
	// Step 3: prefixes go out at once, suffixes wait on t.affixes.
	t.affixes = t.affixes[:0]
	last := 0
	for s < e && e-s != last {
		if isSpecial(text[s:e]) {
			break
		}
		last = e - s
		pre := spacyPrefix(text[s:e])
		if pre != 0 && s+pre < e && isSpecial(text[s+pre:e]) {
			t.add(s, s+pre, false)
			s += pre
			break
		}
		suf := spacySuffix(text[s+pre : e])
		if suf != 0 && e-suf > s && isSpecial(text[s:e-suf]) {
			t.affixes = append(t.affixes, spacyToken{int32(e - suf), int32(e), false})
			e -= suf
			break
		}
		if pre != 0 {
			t.add(s, s+pre, false)
			s += pre
		}
		if suf != 0 {
			t.affixes = append(t.affixes, spacyToken{int32(e - suf), int32(e), false})
			e -= suf
		}
	}
	// Step 4.
	if s < e && !t.addSpecial(text, s, e) {
		t.addInfixed(text, s, e)
	}
	for i := len(t.affixes) - 1; i >= 0; i-- {
		t.toks = append(t.toks, t.affixes[i])
	}
}

// addSpecial adds the tokens of text[s:e] if it is an exception.
func (t *wordTokenizer) addSpecial(text string, s, e int) bool {
	if !isSpecial(text[s:e]) {
		return false
	}
	for _, n := range spacyExceptions[text[s:e]] {
		t.add(s, s+int(n), false)
		s += int(n)
	}
	return true
}

// addInfixed adds text[s:e] split at its infixes, or whole when it has none
// or is a URL.
func (t *wordTokenizer) addInfixed(text string, s, e int) {
	str := text[s:e]
	t.infixes = findInfixes(t.infixes[:0], str)
	if len(t.infixes) == 0 || spacyURLMatch(str) {
		t.add(s, e, false)
		return
	}
	start := 0
	for _, m := range t.infixes {
		if m.start == 0 { // an infix at the very start does not split
			continue
		}
		if int(m.start) != start {
			t.add(s+start, s+int(m.start), false)
		}
		t.add(s+int(m.start), s+int(m.end), false)
		start = int(m.end)
	}
	if s+start < e {
		t.add(s+start, e, false)
	}
}

// --- exceptions -------------------------------------------------------------

// specialSieve has a bit for each (length, first byte, last byte) of an
// exception, so that most words skip the map lookup; no exception is longer
// than specialMaxLen bytes.
var (
	specialSieve  [1 << 12]uint64
	specialMaxLen int
)

func sieveIndex(s string) uint32 {
	h := uint32(len(s))*0x9E3779B1 ^ uint32(s[0])*0x85EBCA77 ^ uint32(s[len(s)-1])*0xC2B2AE3D
	return h >> (32 - 18) // 2^18 bits
}

func init() {
	for k := range spacyExceptions {
		i := sieveIndex(k)
		specialSieve[i>>6] |= 1 << (i & 63)
		specialMaxLen = max(specialMaxLen, len(k))
	}
}

// isSpecial reports whether s is one of spaCy's English exceptions.
func isSpecial(s string) bool {
	if len(s) == 0 || len(s) > specialMaxLen {
		return false
	}
	if i := sieveIndex(s); specialSieve[i>>6]&(1<<(i&63)) == 0 {
		return false
	}
	_, ok := spacyExceptions[s]
	return ok
}

// specialPattern is an exception as the tokenizer without exceptions cuts
// it: spaCy's special-case matcher looks for these token runs.
type specialPattern struct {
	key  string
	toks []string
}

var (
	specialPatternsOnce sync.Once
	specialPatterns     map[string][]specialPattern // by first token
	patternSieve        [1 << 12]uint64             // as specialSieve, of the first tokens
)

// loadSpecialPatterns builds the matcher's patterns: each exception that
// has a prefix, suffix or infix (spaCy's faster_heuristics), cut without
// exceptions. A pattern of one token that is the exception's only token
// changes nothing and blocks nothing, so it is left out; longer patterns
// stay even when they would not change the tokens, because a match blocks
// shorter overlapping ones ("°c." keeps "c" "." from becoming "c.").
func loadSpecialPatterns() {
	specialPatterns = map[string][]specialPattern{}
	keys := make([]string, 0, len(spacyExceptions))
	for k := range spacyExceptions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var plain wordTokenizer
	for _, k := range keys {
		if spacyPrefix(k) == 0 && spacySuffix(k) == 0 && len(findInfixes(nil, k)) == 0 && !strings.Contains(k, " ") {
			continue
		}
		toks := plain.tokenizeNoSpecials(k)
		if len(toks) == 1 && len(spacyExceptions[k]) == 1 {
			continue
		}
		specialPatterns[toks[0]] = append(specialPatterns[toks[0]], specialPattern{k, toks})
		i := sieveIndex(toks[0])
		patternSieve[i>>6] |= 1 << (i & 63)
	}
}

// tokenizeNoSpecials cuts s (no whitespace) by the affix and infix rules
// alone, as spaCy's _tokenize_affixes(s, False).
func (t *wordTokenizer) tokenizeNoSpecials(s string) []string {
	var out []string
	b, e := 0, len(s)
	var sufs []string
	last := 0
	for b < e && e-b != last {
		last = e - b
		pre := spacyPrefix(s[b:e])
		suf := spacySuffix(s[b+pre : e])
		if pre != 0 {
			out = append(out, s[b:b+pre])
			b += pre
		}
		if suf != 0 {
			sufs = append(sufs, s[e-suf:e])
			e -= suf
		}
	}
	if b < e {
		str := s[b:e]
		inf := findInfixes(nil, str)
		if len(inf) == 0 || spacyURLMatch(str) {
			out = append(out, str)
		} else {
			start := 0
			for _, m := range inf {
				if m.start == 0 {
					continue
				}
				if int(m.start) != start {
					out = append(out, str[start:m.start])
				}
				out = append(out, str[m.start:m.end])
				start = int(m.end)
			}
			if start < len(str) {
				out = append(out, str[start:])
			}
		}
	}
	for i := len(sufs) - 1; i >= 0; i-- {
		out = append(out, sufs[i])
	}
	return out
}

// mergeSpecials is step 5: runs of adjacent tokens that spell an exception
// are replaced by the exception's tokens. Of overlapping runs the longest
// wins, then the first, as in spaCy's _filter_special_spans.
func (t *wordTokenizer) mergeSpecials(text string) {
	specialPatternsOnce.Do(loadSpecialPatterns)
	t.matches = t.matches[:0]
	toks := t.toks
	for i := range toks {
		if toks[i].space {
			continue
		}
		first := text[toks[i].start:toks[i].end]
		if j := sieveIndex(first); patternSieve[j>>6]&(1<<(j&63)) == 0 {
			continue
		}
		pats := specialPatterns[first]
	next:
		for _, p := range pats {
			if i+len(p.toks) > len(toks) {
				continue
			}
			adjacent := true
			for j := 1; j < len(p.toks); j++ {
				tk := toks[i+j]
				if text[tk.start:tk.end] != p.toks[j] {
					continue next
				}
				adjacent = adjacent && tk.start == toks[i+j-1].end
			}
			t.matches = append(t.matches, specialMatch{i, len(p.toks), p.key, adjacent})
		}
	}
	if len(t.matches) == 0 {
		return
	}
	// Longest first, then leftmost; keep a run when neither its first nor
	// its last token was taken by an earlier one. A run with spaces between
	// its tokens does not spell its exception and is left as it is, but it
	// still takes its tokens, as in spaCy.
	sort.SliceStable(t.matches, func(a, b int) bool {
		ma, mb := t.matches[a], t.matches[b]
		if ma.n != mb.n {
			return ma.n > mb.n
		}
		return ma.i < mb.i
	})
	seen := map[int]bool{}
	kept := t.matches[:0]
	for _, m := range t.matches {
		if !seen[m.i] && !seen[m.i+m.n-1] && m.adjacent {
			kept = append(kept, m)
		}
		for j := m.i; j < m.i+m.n; j++ {
			seen[j] = true
		}
	}
	sort.Slice(kept, func(a, b int) bool { return kept[a].i < kept[b].i })
	t.out = t.out[:0]
	i := 0
	for _, m := range kept {
		t.out = append(t.out, toks[i:m.i]...)
		s := int(toks[m.i].start)
		for _, n := range spacyExceptions[m.key] {
			t.out = append(t.out, spacyToken{int32(s), int32(s + int(n)), false})
			s += int(n)
		}
		i = m.i + m.n
	}
	t.out = append(t.out, toks[i:]...)
	t.toks, t.out = t.out, t.toks
}

// --- affixes ----------------------------------------------------------------

// spacyPrefix returns the byte length of the prefix spaCy's English
// tokenizer splits off s, or 0: the first of TOKENIZER_PREFIXES that
// matches at the start.
func spacyPrefix(s string) int {
	if s == "" {
		return 0
	}
	c := s[0]
	switch c {
	case '.':
		n := 1
		for n < len(s) && s[n] == '.' {
			n++
		}
		if n >= 2 {
			return n
		}
		return 0
	case '+':
		if len(s) > 1 && isASCIIDigit(s[1]) {
			return 0
		}
		return 1
	case 'U':
		if strings.HasPrefix(s, "US$") {
			return 3
		}
		return 0
	case 'C', 'A':
		if len(s) > 1 && s[1] == '$' {
			return 2
		}
		return 0
	}
	if c < utf8.RuneSelf {
		if asciiClasses[c]&cPrefix != 0 {
			return 1
		}
		return 0
	}
	r, w := utf8.DecodeRuneInString(s)
	if runeClass(r)&cPrefix != 0 {
		return w
	}
	return 0
}

// spacySuffix returns the byte length of the suffix spaCy splits off s, or
// 0. Python's search finds the match that starts leftmost, so this is the
// longest of the TOKENIZER_SUFFIXES that match at the end.
func spacySuffix(s string) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	// \.\.+ : a run of dots is longer than any other suffix that can end here.
	if s[n-1] == '.' && n >= 2 && s[n-2] == '.' {
		i := n - 2
		for i > 0 && s[i-1] == '.' {
			i--
		}
		return n - i
	}
	best := 0
	last, lw := utf8.DecodeLastRuneInString(s)
	prev, pw := rune(-1), 0
	if lw < n {
		prev, pw = utf8.DecodeLastRuneInString(s[:n-lw])
	}
	lc := runeClass(last)
	if lc&cSuffix != 0 {
		best = lw
	}
	switch last {
	case '.':
		if prev >= 0 {
			pc := runeClass(prev)
			if pc&cDotAfter != 0 {
				best = max(best, 1)
			} else if n-lw-pw > 0 {
				prev2, _ := utf8.DecodeLastRuneInString(s[:n-lw-pw])
				if pc&cUpper != 0 && runeClass(prev2)&cUpper != 0 {
					best = max(best, 1)
				}
				if prev2 == '°' && strings.ContainsRune("FfCcKk", prev) {
					best = max(best, 1)
				}
			}
		}
	case 's', 'S':
		if prev == '\'' || prev == '’' {
			best = max(best, lw+pw)
		}
	case '…':
		if prev == '…' {
			best = max(best, lw+pw)
		}
	}
	// (?<=[0-9])(?:UNITS|CURRENCY|\+): the tail after the last ASCII digit.
	for i := n - 1; i >= 0 && i >= n-16; i-- {
		if isASCIIDigit(s[i]) {
			if tail := s[i+1:]; len(tail) > best && isUnitOrCurrency(tail) {
				best = len(tail)
			}
			break
		}
	}
	return best
}

var unitsAndCurrency = func() map[string]bool {
	m := map[string]bool{"+": true}
	for _, u := range spacyUnits {
		m[u] = true
	}
	for _, c := range spacyCurrency {
		m[c] = true
	}
	return m
}()

func isUnitOrCurrency(s string) bool { return s != "" && unitsAndCurrency[s] }

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

// --- infixes ----------------------------------------------------------------

// findInfixes appends to dst the infixes of s, left to right, without
// overlap, as Python's finditer of spaCy's English TOKENIZER_INFIXES finds
// them (at each position, the first alternative that matches).
func findInfixes(dst []spacyToken, s string) []spacyToken {
	// Most words are ASCII letters and digits, which no infix rule starts at.
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && !infixStart[s[i]] {
		i++
	}
	if i == len(s) {
		return dst
	}
	prev := rune(-1)
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if n := infixAt(s, i, r, w, prev); n > 0 {
			dst = append(dst, spacyToken{int32(i), int32(i + n), false})
			prev, _ = utf8.DecodeLastRuneInString(s[:i+n])
			i += n
			continue
		}
		prev = r
		i += w
	}
	return dst
}

// infixStart marks the ASCII characters at which an infix may start.
var infixStart = func() (t [utf8.RuneSelf]bool) {
	for _, c := range ".+-*^,~:<>=/" {
		t[c] = true
	}
	return t
}()

// infixAt returns the byte length of the infix at s[i:], whose first rune
// is r (w bytes) and which follows the rune prev (-1 at the start), or 0.
func infixAt(s string, i int, r rune, w int, prev rune) int {
	next := func(j int) rune { // the rune at s[j:], or -1
		if j >= len(s) {
			return -1
		}
		r, _ := utf8.DecodeRuneInString(s[j:])
		return r
	}
	switch r {
	case '.':
		// \.\.+
		if i+1 < len(s) && s[i+1] == '.' {
			j := i + 2
			for j < len(s) && s[j] == '.' {
				j++
			}
			return j - i
		}
		// (?<=[{al}{q}])\.(?=[{au}{q}])
		if prev >= 0 && runeClass(prev)&(cLower|cQuote) != 0 && runeClass(next(i+1))&(cUpper|cQuote) != 0 {
			return 1
		}
		return 0
	case '…':
		return w
	}
	if r >= utf8.RuneSelf && runeClass(r)&cIcon != 0 {
		return w
	}
	// (?<=[0-9])[+\-\*^](?=[0-9-])
	if (r == '+' || r == '-' || r == '*' || r == '^') && prev >= '0' && prev <= '9' {
		if n := next(i + 1); n == '-' || (n >= '0' && n <= '9') {
			return 1
		}
	}
	if prev < 0 {
		return 0
	}
	pc := runeClass(prev)
	switch r {
	case ',': // (?<=[{a}]),(?=[{a}])
		if pc&cAlpha != 0 && runeClass(next(i+1))&cAlpha != 0 {
			return 1
		}
	case '-', '–', '—', '~': // (?<=[{a}0-9])(?:-|–|—|--|---|——|~)(?=[{a}])
		if pc&cAlpha != 0 || (prev >= '0' && prev <= '9') {
			for _, h := range [...]string{"-", "–", "—", "--", "---", "——", "~"} {
				if strings.HasPrefix(s[i:], h) && runeClass(next(i+len(h)))&cAlpha != 0 {
					return len(h)
				}
			}
		}
	case ':', '<', '>', '=', '/': // (?<=[{a}0-9])[:<>=/](?=[{a}])
		if (pc&cAlpha != 0 || (prev >= '0' && prev <= '9')) && runeClass(next(i+1))&cAlpha != 0 {
			return 1
		}
	}
	return 0
}

// --- URLs -------------------------------------------------------------------

// spacyURLMatch reports whether s matches spaCy's URL_MATCH (a URL, with or
// without a scheme, that the tokenizer keeps whole):
//
//	^ ([\w+\-.]{2,}://)? (\S+(:\S*)?@)? (IPv4 | (label\.)+ tld) (:\d{2,5})? ([/?#]\S*)? $
//
// where a label is [X]([X_-]{0,62}[X])? with X = [A-Za-z0-9\u00a1-\uffff],
// the TLD is 2 to 63 lower-case letters, and the IPv4 address is public
// (spaCy's pattern leaves out 10/8, 127/8, 169.254/16, 192.168/16,
// 172.16/12 and addresses it deems reserved). s has no whitespace.
func spacyURLMatch(s string) bool {
	if p := strings.Index(s, "://"); p >= 2 && isSchemeRun(s[:p]) {
		if urlAfterScheme(s, p+3) {
			return true
		}
	}
	return urlAfterScheme(s, 0)
}

func isSchemeRun(s string) bool {
	n := 0
	for _, r := range s {
		if r != '+' && r != '-' && r != '.' && runeClass(r)&cPyWord == 0 {
			return false
		}
		n++
	}
	return n >= 2
}

func urlAfterScheme(s string, a int) bool {
	if urlHost(s, a) {
		return true
	}
	// (\S+(:\S*)?@)? : any '@' with something before it.
	for q := a + 1; q < len(s); q++ {
		if s[q] == '@' && urlHost(s, q+1) {
			return true
		}
	}
	return false
}

func urlHost(s string, c int) bool {
	if e, ok := urlIPv4(s, c); ok && urlPortPath(s, e) {
		return true
	}
	// The host runs to the first character that can be in neither a label
	// nor the TLD; after the TLD only ':', '/', '?', '#' or the end may come.
	e := c
	for e < len(s) {
		r, w := utf8.DecodeRuneInString(s[e:])
		if !isURLLabelRune(r) && r != '_' && r != '-' && r != '.' && runeClass(r)&cLower == 0 {
			break
		}
		e += w
	}
	if !urlPortPath(s, e) {
		return false
	}
	host := s[c:e]
	d := strings.LastIndexByte(host, '.')
	if d <= 0 {
		return false
	}
	tld := host[d+1:]
	n := 0
	for _, r := range tld {
		if runeClass(r)&cLower == 0 {
			return false
		}
		n++
	}
	if n < 2 || n > 63 {
		return false
	}
	for labels := host[:d]; ; {
		var label string
		k := strings.IndexByte(labels, '.')
		if k < 0 {
			label, labels = labels, ""
		} else {
			label, labels = labels[:k], labels[k+1:]
		}
		if !isURLLabel(label) {
			return false
		}
		if k < 0 {
			return true
		}
	}
}

func isURLLabelRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') ||
		r >= 0xa1 && r <= 0xffff
}

func isURLLabel(s string) bool {
	n := 0
	var first, last rune
	for _, r := range s {
		if n == 0 {
			first = r
		}
		last = r
		if !isURLLabelRune(r) && r != '_' && r != '-' {
			return false
		}
		n++
	}
	return n >= 1 && n <= 64 && isURLLabelRune(first) && isURLLabelRune(last)
}

// urlPortPath: s[e:] is (:\d{2,5})? ([/?#]\S*)? and the end.
func urlPortPath(s string, e int) bool {
	if e < len(s) && s[e] == ':' {
		j, n := e+1, 0
		for j < len(s) {
			r, w := utf8.DecodeRuneInString(s[j:])
			if runeClass(r)&cPyDecimal == 0 {
				break
			}
			j += w
			n++
		}
		if n < 2 || n > 5 {
			return false
		}
		e = j
	}
	return e == len(s) || s[e] == '/' || s[e] == '?' || s[e] == '#'
}

// urlIPv4 matches spaCy's IPv4 host at s[c:], returning where it ends.
func urlIPv4(s string, c int) (int, bool) {
	t := s[c:]
	if t == "" || t[0] < '0' || t[0] > '9' {
		return 0, false
	}
	// The negative look-aheads: private and local networks.
	if ipLookahead(t, "10", 3) || ipLookahead(t, "127", 3) ||
		ipLookahead(t, "169.254", 2) || ipLookahead(t, "192.168", 2) {
		return 0, false
	}
	if strings.HasPrefix(t, "172.") && len(t) > 6 {
		if o := t[4:6]; (o[0] == '1' && o[1] >= '6' && o[1] <= '9' || o[0] == '2' && isASCIIDigit(o[1]) || o[0] == '3' && (o[1] == '0' || o[1] == '1')) && ipDigitGroups(t[6:], 2) {
			return 0, false
		}
	}
	// (?:[1-9]\d?|1\d\d|2[01]\d|22[0-3]) (?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2} (?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))
	// then the port and path: try each way of cutting the octets.
	var try func(pos, k int) (int, bool)
	try = func(pos, k int) (int, bool) {
		if k == 4 {
			return pos, urlPortPath(s, pos)
		}
		if k > 0 {
			if pos >= len(s) || s[pos] != '.' {
				return 0, false
			}
			pos++
		}
		for _, n := range ipOctetLens(s[pos:], k) {
			if e, ok := try(pos+n, k+1); ok {
				return e, true
			}
		}
		return 0, false
	}
	return try(c, 0)
}

// ipOctetLens lists the lengths of the octet alternatives that match at the
// start of s for octet k (0..3) of spaCy's pattern.
func ipOctetLens(s string, k int) []int {
	d := func(i int) bool { // \d at byte i (an ASCII digit; others are rare enough)
		return i < len(s) && isASCIIDigit(s[i])
	}
	in := func(i int, lo, hi byte) bool { return i < len(s) && s[i] >= lo && s[i] <= hi }
	var out []int
	add := func(ok bool, n int) {
		if ok {
			out = append(out, n)
		}
	}
	switch k {
	case 0: // [1-9]\d? | 1\d\d | 2[01]\d | 22[0-3]
		add(in(0, '1', '9') && d(1), 2)
		add(in(0, '1', '9'), 1)
		add(in(0, '1', '1') && d(1) && d(2), 3)
		add(in(0, '2', '2') && in(1, '0', '1') && d(2), 3)
		add(in(0, '2', '2') && in(1, '2', '2') && in(2, '0', '3'), 3)
	case 1, 2: // 1?\d{1,2} | 2[0-4]\d | 25[0-5]
		add(in(0, '1', '1') && d(1) && d(2), 3)
		add(in(0, '1', '1') && d(1), 2)
		add(d(0) && d(1), 2)
		add(d(0), 1)
		add(in(0, '2', '2') && in(1, '0', '4') && d(2), 3)
		add(in(0, '2', '2') && in(1, '5', '5') && in(2, '0', '5'), 3)
	case 3: // [1-9]\d? | 1\d\d | 2[0-4]\d | 25[0-4]
		add(in(0, '1', '9') && d(1), 2)
		add(in(0, '1', '9'), 1)
		add(in(0, '1', '1') && d(1) && d(2), 3)
		add(in(0, '2', '2') && in(1, '0', '4') && d(2), 3)
		add(in(0, '2', '2') && in(1, '5', '5') && in(2, '0', '4'), 3)
	}
	return out
}

// ipLookahead: s starts with lead followed by k groups of (\.\d{1,3}).
func ipLookahead(s, lead string, k int) bool {
	return strings.HasPrefix(s, lead) && ipDigitGroups(s[len(lead):], k)
}

// ipDigitGroups: s starts with k groups of \.\d{1,3} (the last may be
// followed by anything).
func ipDigitGroups(s string, k int) bool {
	for g := 0; g < k; g++ {
		if s == "" || s[0] != '.' {
			return false
		}
		s = s[1:]
		n := 0
		for n < len(s) && n < 3 && isASCIIDigit(s[n]) {
			n++
		}
		if n == 0 {
			return false
		}
		s = s[n:]
		if g < k-1 && (s == "" || s[0] != '.') {
			return false
		}
	}
	return true
}
