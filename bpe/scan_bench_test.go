package bpe

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// benchText returns about n bytes of generated text: English-like prose with
// numbers, punctuation and code, or, when multilingual, the same mixed with
// accented Latin, Cyrillic, Greek, Arabic, CJK and emoji words.
func benchText(n int, multilingual bool) []byte {
	english := strings.Fields(`the of and to in is was for that on with as by it
		his at from he this be are which an or had were but not have has one their
		you all they she its time first new can would after two people who year
		city world between school don't it's we'll they're I've HTTP API JSON Model`)
	foreign := strings.Fields(`café naïve Straße résumé Привет мир Ελληνικά
		مرحبا بالعالم 中文字符 日本語のテキスト 한국어 😀 👍🏽 ४२ e\u0301te`)
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < n {
		switch k := rng.IntN(100); {
		case k < 3:
			b.WriteString(".\n\n")
		case k < 8:
			b.WriteString(", ")
		case k < 10:
			b.WriteString(" 2024-06-17 12345")
		case k < 11:
			b.WriteString("\n    if x != nil {\n\t\treturn err\n\t}\n")
		case multilingual && k < 40:
			b.WriteString(" " + foreign[rng.IntN(len(foreign))])
		default:
			b.WriteString(" " + english[rng.IntN(len(english))])
		}
	}
	return []byte(b.String())
}

// benchPieces counts the pieces benchCountPiece sees, so that the
// benchmarks do work the compiler cannot drop.
var benchPieces int

func benchCountPiece([]byte) { benchPieces++ }

func BenchmarkScan(b *testing.B) {
	for _, text := range []struct {
		name string
		text []byte
	}{
		{"english", benchText(1<<20, false)},
		{"multilingual", benchText(1<<20, true)},
	} {
		for _, name := range []string{"gpt2", "cl100k", "o200k"} {
			scan, err := NewSplitter(name)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/"+text.name, func(b *testing.B) {
				b.SetBytes(int64(len(text.text)))
				b.ReportAllocs()
				for b.Loop() {
					scan.Split(text.text, benchCountPiece)
				}
			})
		}
	}
}

// BenchmarkRegexSplit measures the regexp2 splitter, the scanners' oracle and
// the splitter of custom patterns, on a shorter text.
func BenchmarkRegexSplit(b *testing.B) {
	text := benchText(64<<10, false)
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		regex, _ := LookupPattern(name)
		s, err := NewRegexSplitter(regex)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				s.Split(text, benchCountPiece)
			}
		})
	}
}
