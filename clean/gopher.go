package clean

import (
	"strconv"
	"strings"
	"sync"

	"github.com/pipe-dev/pipe/docio"
)

// The Gopher rules (Rae et al. 2021, "Scaling Language Models: Methods,
// Analysis & Insights from Training Gopher", appendix A1), as datatrove
// 0.10.1 implements them in GopherRepetitionFilter and GopherQualityFilter:
// same thresholds, same order of checks, same reasons, and the same words
// (spaCy's English tokenizer, words_spacy.go). Lengths are in code points.

// NGramLimit is a limit on the characters covered by n-grams of N words.
type NGramLimit struct {
	N    int
	Frac float64
}

// GopherRepetitionConfig holds the repetition limits: a document is dropped
// when a fraction is above its limit. A zero limit turns its check off.
type GopherRepetitionConfig struct {
	DupParaFrac     float64 // duplicate paragraphs / paragraphs
	DupParaCharFrac float64 // characters in duplicate paragraphs / characters
	DupLineFrac     float64 // duplicate lines / lines
	DupLineCharFrac float64 // characters in duplicate lines / characters
	// TopNGrams: characters of the most frequent n-gram (words joined by
	// spaces, times its count) / characters; N from 1 to 4.
	TopNGrams []NGramLimit
	// DupNGrams: characters of n-grams (words joined without spaces) that
	// repeat an earlier one, not counting overlaps / characters.
	DupNGrams []NGramLimit
}

// DefaultGopherRepetition returns datatrove's (and the paper's) limits:
// 0.30 duplicate paragraphs and lines, 0.20 of the characters in duplicate
// paragraphs and lines, top 2/3/4-grams 0.20/0.18/0.16, duplicated
// 5…10-grams 0.15/0.14/0.13/0.12/0.11/0.10.
func DefaultGopherRepetition() GopherRepetitionConfig {
	return GopherRepetitionConfig{
		DupParaFrac:     0.3,
		DupParaCharFrac: 0.2,
		DupLineFrac:     0.3,
		DupLineCharFrac: 0.2,
		TopNGrams:       []NGramLimit{{2, 0.2}, {3, 0.18}, {4, 0.16}},
		DupNGrams:       []NGramLimit{{5, 0.15}, {6, 0.14}, {7, 0.13}, {8, 0.12}, {9, 0.11}, {10, 0.10}},
	}
}

// GopherRepetition drops documents that repeat themselves. Reasons (as in
// datatrove): empty, dup_para_frac, dup_para_char_frac, dup_line_frac,
// dup_line_char_frac, top_N_gram, duplicated_N_n_grams. It is safe for
// concurrent use.
type GopherRepetition struct {
	cfg        GopherRepetitionConfig
	topReasons []string
	dupReasons []string
	pool       sync.Pool // *repetitionScratch
}

var _ Filter = (*GopherRepetition)(nil)

// NewGopherRepetition returns the filter with cfg's limits.
func NewGopherRepetition(cfg GopherRepetitionConfig) *GopherRepetition {
	g := &GopherRepetition{cfg: cfg}
	for _, l := range cfg.TopNGrams {
		if l.N < 1 || l.N > 4 {
			panic("clean: GopherRepetitionConfig.TopNGrams: n-grams of 1 to 4 words, not " + strconv.Itoa(l.N))
		}
		g.topReasons = append(g.topReasons, "top_"+strconv.Itoa(l.N)+"_gram")
	}
	for _, l := range cfg.DupNGrams {
		g.dupReasons = append(g.dupReasons, "duplicated_"+strconv.Itoa(l.N)+"_n_grams")
	}
	g.pool.New = func() any { return new(repetitionScratch) }
	return g
}

func (g *GopherRepetition) Name() string { return "gopher_repetition" }

// repetitionScratch is one call's reusable state.
type repetitionScratch struct {
	seen    map[string]struct{}
	ids     map[string]int32
	wordIDs []int32
	wordLen []int32 // code points of each word
	table   gramTable
	gramCnt []int32  // count of each distinct n-gram, in order of first sight
	gramLen []int32  // its length in code points
	concat  []byte   // the words without separators, for duplicated n-grams
	offsets []int32  // word i is concat[offsets[i]:offsets[i+1]]
	cumLen  []int32  // code points of words before word i
	sums    []uint64 // polynomial hash sums of concat up to each word
	invPow  []uint64 // hashMul⁻¹ to the power offsets[i]
}

// maxReusedMap is the size above which a map is dropped rather than cleared
// (clearing costs its capacity, and one huge document should not slow the
// following small ones).
const maxReusedMap = 1 << 16

func resetSet[K comparable, V any](m map[K]V) map[K]V {
	if m == nil || len(m) > maxReusedMap {
		return make(map[K]V)
	}
	clear(m)
	return m
}

