package bpe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pipe-dev/pipe/internal/peertest"
)

// TestUnicodeVersion fails when Go's unicode tables are no longer those
// unicode_tables.go was made against.
func TestUnicodeVersion(t *testing.T) {
	if unicode.Version != goUnicodeVersion {
		t.Fatalf("Go's unicode tables are %s, unicode_tables.go was made against %s: rerun bpe/gen_unicode.py",
			unicode.Version, goUnicodeVersion)
	}
}

func TestWithAdded(t *testing.T) {
	// A, C, E and U+FFF0…U+10002, plus B and U+10003…U+10010.
	base := &unicode.RangeTable{
		R16: []unicode.Range16{{Lo: 0x41, Hi: 0x45, Stride: 2}, {Lo: 0xfff0, Hi: 0xffff, Stride: 1}},
		R32: []unicode.Range32{{Lo: 0x10000, Hi: 0x10002, Stride: 1}},
	}
	add := &unicode.RangeTable{
		R16: []unicode.Range16{{Lo: 0x42, Hi: 0x42, Stride: 1}},
		R32: []unicode.Range32{{Lo: 0x10003, Hi: 0x10010, Stride: 1}},
	}
	want := &unicode.RangeTable{
		R16:         []unicode.Range16{{Lo: 0x41, Hi: 0x43, Stride: 1}, {Lo: 0x45, Hi: 0x45, Stride: 1}, {Lo: 0xfff0, Hi: 0xffff, Stride: 1}},
		R32:         []unicode.Range32{{Lo: 0x10000, Hi: 0x10010, Stride: 1}},
		LatinOffset: 2,
	}
	if got := withAdded(base, add); !reflect.DeepEqual(got, want) {
		t.Errorf("withAdded = %+v, want %+v", got, want)
	}
	if got := withAdded(base, nil); got != base {
		t.Errorf("withAdded(base, nil) is not base")
	}
}

