package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// edgeCases are texts where pre-split patterns and merges are easy to get
// wrong; every one is compared with tiktoken below.
var edgeCases = []string{
	"",
	"hello world",
	"I'm sure they'll say it's 'quoted' and we've done what you'd DO'S'LL",
	"don't DON'T Don'T 'ſ 's 'S 'Ve 'LL 'Re",
	"1 12 123 1234 12345 123456 1234567 3.14159 1,000,000 ١٢٣٤٥ ௧௨௩",
	"word   word\t\tword    ",
	"   leading spaces and trailing   ",
	"line\r\nline\r\n\r\n  indented\n\n\n   \n",
	"tabs\tand\u00a0nbsp\u2003em\u3000ideographic",
	"emoji 👩‍👩‍👧‍👦 🇺🇸 🤖🚀 ✨ ❤️",
	"日本語のテキスト、中文文本，한국어 텍스트",
	"العربية עברית ελληνικά русский ქართული ᐃᓄᒃᑎᑐᑦ 𐌰𐌱𐌲 ꦗꦮ",
	"combining: e\u0301 A\u030a ABCʰDEF \u0301HELLO",
	"<|endoftext|>",
	"text <|endoftext|> more <|fim_prefix|>x<|fim_suffix|> <|endofprompt|>",
	"code: func main() { fmt.Println(\"hi\") } // x += 1; y->z != w",
	"URLs https://example.com/a/b?c=d&e=f#g and paths /usr/local/bin/",
	"!!!???... ---=== ***\n***",
	strings.Repeat("a", 3000),
	strings.Repeat("ab ", 500) + strings.Repeat("🤖", 100),
}

func jsonl(t *testing.T, texts []string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, s := range texts {
		if err := enc.Encode(map[string]string{"id": string(rune('a' + i%26)), "text": s}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// sameLines fails the test at the first document whose ids differ.
func sameLines(t *testing.T, what string, got, want []byte, docs [][]byte) {
	t.Helper()
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	if docs != nil && len(g) != len(docs)+1 {
		t.Fatalf("%s: %d lines of ids for %d documents", what, len(g)-1, len(docs))
	}
	if len(g) != len(w) {
		t.Fatalf("%s: %d lines of ids, the peer wrote %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			gi, wi := strings.Fields(g[i]), strings.Fields(w[i])
			k := 0
			for k < len(gi) && k < len(wi) && gi[k] == wi[k] {
				k++
			}
			doc := ""
			if i < len(docs) {
				doc = string(docs[i])
				if len(doc) > 300 {
					doc = doc[:300] + "..."
				}
			}
			t.Fatalf("%s: document %d differs at token %d: pipe %v, peer %v\ndocument: %s",
				what, i, k, gi[k:min(k+8, len(gi))], wi[k:min(k+8, len(wi))], doc)
		}
	}
}

// TestEncodeMatchesTiktoken encodes the multilingual corpus (Debian's
// documentation in 26 languages and Python's reST sources, built by
// scripts/peers.sh) and the edge cases with OpenAI's rank files, through the
// command line, and compares every id with tiktoken's.
func TestEncodeMatchesTiktoken(t *testing.T) {
	dir := peerDir(t)
	corpus, err := os.ReadFile(filepath.Join(dir, "corpus", "docs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 10<<20 {
		t.Fatalf("corpus is %d bytes; the test wants at least 10 MB", len(corpus))
	}
	edges := jsonl(t, edgeCases)
	for _, enc := range []struct{ name, file string }{
		{"gpt2", "r50k_base"}, {"cl100k", "cl100k_base"}, {"o200k", "o200k_base"},
	} {
		t.Run(enc.name, func(t *testing.T) {
			ranks := filepath.Join(dir, "ranks", enc.file+".tiktoken")
			for _, in := range []struct {
				what string
				data []byte
			}{{"edge cases", edges}, {"corpus", corpus}} {
				got := mustRun(t, in.data, "bpe", "encode", "--tokenizer", ranks, "--ids", "--allow-special", "all", "--threads", "2")
				want := peer(t, in.data, "tiktoken_peer.py", "encode", enc.name)
				var docs [][]byte
				for _, line := range bytes.Split(bytes.TrimSuffix(in.data, []byte("\n")), []byte("\n")) {
					var d struct{ Text string }
					if err := json.Unmarshal(line, &d); err != nil {
						t.Fatal(err)
					}
					docs = append(docs, []byte(d.Text))
				}
				sameLines(t, in.what, got, want, docs)
			}
		})
	}
}

// TestTrainedTokenizerInHF trains a tokenizer with the command line, exports
// it as tokenizer.json, and checks that Hugging Face tokenizers encodes
// held-out documents to the same ids.
func TestTrainedTokenizerInHF(t *testing.T) {
	dir := peerDir(t)
	corpus, err := os.ReadFile(filepath.Join(dir, "corpus", "docs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(corpus, []byte("\n"))
	train := bytes.Join(lines[:200], nil)
	heldOut := append(bytes.Join(lines[200:260], nil), jsonl(t, edgeCases[:13])...)
	tmp := t.TempDir()
	for _, pattern := range []string{"cl100k", "o200k", `\p{L}+|\p{N}+|[^\p{L}\p{N}]+`} {
		tok := filepath.Join(tmp, "tok.bpe")
		mustRun(t, train, "bpe", "train", "--vocab-size", "3000", "--pattern", pattern, "--out", tok)
		hf := filepath.Join(tmp, "tokenizer.json")
		mustRun(t, nil, "bpe", "export", "--tokenizer", tok, "--format", "hf", "--out", hf)
		got := mustRun(t, heldOut, "bpe", "encode", "--tokenizer", tok, "--ids")
		again := mustRun(t, heldOut, "bpe", "encode", "--tokenizer", hf, "--ids")
		if !bytes.Equal(got, again) {
			t.Fatalf("pattern %s: the exported tokenizer.json encodes differently from the native file", pattern)
		}
		want := peer(t, heldOut, "hf_peer.py", "encode", hf)
		sameLines(t, "pattern "+pattern, got, want, nil)
	}
}