// Filter records, in doc.Metadata["gopher_repetition"], each fraction it
// compares with a limit, under the name of the reason it would drop for
// (dup_para_frac, ..., top_2_gram, ..., duplicated_5_n_grams, ...).
func (g *GopherRepetition) Filter(doc *docio.Document) (bool, string) {
	text := doc.Text
	if text == "" {
		return false, "empty"
	}
	sc := g.pool.Get().(*repetitionScratch)
	defer g.pool.Put(sc)
	cfg := &g.cfg
	m := Measures(doc, g.Name())
	total := float64(pyLen(text))
	// check records v under reason and reports whether it is above limit.
	check := func(reason string, v, limit float64) bool {
		m.Set(reason, v)
		return v > limit
	}

	// Paragraphs: re.split(r"\n{2,}", text.strip()).
	if cfg.DupParaFrac != 0 || cfg.DupParaCharFrac != 0 {
		n, dup, dupChars := sc.duplicates(pyStrip(text), true)
		if cfg.DupParaFrac != 0 && check("dup_para_frac", float64(dup)/float64(n), cfg.DupParaFrac) {
			return false, "dup_para_frac"
		}
		if cfg.DupParaCharFrac != 0 && check("dup_para_char_frac", float64(dupChars)/total, cfg.DupParaCharFrac) {
			return false, "dup_para_char_frac"
		}
	}
	// Lines: re.split("\n+", text).
	if cfg.DupLineFrac != 0 || cfg.DupLineCharFrac != 0 {
		n, dup, dupChars := sc.duplicates(text, false)
		if cfg.DupLineFrac != 0 && check("dup_line_frac", float64(dup)/float64(n), cfg.DupLineFrac) {
			return false, "dup_line_frac"
		}
		if cfg.DupLineCharFrac != 0 && check("dup_line_char_frac", float64(dupChars)/total, cfg.DupLineCharFrac) {
			return false, "dup_line_char_frac"
		}
	}
	if len(cfg.TopNGrams) == 0 && len(cfg.DupNGrams) == 0 {
		return true, ""
	}
	tok := sharedTokenizers.Get().(*wordTokenizer)
	defer sharedTokenizers.Put(tok)
	words := tok.wordsOf(text)
	sc.indexWords(words)
	for i, l := range cfg.TopNGrams {
		if l.N > len(words) {
			continue
		}
		if check(g.topReasons[i], float64(sc.topNGram(l.N))/total, l.Frac) {
			return false, g.topReasons[i]
		}
	}
	if len(cfg.DupNGrams) > 0 {
		sc.concatWords(words)
		for i, l := range cfg.DupNGrams {
			if l.N < 1 {
				continue
			}
			if check(g.dupReasons[i], float64(sc.duplicatedNGrams(l.N))/total, l.Frac) {
				return false, g.dupReasons[i]
			}
		}
	}
	return true, ""
}

// duplicates splits s into paragraphs (at runs of two or more '\n') or
// lines (at runs of '\n') and returns how many pieces there are, how many
// repeat an earlier piece, and the characters of those repeats: datatrove's
// find_duplicates.
func (sc *repetitionScratch) duplicates(s string, paragraphs bool) (n, dup, dupChars int) {
	sc.seen = resetSet(sc.seen)
	minRun := 1
	if paragraphs {
		minRun = 2
	}
	piece := func(p string) {
		n++
		if _, ok := sc.seen[p]; ok {
			dup++
			dupChars += pyLen(p)
		} else {
			sc.seen[p] = struct{}{}
		}
	}
	start := 0
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		k := j
		for k < len(s) && s[k] == '\n' {
			k++
		}
		if k-j >= minRun {
			piece(s[start:j])
			start = k
		}
		i = k
	}
	piece(s[start:])
	return n, dup, dupChars
}

// indexWords gives each distinct word an id and records word lengths.
func (sc *repetitionScratch) indexWords(words []string) {
	sc.ids = resetSet(sc.ids)
	sc.wordIDs = sc.wordIDs[:0]
	sc.wordLen = sc.wordLen[:0]
	for _, w := range words {
		id, ok := sc.ids[w]
		if !ok {
			id = int32(len(sc.ids))
			sc.ids[w] = id
		}
		sc.wordIDs = append(sc.wordIDs, id)
		sc.wordLen = append(sc.wordLen, int32(pyLen(w)))
	}
}