// unicodeCases are pieces from tiktoken 0.14 of text with characters that
// Unicode 16.0.0 (tiktoken's) has and Go's 15.0.0 tables lack, read through
// a vocabulary that makes every piece one token (see unicodePeerScript).
// TestUnicodeMatchesTiktoken has tiktoken split their texts again.
var unicodeCases = []struct {
	text                string
	gpt2, cl100k, o200k []string
}{
	// Egyptian hieroglyphs Extended-A (Lo)
	{"x\U00013460\U00013461 \U00013462!",
		[]string{"x\U00013460\U00013461", " \U00013462", "!"},
		[]string{"x\U00013460\U00013461", " \U00013462", "!"},
		[]string{"x\U00013460\U00013461", " \U00013462", "!"},
	},
	// CJK Extension I (Unicode 15.1, Lo)
	{" \U0002ebf0\U0002ebf1\u4e2d",
		[]string{" \U0002ebf0\U0002ebf1\u4e2d"},
		[]string{" \U0002ebf0\U0002ebf1\u4e2d"},
		[]string{" \U0002ebf0\U0002ebf1\u4e2d"},
	},
	// Todhri (Lo) after punctuation and a newline
	{"!\U000105c0\U000105c1\n\U000105c2",
		[]string{"!", "\U000105c0\U000105c1", "\n", "\U000105c2"},
		[]string{"!\U000105c0\U000105c1", "\n", "\U000105c2"},
		[]string{"!\U000105c0\U000105c1", "\n", "\U000105c2"},
	},
	// Garay capitals (Lu) and small letters (Ll)
	{"\U00010d50\U00010d70\U00010d71 \U00010d70\U00010d71\U00010d50",
		[]string{"\U00010d50\U00010d70\U00010d71", " \U00010d70\U00010d71\U00010d50"},
		[]string{"\U00010d50\U00010d70\U00010d71", " \U00010d70\U00010d71\U00010d50"},
		[]string{"\U00010d50\U00010d70\U00010d71", " \U00010d70\U00010d71", "\U00010d50"},
	},
	// Cyrillic (BMP): Ll after ASCII, Lu Ll Ll, Ll Lu
	{"a\u1c8a \u1c89\u1c8a\u1c8a \u1c8a\u1c89",
		[]string{"a\u1c8a", " \u1c89\u1c8a\u1c8a", " \u1c8a\u1c89"},
		[]string{"a\u1c8a", " \u1c89\u1c8a\u1c8a", " \u1c8a\u1c89"},
		[]string{"a\u1c8a", " \u1c89\u1c8a\u1c8a", " \u1c8a", "\u1c89"},
	},
	// Latin Extended-D (BMP): Lu, Ll
	{"\ua7cb\ua7cd \ua7da\ua7db\ua7dc",
		[]string{"\ua7cb\ua7cd", " \ua7da\ua7db\ua7dc"},
		[]string{"\ua7cb\ua7cd", " \ua7da\ua7db\ua7dc"},
		[]string{"\ua7cb\ua7cd", " \ua7da\ua7db", "\ua7dc"},
	},
	// Garay modifier letters (Lm)
	{"\U00010d4e\U00010d50 x\U00010d6f",
		[]string{"\U00010d4e\U00010d50", " x\U00010d6f"},
		[]string{"\U00010d4e\U00010d50", " x\U00010d6f"},
		[]string{"\U00010d4e", "\U00010d50", " x\U00010d6f"},
	},
	// Kirat Rai: Lm, Lo
	{"\U00016d40\U00016d43\U00016d6b\U00016d41",
		[]string{"\U00016d40\U00016d43\U00016d6b\U00016d41"},
		[]string{"\U00016d40\U00016d43\U00016d6b\U00016d41"},
		[]string{"\U00016d40\U00016d43\U00016d6b\U00016d41"},
	},
	// Gurung Khema: letters (Lo) and vowel signs (M)
	{"\U00016100\U0001611e\U00016101 \U0001611e\U0001611f",
		[]string{"\U00016100", "\U0001611e", "\U00016101", " \U0001611e\U0001611f"},
		[]string{"\U00016100", "\U0001611e\U00016101", " \U0001611e\U0001611f"},
		[]string{"\U00016100\U0001611e\U00016101", " \U0001611e\U0001611f"},
	},
	// Arabic (BMP): a new mark
	{"\u0628\u0897\u0628 \u0897",
		[]string{"\u0628", "\u0897", "\u0628", " \u0897"},
		[]string{"\u0628", "\u0897\u0628", " \u0897"},
		[]string{"\u0628\u0897\u0628", " \u0897"},
	},
	// Kawi: a new mark between capitals
	{"A\U00011f5aB",
		[]string{"A", "\U00011f5a", "B"},
		[]string{"A", "\U00011f5aB"},
		[]string{"A\U00011f5a", "B"},
	},
	// Garay digits (Nd)
	{"\U00010d40\U00010d41\U00010d42\U00010d43\U00010d44",
		[]string{"\U00010d40\U00010d41\U00010d42\U00010d43\U00010d44"},
		[]string{"\U00010d40\U00010d41\U00010d42", "\U00010d43\U00010d44"},
		[]string{"\U00010d40\U00010d41\U00010d42", "\U00010d43\U00010d44"},
	},
	// Outlined digits (Nd) after a letter
	{"x\U0001ccf0\U0001ccf1\U0001ccf2\U0001ccf3 1\U0001ccf9",
		[]string{"x", "\U0001ccf0\U0001ccf1\U0001ccf2\U0001ccf3", " 1\U0001ccf9"},
		[]string{"x", "\U0001ccf0\U0001ccf1\U0001ccf2", "\U0001ccf3", " ", "1\U0001ccf9"},
		[]string{"x", "\U0001ccf0\U0001ccf1\U0001ccf2", "\U0001ccf3", " ", "1\U0001ccf9"},
	},
	// Myanmar Extended-C digits (Nd)
	{"\U000116d0\U000116d1\U000116d2\U000116d3\U000116d4\U000116d5\U000116d6",
		[]string{"\U000116d0\U000116d1\U000116d2\U000116d3\U000116d4\U000116d5\U000116d6"},
		[]string{"\U000116d0\U000116d1\U000116d2", "\U000116d3\U000116d4\U000116d5", "\U000116d6"},
		[]string{"\U000116d0\U000116d1\U000116d2", "\U000116d3\U000116d4\U000116d5", "\U000116d6"},
	},
	// Sunuwar: letters (Lo), digits (Nd)
	{"\U00011bc0\U00011bc1\U00011bf0\U00011bf1",
		[]string{"\U00011bc0\U00011bc1", "\U00011bf0\U00011bf1"},
		[]string{"\U00011bc0\U00011bc1", "\U00011bf0\U00011bf1"},
		[]string{"\U00011bc0\U00011bc1", "\U00011bf0\U00011bf1"},
	},
	// Tulu-Tigalari: Lo, M
	{"\U00011380\U000113b8\U00011381 \U000113c2",
		[]string{"\U00011380", "\U000113b8", "\U00011381", " \U000113c2"},
		[]string{"\U00011380", "\U000113b8\U00011381", " \U000113c2"},
		[]string{"\U00011380\U000113b8\U00011381", " \U000113c2"},
	},
	// Ol Onal: Lo, M, Nd
	{"\U0001e5d0\U0001e5ee\U0001e5f1\U0001e5f2 \U0001e5f0",
		[]string{"\U0001e5d0", "\U0001e5ee", "\U0001e5f1\U0001e5f2", " \U0001e5f0"},
		[]string{"\U0001e5d0", "\U0001e5ee", "\U0001e5f1\U0001e5f2", " \U0001e5f0"},
		[]string{"\U0001e5d0\U0001e5ee", "\U0001e5f1\U0001e5f2", " \U0001e5f0"},
	},
	// Kirat Rai and Gurung Khema digits (Nd)
	{"\U00016d70\U00016d71 \U00016130\U00016131\U00016132\U00016133",
		[]string{"\U00016d70\U00016d71", " \U00016130\U00016131\U00016132\U00016133"},
		[]string{"\U00016d70\U00016d71", " ", "\U00016130\U00016131\U00016132", "\U00016133"},
		[]string{"\U00016d70\U00016d71", " ", "\U00016130\U00016131\U00016132", "\U00016133"},
	},
	// Khitan Small Script: a new Lo at the block's end
	{"\U00018cfe\U00018cff",
		[]string{"\U00018cfe", "\U00018cff"},
		[]string{"\U00018cfe\U00018cff"},
		[]string{"\U00018cfe\U00018cff"},
	},
	// Arabic Extended-C: Lo, M
	{"\U00010ec2\U00010efc\U00010ec3",
		[]string{"\U00010ec2", "\U00010efc", "\U00010ec3"},
		[]string{"\U00010ec2", "\U00010efc\U00010ec3"},
		[]string{"\U00010ec2\U00010efc\U00010ec3"},
	},
	// Range ends and the unassigned code points after them
	{"\U000143fa\U000143fb \U0002ee5d\U0002ee5e",
		[]string{"\U000143fa", "\U000143fb", " \U0002ee5d", "\U0002ee5e"},
		[]string{"\U000143fa", "\U000143fb", " \U0002ee5d", "\U0002ee5e"},
		[]string{"\U000143fa", "\U000143fb", " \U0002ee5d", "\U0002ee5e"},
	},
	// Contractions after new letters
	{"\U00010d50'S \U00010d70's \U00010d50\U00010d50'LL",
		[]string{"\U00010d50", "'", "S", " \U00010d70", "'s", " \U00010d50\U00010d50", "'", "LL"},
		[]string{"\U00010d50", "'S", " \U00010d70", "'s", " \U00010d50\U00010d50", "'LL"},
		[]string{"\U00010d50'S", " \U00010d70's", " \U00010d50\U00010d50'LL"},
	},
	// A newline before a new letter and a new digit
	{"\n\U00013460 \n\U00010d40",
		[]string{"\n", "\U00013460", " ", "\n", "\U00010d40"},
		[]string{"\n", "\U00013460", " \n", "\U00010d40"},
		[]string{"\n", "\U00013460", " \n", "\U00010d40"},
	},
	// Old and new digits
	{"1\U00010d40\U00010d41\U00010d42",
		[]string{"1\U00010d40\U00010d41\U00010d42"},
		[]string{"1\U00010d40\U00010d41", "\U00010d42"},
		[]string{"1\U00010d40\U00010d41", "\U00010d42"},
	},
	// A new mark before Lu Lu Ll
	{"\U0001611e\U00010d50\U00010d50\U00010d70",
		[]string{"\U0001611e", "\U00010d50\U00010d50\U00010d70"},
		[]string{"\U0001611e\U00010d50\U00010d50\U00010d70"},
		[]string{"\U0001611e\U00010d50\U00010d50\U00010d70"},
	},
}

