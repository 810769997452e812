package clean

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/zeebo/xxh3"
	"golang.org/x/text/unicode/norm"
)

// The plain MinHash signature, kept as the oracle of the fast one: the
// text simplified rune by rune through the Unicode tables, split into
// words, each shingle joined with spaces and hashed, and (a·x + b) mod p
// for each hash function by mulMod61. The fast one must give the same
// simplified text and the same keys.

func refSimplifyText(s string) string {
	s = norm.NFD.String(s)
	var b strings.Builder
	space, digits := true, false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsDigit(r):
			if !digits {
				b.WriteByte('0')
			}
			digits, space = true, false
			continue
		case unicode.IsLetter(r) || unicode.Is(unicode.Mc, r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
		digits = false
	}
	return strings.TrimRight(b.String(), " ")
}

func refSignature(c *MinHashConfig, text string) []uint64 {
	words := strings.Fields(refSimplifyText(text))
	perm := c.permutations()
	mins := make([]uint64, len(perm))
	for i := range mins {
		mins[i] = mersenne61
	}
	n := c.Shingle
	last := len(words) - n
	if last < 0 {
		last, n = 0, len(words)
	}
	for i := 0; i <= last; i++ {
		x := xxh3.HashString(strings.Join(words[i:i+n], " "))
		for k, ab := range perm {
			mins[k] = min(mins[k], mulMod61(ab[0], x, ab[1]))
		}
	}
	keys := make([]uint64, c.Buckets)
	band := make([]byte, 8*c.HashesPerBand)
	for b := range keys {
		for j := 0; j < c.HashesPerBand; j++ {
			binary.LittleEndian.PutUint64(band[8*j:], mins[b*c.HashesPerBand+j])
		}
		keys[b] = xxh3.Hash(band)
	}
	return keys
}

func minHashOracleTexts(t testing.TB) []string {
	texts := []string{"", " ", "...", "one", "one two three four", "one two three four five", "Ünïcödé 123 45.6 — “quoted” ÉCOLE ǅ ﬁ ＡＢＣ ١٢٣ \xff\xfe",
		"a\u0301b\u0903c \u212a 9\u00b2 x\u0300\u0301\u0302 Ⅻ ⅻ"}
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{" ", "  ", "\n", "\t", "a", "B", "zz", "0", "42", ".", ",", "-", "é", "e\u0301", "ß", "İ", "я", "語", "\u0903", "\xff", "’", "½", "٣"}
	for range 300 {
		var b strings.Builder
		for range rng.IntN(80) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	return append(texts, benchLangTexts(t)...)
}

func TestMinHashMatchesPlainVersion(t *testing.T) {
	c := DefaultMinHash()
	short := MinHashConfig{Shingle: 3, Buckets: 2, HashesPerBand: 3, Seed: 7}
	texts := minHashOracleTexts(t)
	for _, text := range texts {
		if got, want := SimplifyText(text), refSimplifyText(text); got != want {
			t.Fatalf("SimplifyText(%.60q) = %.60q, plain version %.60q", text, got, want)
		}
		for _, cfg := range []*MinHashConfig{&c, &short} {
			if got, want := cfg.Signature(text), refSignature(cfg, text); !slices.Equal(got, want) {
				t.Fatalf("Signature(%.60q) with %d-word shingles = %x, plain version %x", text, cfg.Shingle, got, want)
			}
		}
	}
	t.Logf("%d texts", len(texts))
}

func TestMulMod61Reduced(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		a, b, x := 1+r.Uint64()%(mersenne61-1), r.Uint64()%mersenne61, r.Uint64()%mersenne61
		switch r.IntN(8) {
		case 0:
			a, b, x = mersenne61-1, mersenne61-1, mersenne61-1-uint64(r.IntN(2))
		case 1:
			x = 0
		}
		if got, want := mulMod61Reduced(a, x, b), mulMod61(a, x, b); got != want {
			t.Fatalf("mulMod61Reduced(%d, %d, %d) = %d, want %d", a, x, b, got, want)
		}
	}
}

func FuzzSimplifyTextMatchesPlainVersion(f *testing.F) {
	f.Add("Ünïcödé 123 45.6 — “quoted” ÉCOLE")
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := SimplifyText(text), refSimplifyText(text); got != want {
			t.Fatalf("SimplifyText(%q) = %q, plain version %q", text, got, want)
		}
	})
}

// BenchmarkMinHashSignature measures signatures of the main texts of the
// extraction benchmark's pages.
func BenchmarkMinHashSignature(b *testing.B) {
	texts := benchLangTexts(b)
	if len(texts) == 0 {
		b.Skip("extraction benchmark missing")
	}
	c := DefaultMinHash()
	var size int64
	for _, s := range texts {
		size += int64(len(s))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			c.Signature(s)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "docs/s")
}
