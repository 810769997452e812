package clean

import (
	"math/bits"
	"strings"

	"github.com/pipe-dev/pipe/docio"
)

// GopherQualityConfig holds the Gopher quality rules (datatrove's
// GopherQualityFilter). A zero field turns its rule off, as None does in
// datatrove. Words are spaCy's English tokens (words_spacy.go); "words"
// below counts those with a character outside datatrove's punctuation set,
// the ratios count all of them.
type GopherQualityConfig struct {
	MinDocWords         int     // fewer words: gopher_short_doc
	MaxDocWords         int     // more words: gopher_long_doc
	MinAvgWordLength    float64 // mean word length below: gopher_below_avg_threshold
	MaxAvgWordLength    float64 // above: gopher_above_avg_threshold
	MaxSymbolWordRatio  float64 // '#' per word above: gopher_too_many_hashes; "..." and "…": gopher_too_many_ellipsis
	MaxBulletLinesRatio float64 // lines starting with '•' or '-' above: gopher_too_many_bullets
	MaxEllipsisLines    float64 // lines ending with "..." or "…" above: gopher_too_many_end_ellipsis
	MinAlphaWordsRatio  float64 // words with a letter below: gopher_below_alpha_threshold
	MinStopWords        int     // distinct stop words (case-sensitive) below: gopher_enough_stop_words
	StopWords           []string
}

// DefaultGopherQuality returns datatrove's rules: 50 to 100,000 words, mean
// word length 3 to 10, at most 0.1 '#' and at most 0.1 ellipses per word,
// at most 90% bullet lines and 30% ellipsis lines, at least 80% of words
// with a letter, and at least 2 of the stop words the, be, to, of, and,
// that, have, with.
func DefaultGopherQuality() GopherQualityConfig {
	return GopherQualityConfig{
		MinDocWords:         50,
		MaxDocWords:         100000,
		MinAvgWordLength:    3,
		MaxAvgWordLength:    10,
		MaxSymbolWordRatio:  0.1,
		MaxBulletLinesRatio: 0.9,
		MaxEllipsisLines:    0.3,
		MinAlphaWordsRatio:  0.8,
		MinStopWords:        2,
		StopWords:           []string{"the", "be", "to", "of", "and", "that", "have", "with"},
	}
}

// GopherQuality drops documents that do not read like prose, by the rules
// of GopherQualityConfig, checked in that order. It is safe for concurrent
// use.
type GopherQuality struct {
	cfg        GopherQualityConfig
	stopWords  map[string]int // stop word → its bit
	maxStopLen int
}

var _ Filter = (*GopherQuality)(nil)

// NewGopherQuality returns the filter with cfg's rules.
func NewGopherQuality(cfg GopherQualityConfig) *GopherQuality {
	g := &GopherQuality{cfg: cfg, stopWords: map[string]int{}}
	for _, w := range cfg.StopWords {
		if _, ok := g.stopWords[w]; !ok {
			g.stopWords[w] = len(g.stopWords)
			g.maxStopLen = max(g.maxStopLen, len(w))
		}
	}
	return g
}

func (g *GopherQuality) Name() string { return "gopher_quality" }