func TestUnicodeCases(t *testing.T) {
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		regex, _ := LookupPattern(name)
		oracle, err := NewRegexSplitter(regex)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := NewSplitter(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range unicodeCases {
			want := map[string][]string{"gpt2": c.gpt2, "cl100k": c.cl100k, "o200k": c.o200k}[name]
			if got := splitAll(oracle, c.text); !slices.Equal(got, want) {
				t.Errorf("%s regexp2 %+q:\n got %+q\nwant %+q", name, c.text, got, want)
			}
			if got := splitAll(scan, c.text); !slices.Equal(got, want) {
				t.Errorf("%s scanner %+q:\n got %+q\nwant %+q", name, c.text, got, want)
			}
		}
	}
}

// unicodePeerTexts returns a text for every range of unicodeAdded: its ends
// between their neighbours, then its first and last character among ASCII
// letters, digits, punctuation, a contraction and a newline.
func unicodePeerTexts() []string {
	spans := map[[2]rune]bool{}
	for _, tab := range unicodeAdded {
		for _, s := range tableSpans(tab) {
			spans[s] = true
		}
	}
	var texts []string
	for _, s := range slices.SortedFunc(maps.Keys(spans), func(a, b [2]rune) int { return int(a[0] - b[0]) }) {
		lo, hi := string(s[0]), string(s[1])
		text := string(s[0]-1) + lo + hi + string(s[1]+1) +
			" x" + lo + lo + lo + lo + "1A" + hi + "a'S!" + hi + "\n"
		if !utf8.ValidString(text) {
			panic(fmt.Sprintf("peer text of %U-%U is not UTF-8", s[0], s[1]))
		}
		texts = append(texts, text)
	}
	return texts
}