// topNGram returns the characters of the most frequent n-gram (its words
// joined by spaces) times its count; of n-grams with the same count, the
// first seen, as Python's Counter.most_common(1). n is at most 4.
func (sc *repetitionScratch) topNGram(n int) int {
	ids, lens := sc.wordIDs, sc.wordLen
	grams := len(ids) - n + 1
	t := &sc.table
	t.reset(grams)
	sc.gramCnt = sc.gramCnt[:0]
	sc.gramLen = sc.gramLen[:0]
	for i := 0; i < grams; i++ {
		h := uint64(0)
		for j := 0; j < n; j++ {
			h = (h + uint64(ids[i+j]) + 1) * hashMul
		}
		slot := t.slot(h)
		for ; t.ref[slot] != 0; slot = (slot + 1) & t.mask {
			if t.hash[slot] == h && sameIDs(ids[t.ref[slot]-1:], ids[i:], n) {
				break
			}
		}
		if t.ref[slot] == 0 {
			length := int32(n - 1)
			for j := 0; j < n; j++ {
				length += lens[i+j]
			}
			t.hash[slot], t.ref[slot], t.val[slot] = h, int32(i+1), int32(len(sc.gramCnt))
			sc.gramCnt = append(sc.gramCnt, 0)
			sc.gramLen = append(sc.gramLen, length)
		}
		sc.gramCnt[t.val[slot]]++
	}
	best := 0
	for k, c := range sc.gramCnt {
		if c > sc.gramCnt[best] {
			best = k
		}
	}
	return int(sc.gramCnt[best]) * int(sc.gramLen[best])
}

func sameIDs(a, b []int32, n int) bool {
	for j := 0; j < n; j++ {
		if a[j] != b[j] {
			return false
		}
	}
	return true
}

// concatWords lays the words end to end (datatrove joins n-grams with "" for
// duplicated n-grams, so "ab c" and "a bc" are the same n-gram) and
// prepares the hashes of their substrings: the bytes c_t of concat weigh
// c_t·m^t (m = hashMul, mod 2^64), so the hash of concat[a:b] is
// (sums(b) − sums(a))·m^−a, the same wherever the bytes stand.
func (sc *repetitionScratch) concatWords(words []string) {
	sc.concat = sc.concat[:0]
	sc.offsets = append(sc.offsets[:0], 0)
	sc.cumLen = append(sc.cumLen[:0], 0)
	sc.sums = append(sc.sums[:0], 0)
	sc.invPow = append(sc.invPow[:0], 1)
	sum, pow, inv := uint64(0), uint64(1), uint64(1)
	for i, w := range words {
		sc.concat = append(sc.concat, w...)
		for k := 0; k < len(w); k++ {
			sum += (uint64(w[k]) + 1) * pow
			pow *= hashMul
			inv *= hashMulInv
		}
		sc.offsets = append(sc.offsets, int32(len(sc.concat)))
		sc.cumLen = append(sc.cumLen, sc.cumLen[i]+sc.wordLen[i])
		sc.sums = append(sc.sums, sum)
		sc.invPow = append(sc.invPow, inv)
	}
}

// duplicatedNGrams returns the characters of n-grams that repeat an earlier
// one, skipping past each repeat: datatrove's find_all_duplicate.
func (sc *repetitionScratch) duplicatedNGrams(n int) int {
	concat := unsafeString(sc.concat)
	off := sc.offsets
	nw := len(off) - 1
	t := &sc.table
	t.reset(nw - n + 1)
	repeated := 0
	for i := 0; i+n <= nw; {
		a, b := off[i], off[i+n]
		h := (sc.sums[i+n] - sc.sums[i]) * sc.invPow[i]
		slot := t.slot(h)
		found := false
		for ; t.ref[slot] != 0; slot = (slot + 1) & t.mask {
			if t.hash[slot] == h {
				j := t.ref[slot] - 1
				if off[j+int32(n)]-off[j] == b-a && concat[off[j]:off[j+int32(n)]] == concat[a:b] {
					found = true
					break
				}
			}
		}
		if found {
			repeated += int(sc.cumLen[i+n] - sc.cumLen[i])
			i += n
		} else {
			t.hash[slot], t.ref[slot] = h, int32(i+1)
			i++
		}
	}
	return repeated
}

// hashMul is odd, so it has an inverse mod 2^64 (hashMulInv).
const (
	hashMul    = 0x9E3779B97F4A7C15
	hashMulInv = 0xF1DE83E19937733D
)

// gramTable is an open-addressing hash table of n-grams, reused from
// document to document: hash, the word index where the n-gram was first
// seen plus one (0 marks an empty slot), and a value.
type gramTable struct {
	hash []uint64
	ref  []int32
	val  []int32
	mask uint64
}

// reset empties the table and sizes it for n entries at most half full.
func (t *gramTable) reset(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(t.ref) < size || cap(t.ref) > 8*size && cap(t.ref) > 1<<16 {
		t.hash, t.ref, t.val = make([]uint64, size), make([]int32, size), make([]int32, size)
	} else {
		t.hash, t.ref, t.val = t.hash[:size], t.ref[:size], t.val[:size]
		clear(t.ref)
	}
	t.mask = uint64(size - 1)
}

// slot is where the search for hash h starts.
func (t *gramTable) slot(h uint64) uint64 {
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	return h & t.mask
}