// Filter records, in doc.Metadata["gopher_quality"], the values it compares
// with the limits: words (the words with a character outside the
// punctuation set), avg_word_length, hash_ratio, ellipsis_ratio,
// bullet_lines_ratio, end_ellipsis_lines_ratio, alpha_words_ratio and
// stop_words (how many different stop words).
func (g *GopherQuality) Filter(doc *docio.Document) (bool, string) {
	text := doc.Text
	cfg := &g.cfg
	tok := sharedTokenizers.Get().(*wordTokenizer)
	defer sharedTokenizers.Put(tok)
	words := tok.wordsOf(text)

	// One pass over the words.
	nonSymbol, nonSymbolLen, alpha := 0, 0, 0
	var stopSeen uint64               // bit i: stop word i seen (the first 64)
	var stopExtra map[string]struct{} // the others
	for _, w := range words {
		n, hasNonPunct, hasAlpha := 0, false, false
		for _, r := range w {
			n++
			c := runeClass(r)
			if c&cPunctuation == 0 {
				hasNonPunct = true
			}
			if c&cPyAlpha != 0 {
				hasAlpha = true
			}
		}
		if hasNonPunct {
			nonSymbol++
			nonSymbolLen += n
		}
		if hasAlpha {
			alpha++
		}
		if len(w) > g.maxStopLen {
			continue
		}
		if i, ok := g.stopWords[w]; ok {
			if i < 64 {
				stopSeen |= 1 << i
			} else {
				if stopExtra == nil {
					stopExtra = map[string]struct{}{}
				}
				stopExtra[w] = struct{}{}
			}
		}
	}
	nWords := float64(len(words))
	m := Measures(doc, g.Name())
	// check records v under name and reports whether it is beyond a limit.
	check := func(name string, v float64, beyond bool) bool {
		m.Set(name, v)
		return beyond
	}

	if cfg.MinDocWords != 0 || cfg.MaxDocWords != 0 {
		m.Set("words", float64(nonSymbol))
		if cfg.MinDocWords != 0 && nonSymbol < cfg.MinDocWords {
			return false, "gopher_short_doc"
		}
		if cfg.MaxDocWords != 0 && nonSymbol > cfg.MaxDocWords {
			return false, "gopher_long_doc"
		}
	}
	// numpy's mean of no words is NaN, which passes both comparisons.
	if nonSymbol > 0 && (cfg.MinAvgWordLength != 0 || cfg.MaxAvgWordLength != 0) {
		avg := float64(nonSymbolLen) / float64(nonSymbol)
		m.Set("avg_word_length", avg)
		if cfg.MinAvgWordLength != 0 && avg < cfg.MinAvgWordLength {
			return false, "gopher_below_avg_threshold"
		}
		if cfg.MaxAvgWordLength != 0 && avg > cfg.MaxAvgWordLength {
			return false, "gopher_above_avg_threshold"
		}
	}
	if cfg.MaxSymbolWordRatio != 0 {
		if r := float64(strings.Count(text, "#")) / nWords; check("hash_ratio", r, r > cfg.MaxSymbolWordRatio) {
			return false, "gopher_too_many_hashes"
		}
		if r := float64(strings.Count(text, "...")+strings.Count(text, "…")) / nWords; check("ellipsis_ratio", r, r > cfg.MaxSymbolWordRatio) {
			return false, "gopher_too_many_ellipsis"
		}
	}
	if cfg.MaxBulletLinesRatio != 0 || cfg.MaxEllipsisLines != 0 {
		lines, bullets, ellipses := 0, 0, 0
		for rest := text; rest != ""; {
			var line string
			line, rest = nextPyLine(rest)
			lines++
			if l := pyLStrip(line); strings.HasPrefix(l, "•") || strings.HasPrefix(l, "-") {
				bullets++
			}
			if r := pyRStrip(line); strings.HasSuffix(r, "...") || strings.HasSuffix(r, "…") {
				ellipses++
			}
		}
		if r := float64(bullets) / float64(lines); cfg.MaxBulletLinesRatio != 0 && check("bullet_lines_ratio", r, r > cfg.MaxBulletLinesRatio) {
			return false, "gopher_too_many_bullets"
		}
		if r := float64(ellipses) / float64(lines); cfg.MaxEllipsisLines != 0 && check("end_ellipsis_lines_ratio", r, r > cfg.MaxEllipsisLines) {
			return false, "gopher_too_many_end_ellipsis"
		}
	}
	if r := float64(alpha) / nWords; cfg.MinAlphaWordsRatio != 0 && check("alpha_words_ratio", r, r < cfg.MinAlphaWordsRatio) {
		return false, "gopher_below_alpha_threshold"
	}
	if cfg.MinStopWords != 0 {
		n := bits.OnesCount64(stopSeen) + len(stopExtra)
		m.Set("stop_words", float64(n))
		if n < cfg.MinStopWords {
			return false, "gopher_enough_stop_words"
		}
	}
	return true, ""
}
