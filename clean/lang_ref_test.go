package clean

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The plain language id, kept as the oracle of the fast one: fastText's
// steps as written in lang.go's comment, with a Go map for the pruned
// n-gram buckets, a string per n-gram and a stable sort of the labels.
// The fast code must give the same hidden vector bit for bit and the same
// probabilities in the same order.

type refLangID struct {
	m      *LangID // read plain: the input matrix quantized
	pruned map[int32]int32
}

func newRefLangID(t testing.TB) *refLangID {
	m, err := readLangModel(bytes.NewReader(lid176), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.input.(*quantized); !ok {
		t.Fatalf("the plain model's input matrix is %T, want it quantized", m.input)
	}
	return &refLangID{m: m, pruned: m.prunedMap}
}

func refFNV1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(int32(int8(s[i])))
		h *= 16777619
	}
	return h
}

func (r *refLangID) ngrams(rows []int32, w string) []int32 {
	m := r.m
	for i := 0; i < len(w); i++ {
		if w[i]&0xC0 == 0x80 {
			continue
		}
		j := i
		for n := 1; j < len(w) && n <= m.maxn; n++ {
			j++
			for j < len(w) && w[j]&0xC0 == 0x80 {
				j++
			}
			if n < m.minn || (n == 1 && (i == 0 || j == len(w))) || m.prunedSz == 0 {
				continue
			}
			h := int32(refFNV1a(w[i:j]) % m.bucket)
			if m.prunedSz > 0 {
				v, ok := r.pruned[h]
				if !ok {
					continue
				}
				h = v
			}
			rows = append(rows, m.nwords+h)
		}
	}
	return rows
}

func (r *refLangID) hidden(text string) []float32 {
	m := r.m
	h := make([]float32, m.dim)
	n := 0
	add := func(rows []int32) {
		for _, row := range rows {
			m.input.addRow(h, row)
		}
		n += len(rows)
	}
	for _, w := range strings.FieldsFunc(text, func(c rune) bool { return c < utf8.RuneSelf && isSpace(byte(c)) }) {
		if id, ok := m.words[w]; ok {
			add(m.subwords[id])
		} else if !strings.HasPrefix(w, "__label__") {
			add(r.ngrams(nil, "<"+w+">"))
		}
	}
	add(m.eosRows)
	if n > 0 {
		inv := 1 / float32(n)
		for i := range h {
			h[i] *= inv
		}
	}
	return h
}

func (r *refLangID) predict(text string) []LangScore {
	return byScore(r.m.scoresOf(r.hidden(text))) // the same tree walk: the reference is of the hidden vector
}