// unicodePeerScript encodes the texts of its JSON input (scripts/tiktoken_peer.py's
// directory is its argument) with tiktoken's gpt2, cl100k and o200k, joined by
// spaces, and splits each text with their patterns, through a vocabulary that
// holds every substring of every text so that each piece is one token.
const unicodePeerScript = `
import json, sys
sys.path.insert(0, sys.argv[1])
import tiktoken
import tiktoken_peer

texts = json.load(sys.stdin)["texts"]
vocab = {bytes([b]): b for b in range(256)}
for t in texts:
    for i in range(len(t)):
        for j in range(i + 1, len(t) + 1):
            vocab.setdefault(t[i:j].encode(), len(vocab))
out = {"version": tiktoken.__version__, "ids": {}, "pieces": {}}
for name in ("gpt2", "cl100k", "o200k"):
    enc = tiktoken_peer.encoding(name)
    out["ids"][name] = enc.encode_ordinary(" ".join(texts))
    split = tiktoken.Encoding("pieces", pat_str=enc._pat_str, mergeable_ranks=vocab, special_tokens={})
    out["pieces"][name] = [[split.decode_single_token_bytes(i).decode() for i in split.encode_ordinary(t)]
                           for t in texts]
json.dump(out, sys.stdout)
`

// TestUnicodeMatchesTiktoken gives tiktoken, in one string, a character of
// every range of unicodeAdded with its neighbours (unicodePeerTexts) and the
// texts of unicodeCases: our ids on OpenAI's rank files must be tiktoken's,
// and our pieces, from the scanners and from RegexSplitter, tiktoken's.
func TestUnicodeMatchesTiktoken(t *testing.T) {
	py, dir := peertest.Python(t, "tiktoken"), peertest.Dir(t)
	texts := unicodePeerTexts()
	for _, c := range unicodeCases {
		texts = append(texts, c.text)
	}
	job, err := json.Marshal(map[string][]string{"texts": texts})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", unicodePeerScript, filepath.Join("..", "scripts"))
	cmd.Stdin = bytes.NewReader(job)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tiktoken: %v\n%s", err, stderr.Bytes())
	}
	var peer struct {
		Version string
		IDs     map[string][]uint32
		Pieces  map[string][][]string
	}
	if err := json.Unmarshal(out, &peer); err != nil {
		t.Fatal(err)
	}
	t.Logf("tiktoken %s, %d texts", peer.Version, len(texts))

	joined := []byte(strings.Join(texts, " "))
	files := map[string]string{"gpt2": "r50k_base", "cl100k": "cl100k_base", "o200k": "o200k_base"}
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		tok, err := Load(filepath.Join(dir, "ranks", files[name]+".tiktoken"), "")
		if err != nil {
			t.Fatal(err)
		}
		if tok.Pattern() != name {
			t.Fatalf("%s: pattern %q, want %s", files[name], tok.Pattern(), name)
		}
		if got, want := tok.EncodeOrdinary(joined), peer.IDs[name]; !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: ids differ from tiktoken's at id %d of %d (tiktoken has %d)", name, i, len(got), len(want))
		}

		regex, _ := LookupPattern(name)
		oracle, err := NewRegexSplitter(regex)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := NewSplitter(name)
		if err != nil {
			t.Fatal(err)
		}
		for k, text := range texts {
			want := peer.Pieces[name][k]
			if got := splitAll(scan, text); !slices.Equal(got, want) {
				t.Errorf("%s scanner %+q:\n got %+q\nwant %+q", name, text, got, want)
			}
			if got := splitAll(oracle, text); !slices.Equal(got, want) {
				t.Errorf("%s regexp2 %+q:\n got %+q\nwant %+q", name, text, got, want)
			}
		}
	}
}
