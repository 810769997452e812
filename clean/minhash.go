package clean

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zeebo/xxh3"
	"golang.org/x/text/unicode/norm"
)

// MinHash near-duplicate keys, with FineWeb's parameters (datatrove's
// MinhashConfig): the text is simplified (lower case, accents and
// punctuation removed, digits folded to 0, white space collapsed), cut into
// 5-word shingles, each shingle hashed to 64 bits; 14 buckets of 8 hash
// functions each give a document 14 band keys. Two documents whose keys
// agree in any band are near-duplicates: documents with Jaccard similarity
// s of their shingle sets agree in a band with probability s^8, so in one
// of 14 with 1-(1-s^8)^14 (0.92 at s=0.8, 0.08 at s=0.5).
//
// The hash functions are h_i(x) = (a_i·x + b_i) mod (2^61 - 1), with a_i,
// b_i drawn from a seeded generator, over the 64-bit xxh3 hash x of the
// shingle: the universal family datatrove also uses.

// MinHashConfig says how signatures are made.
type MinHashConfig struct {
	Shingle       int    // words per shingle (5)
	Buckets       int    // bands (14)
	HashesPerBand int    // hash functions per band (8)
	Seed          uint64 // of the hash functions (1)
	perm          [][2]uint64
}

// DefaultMinHash is FineWeb's configuration.
func DefaultMinHash() MinHashConfig {
	return MinHashConfig{Shingle: 5, Buckets: 14, HashesPerBand: 8, Seed: 1}
}

const mersenne61 = 1<<61 - 1

// permutations returns the (a, b) of each hash function.
func (c *MinHashConfig) permutations() [][2]uint64 {
	n := c.Buckets * c.HashesPerBand
	if len(c.perm) == n {
		return c.perm
	}
	state := c.Seed
	next := func() uint64 { // splitmix64
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	p := make([][2]uint64, n)
	for i := range p {
		p[i] = [2]uint64{next()%(mersenne61-1) + 1, next() % mersenne61}
	}
	c.perm = p
	return p
}

// mulMod61 returns (a·x + b) mod 2^61-1 for a, b < 2^61-1 and any x.
func mulMod61(a, x, b uint64) uint64 {
	x = x&mersenne61 + x>>61 // x mod p, up to one subtraction
	hi, lo := bits.Mul64(a, x)
	// a·x = hi·2^64 + lo = (hi·8 + lo>>61)·2^61 + lo&p, and 2^61 ≡ 1.
	r := (lo & mersenne61) + (hi<<3 | lo>>61)
	r = r&mersenne61 + r>>61
	r += b
	r = r&mersenne61 + r>>61
	if r >= mersenne61 {
		r -= mersenne61
	}
	return r
}

// mulMod61Reduced is mulMod61 for x < p = 2^61-1, the signatures' inner
// loop: a·x < 2^122, so hi < 2^58, the three terms of the sum below are
// each under 2^61, one fold leaves at most p+2 and one subtraction less
// than p.
func mulMod61Reduced(a, x, b uint64) uint64 {
	hi, lo := bits.Mul64(a, x)
	r := (lo & mersenne61) + (hi<<3 | lo>>61) + b
	r = r&mersenne61 + r>>61
	if r >= mersenne61 {
		r -= mersenne61
	}
	return r
}

// SimplifyText is the text that dedup compares: lower case, without
// accents (NFD, combining marks removed), punctuation and symbols as
// spaces, every run of digits as "0", words separated by single spaces.
func SimplifyText(s string) string {
	s = norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space, digits := true, false
	for i := 0; i < len(s); {
		// ASCII, most of most texts, without the Unicode tables.
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case '0' <= c && c <= '9':
				if !digits {
					b.WriteByte('0')
				}
				digits, space = true, false
				continue
			case 'a' <= c && c <= 'z':
				b.WriteByte(c)
				space = false
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
				space = false
			default:
				if !space {
					b.WriteByte(' ')
					space = true
				}
			}
			digits = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
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
		default: // white space, punctuation, symbols
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
		digits = false
	}
	return strings.TrimRight(b.String(), " ")
}

// Signature returns the band keys of text: Buckets 64-bit keys, each the
// hash of one band's HashesPerBand minimum values. A text with no words
// (or only punctuation) is one empty shingle, and one with fewer words
// than a shingle is one shingle.
func (c *MinHashConfig) Signature(text string) []uint64 {
	// The simplified text's words are separated by single spaces, so a
	// shingle is a piece of it: from the start of its first word to the
	// end of its last.
	simple := SimplifyText(text)
	var starts []int // of the words, and len(simple)+1
	if simple != "" {
		starts = append(starts, 0)
		for i := 0; i < len(simple); i++ {
			if simple[i] == ' ' {
				starts = append(starts, i+1)
			}
		}
		starts = append(starts, len(simple)+1)
	}
	perm := c.permutations()
	mins := make([]uint64, len(perm))
	perm = perm[:len(mins)] // no bounds checks in the loop below
	for i := range mins {
		mins[i] = mersenne61
	}
	words := max(len(starts)-1, 0)
	n := c.Shingle
	last := words - n
	if last < 0 {
		last, n = 0, words
	}
	for i := 0; i <= last; i++ {
		var shingle string
		if n > 0 {
			shingle = simple[starts[i] : starts[i+n]-1]
		}
		x := xxh3.HashString(shingle)
		x = x&mersenne61 + x>>61 // x mod p, up to one subtraction
		if x >= mersenne61 {
			x -= mersenne61
		}
		for k := range mins {
			if h := mulMod61Reduced(perm[k][0], x, perm[k][1]); h < mins[k] {
				mins[k] = h
			}
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

// ContentHash is the exact-dedup key of text: the 64-bit hash of its
// simplified form, so that texts differing only in case, accents,
// punctuation, numbers or spacing are the same.
func ContentHash(text string) uint64 {
	return xxh3.HashString(SimplifyText(text))
}