// langOracleTexts are texts that reach every path: dictionary words,
// unknown words of every length, every script of the test corpus (when
// installed), "__label__" words, NUL and the other separators, invalid
// UTF-8, long words, and the extraction benchmark's pages.
func langOracleTexts(t *testing.T, m *LangID) []string {
	texts := []string{
		"", " ", "\x00", "__label__en", "a", "é", "<>", strings.Repeat("x", 300),
		"The weather is nice today and we are going to the park.",
		"Погода сегодня хорошая, и мы идём в парк.\n今日は天気が良いので公園に行きます。",
		"tab\tsep\vvt\fff\rcr\x00nul __label__de words", "\xff\xfe broken \xc3 utf8 \xe2\x82",
		strings.Repeat("Größenwahnsinnigkeitsbeauftragtenstellvertreter ", 3),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dict := make([]string, 0, len(m.words))
	for w := range m.words {
		dict = append(dict, w)
	}
	slices.Sort(dict)
	pieces := []string{" ", " ", "\n", "\t", "\x00", "a", "e", "th", "ing", "é", "ß", "я", "語", "\xff", "\x80", "<", ">", "__label__", "0", "'"}
	for range 400 {
		var b strings.Builder
		for range 1 + rng.IntN(60) {
			if rng.IntN(2) == 0 {
				b.WriteString(dict[rng.IntN(len(dict))])
			} else {
				for range 1 + rng.IntN(12) {
					b.WriteString(pieces[rng.IntN(len(pieces))])
				}
			}
			if rng.IntN(3) > 0 {
				b.WriteByte(" \n\t"[rng.IntN(3)])
			}
		}
		texts = append(texts, b.String())
	}
	for _, s := range benchLangTexts(t) {
		texts = append(texts, s)
	}
	return texts
}

// benchLangTexts are the main texts of the extraction benchmark's pages
// (none when it is not there).
func benchLangTexts(tb testing.TB) []string {
	if _, err := os.Stat(filepath.Join(benchDir, "ground-truth.json")); err != nil {
		return nil
	}
	var texts []string
	for _, pg := range loadBench(tb) {
		if res, err := Extract(pg.html, ""); err == nil {
			texts = append(texts, res.Text)
		}
	}
	return texts
}

func TestLangIDMatchesPlainVersion(t *testing.T) {
	m, err := DefaultLangID()
	if err != nil {
		t.Fatal(err)
	}
	ref := newRefLangID(t)
	if _, ok := m.input.(*dense); !ok {
		t.Fatalf("the input matrix is %T, want it dequantized", m.input)
	}
	f := &LangFilter{Model: m, Langs: []string{"en"}, Threshold: DefaultLangThreshold}
	texts := langOracleTexts(t, m)
	for _, text := range texts {
		got, want := m.hidden(text), ref.hidden(text)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%.60q: hidden[%d] = %v, plain version %v", text, i, got[i], want[i])
			}
		}
		p, wp := m.Predict(text), ref.predict(text)
		if !slices.Equal(p, wp) {
			t.Fatalf("%.60q: Predict differs from the plain version: %v... want %v...", text, p[:3], wp[:3])
		}
		// The filter picks the top language and tests the threshold
		// without sorting: the same answer as the sorted list gives.
		d := &Doc{}
		d.Text = text
		keep, _ := f.Filter(&d.Document)
		wantKeep := false
		for _, s := range wp {
			if s.Score <= f.Threshold {
				break
			}
			wantKeep = wantKeep || slices.Contains(f.Langs, s.Lang)
		}
		if keep != wantKeep || d.Metadata["lang"] != wp[0].Lang || d.Metadata["lang_score"] != math.Round(wp[0].Score*1e4)/1e4 {
			t.Fatalf("%.60q: filter keeps %v with %v, want %v with %s %.4f", text, keep, d.Metadata, wantKeep, wp[0].Lang, wp[0].Score)
		}
	}
	t.Logf("%d texts", len(texts))
}

func FuzzLangIDMatchesPlainVersion(f *testing.F) {
	m, err := DefaultLangID()
	if err != nil {
		f.Fatal(err)
	}
	ref := newRefLangID(f)
	f.Add("The weather is nice today.")
	f.Add("Погода \x00 __label__x \xff 語語語")
	f.Fuzz(func(t *testing.T, text string) {
		got, want := m.hidden(text), ref.hidden(text)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%q: hidden[%d] = %v, plain version %v", text, i, got[i], want[i])
			}
		}
	})
}

// BenchmarkLangIDPages measures the language id on the main texts of the
// extraction benchmark's 181 pages, as the clean pipeline runs it.
func BenchmarkLangIDPages(b *testing.B) {
	m, _ := DefaultLangID()
	texts := benchLangTexts(b)
	if len(texts) == 0 {
		b.Skip("extraction benchmark missing")
	}
	var size int64
	for _, s := range texts {
		size += int64(len(s))
	}
	f := &LangFilter{Model: m, Langs: []string{"en"}, Threshold: DefaultLangThreshold}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			d := Doc{}
			d.Text = s
			f.Filter(&d.Document)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// top picks what Predict's stable sort puts first, ties included.
func TestTopIsPredictsFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		scores := make([]LangScore, 1+rng.IntN(8))
		for i := range scores {
			scores[i] = LangScore{string(rune('a' + i)), float64(rng.IntN(3)) / 4}
		}
		sorted := slices.Clone(scores)
		slices.SortStableFunc(sorted, func(a, b LangScore) int {
			switch {
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return 0
		})
		if got := top(scores); got != sorted[0] {
			t.Fatalf("top(%v) = %v, want %v", scores, got, sorted[0])
		}
	}
}
