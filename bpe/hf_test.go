package bpe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
)

func TestByteLevelTable(t *testing.T) {
	for _, c := range []struct {
		b    byte
		want rune
	}{{'!', '!'}, {'~', '~'}, {' ', 'Ġ'}, {'\n', 'Ċ'}, {0, 'Ā'}, {0xad, 'Ń'}, {0xff, 'ÿ'}} {
		if got := byteChar[c.b]; got != c.want {
			t.Errorf("byteChar[0x%02x] = %q, want %q", c.b, got, c.want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	back, err := fromByteLevel(byteLevel(string(all)))
	if err != nil || back != string(all) {
		t.Fatalf("fromByteLevel(byteLevel(all bytes)) = %q, %v", back, err)
	}
	if _, err := fromByteLevel("a b"); err == nil {
		t.Error("fromByteLevel accepted a space, which no byte is spelled as")
	}
}

func TestSplitsExample(t *testing.T) {
	ranks := map[string]uint32{"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}
	got := splits(ranks, "abc")
	want := [][2]string{{"a", "bc"}, {"ab", "c"}}
	if !slices.Equal(got, want) {
		t.Fatalf("splits(abc) = %q, want %q", got, want)
	}
	if got := splits(ranks, "ab"); !slices.Equal(got, [][2]string{{"a", "b"}}) {
		t.Fatalf("splits(ab) = %q", got)
	}
}

func TestHFPatternRegex(t *testing.T) {
	for _, c := range []struct {
		pattern, want string
		ok            bool
	}{
		{"cl100k", classicPatterns["cl100k"], true},
		{PatternCL100K, classicPatterns["cl100k"], true},
		{"gpt2", classicPatterns["gpt2"], true},
		{"o200k_base", PatternO200K, true},
		{`\S+|\s+`, `\S+|\s+`, true},
		{`[$]+|\$|\d`, `[$]+|\$|\d`, true},
		{`[]$]|x`, `[]$]|x`, true},
		{`\s+$|\S+`, "", false},
		{`\p{N}{1,3}+|.`, "", false},
		{`\p{L}+|\x{41}+|[^\p{L}]+`, `\p{L}+|\x{41}+|[^\p{L}]+`, true},
	} {
		got, err := hfPatternRegex(c.pattern)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("hfPatternRegex(%q) = %q, %v; want %q, ok %v", c.pattern, got, err, c.want, c.ok)
		}
	}
}

// hfRoundTrip writes tok as tokenizer.json and reads it back.
func hfRoundTrip(t *testing.T, tok *Tokenizer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHF(&buf, tok); err != nil {
		t.Fatal(err)
	}
	ranks, special, pattern, err := ReadHF(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sameTokenizer(t, tok, ranks, special, pattern)
	return buf.Bytes()
}

// sameTokenizer fails unless ranks, special and pattern are tok's (the
// pattern compared by canonical name).
func sameTokenizer(t *testing.T, tok *Tokenizer, ranks, special map[string]uint32, pattern string) {
	t.Helper()
	if !maps.Equal(ranks, tok.Ranks()) {
		t.Errorf("ranks differ: %d read, %d written", len(ranks), len(tok.Ranks()))
	}
	if len(special)+len(tok.Special()) > 0 && !maps.Equal(special, tok.Special()) {
		t.Errorf("special = %v, want %v", special, tok.Special())
	}
	if canonicalPattern(pattern) != canonicalPattern(tok.Pattern()) {
		t.Errorf("pattern = %q, want %q", pattern, tok.Pattern())
	}
}

func TestHFRoundTripToy(t *testing.T) {
	hfRoundTrip(t, newToy(t, toyPattern))
	hfRoundTrip(t, newToy(t, "cl100k"))
}

// gpt2StyleJSON is a tokenizer.json laid out like GPT-2's: ids of the bytes
// in byte-level character order, one merge per token written "a b", the
// ByteLevel pre-tokenizer with its own regex, and <|endoftext|> both in the
// vocab and an added token.
func gpt2StyleJSON(t testing.TB) []byte {
	vocab := map[string]int{}
	order := []rune{}
	for _, r := range byteChar {
		order = append(order, r)
	}
	slices.Sort(order)
	for i, r := range order {
		vocab[string(r)] = i
	}
	merges := []string{"Ġ t", "h e", "Ġt he", "i n", "in g", "Ġ a", "e r", "Ġa n", "Ġan d"}
	for _, m := range merges {
		vocab[strings.ReplaceAll(m, " ", "")] = len(vocab)
	}
	vocab["<|endoftext|>"] = len(vocab)
	f := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   []any{map[string]any{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true},
		"model":          map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false, "vocab": vocab, "merges": merges},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadHFGPT2Style(t *testing.T) {
	ranks, special, pattern, err := ReadHF(bytes.NewReader(gpt2StyleJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	if pattern != "gpt2" || len(ranks) != 256+9 || special[EndOfText] != 256+9 {
		t.Fatalf("pattern %q, %d ranks, specials %v", pattern, len(ranks), special)
	}
	if ranks[" the"] != 258 || ranks["!"] != 0 || ranks["\x00"] != 188 {
		t.Errorf("ranks: \" the\" %d, \"!\" %d, \"\\x00\" %d", ranks[" the"], ranks["!"], ranks["\x00"])
	}
}

func TestReadHFRefuses(t *testing.T) {
	base := func() map[string]any {
		var f map[string]any
		if err := json.Unmarshal(gpt2StyleJSON(t), &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	model := func(f map[string]any) map[string]any { return f["model"].(map[string]any) }
	for _, c := range []struct {
		name, want string
		edit       func(f map[string]any)
	}{
		{"version", `version "2.0"`, func(f map[string]any) { f["version"] = "2.0" }},
		{"no model", "no model", func(f map[string]any) { delete(f, "model") }},
		{"wordpiece", "WordPiece", func(f map[string]any) { model(f)["type"] = "WordPiece" }},
		{"byte fallback", "byte_fallback", func(f map[string]any) { model(f)["byte_fallback"] = true }},
		{"normalizer", "normalizer", func(f map[string]any) { f["normalizer"] = map[string]any{"type": "NFC"} }},
		{"prefix space", "add_prefix_space", func(f map[string]any) {
			f["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true
		}},
		{"metaspace", "Metaspace", func(f map[string]any) { f["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }},
		{"merge order", "merge order", func(f map[string]any) {
			m := model(f)["merges"].([]any)
			m[0], m[1] = m[1], m[0]
		}},
		{"merge part", "not in the vocab", func(f map[string]any) { model(f)["merges"] = []any{"Ġ zz"} }},
		{"missing byte", "byte 0x41", func(f map[string]any) { delete(model(f)["vocab"].(map[string]any), "A") }},
		{"not byte level", "byte-level character", func(f map[string]any) { model(f)["vocab"].(map[string]any)["a b"] = 9999 }},
		{"not special", "not special", func(f map[string]any) {
			f["added_tokens"].([]any)[0].(map[string]any)["special"] = false
		}},
		{"special id", "has id", func(f map[string]any) {
			f["added_tokens"].([]any)[0].(map[string]any)["id"] = 5000
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			c.edit(f)
			b, _ := json.Marshal(f)
			_, _, _, err := ReadHF(bytes.NewReader(b))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrFormat mentioning %q", err, c.want)
			}
		})
	}
}

// python returns a python3 that imports tokenizers, skipping the test when
// there is none, or failing it when PIPE_PEERS=1 asks for the peers.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import tokenizers").Run()
	}
	if err != nil {
		peertest.Missing(t, fmt.Sprintf("no python3 on PATH that imports tokenizers (%v)", err))
	}
	return py
}

// hfPeerScript encodes texts with each tokenizer.json by PyPI tokenizers and
// saves each as tokenizers writes it.
const hfPeerScript = `
import json, sys
from tokenizers import Tokenizer, __version__
job = json.load(open(sys.argv[1], encoding="utf-8"))
out = {"version": __version__, "ids": {}}
for name, path in job["files"].items():
    tok = Tokenizer.from_file(path)
    out["ids"][name] = [tok.encode(text).ids for text in job["texts"]]
    tok.save(path + ".saved.json")
json.dump(out, sys.stdout)
`

// TestHFMatchesTokenizers writes tokenizer.json files of a toy vocabulary, a
// trained one, OpenAI's gpt2, cl100k and o200k, and a GPT-2-style file read
// with ReadHF; PyPI tokenizers must encode mixed text (spaces, newlines,
// digits, emoji, CJK, special tokens) with the ids our Encode gives, and
// what tokenizers saves must read back to the same tokenizer.
func TestHFMatchesTokenizers(t *testing.T) {
	py := python(t)
	mixed, err := os.ReadFile("testdata/mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{string(mixed)}
	for _, line := range strings.SplitAfter(string(mixed), "\n") {
		texts = append(texts, line, strings.TrimRight(line, "\n"))
	}

	toks := map[string]*Tokenizer{
		"toy":       newToy(t, toyPattern),
		"toy-o200k": newToy(t, "o200k"),
		"trained":   trainedToy(t, mixed),
	}
	gpt2Style, err := NewTokenizer(mustReadHF(t, gpt2StyleJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	toks["gpt2-style"] = gpt2Style
	real := []string{"cl100k"}
	if !testing.Short() {
		real = append(real, "gpt2", "o200k")
	}
	if encodersDir() == "" && peertest.Required() {
		t.Fatal("PIPE_PEERS=1 but the npm tiktoken encoders are missing")
	}
	if encodersDir() != "" {
		for _, name := range real {
			toks[name] = realTokenizer(t, name)
		}
	} else {
		t.Log("no npm tiktoken encoders: OpenAI's vocabularies not compared")
	}

	dir := t.TempDir()
	files := map[string]string{}
	for name, tok := range toks {
		path := filepath.Join(dir, name+".json")
		if name == "gpt2-style" {
			err = os.WriteFile(path, gpt2StyleJSON(t), 0o644)
		} else {
			err = WriteHFFile(path, tok)
		}
		if err != nil {
			t.Fatal(err)
		}
		files[name] = path
	}
	job, _ := json.Marshal(map[string]any{"files": files, "texts": texts})
	jobPath := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobPath, job, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", hfPeerScript, jobPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		Version string
		IDs     map[string][][]uint32
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("tokenizers %s", res.Version)

	for _, name := range slices.Sorted(maps.Keys(toks)) {
		tok := toks[name]
		t.Run(name, func(t *testing.T) {
			for i, text := range texts {
				want, err := tok.Encode([]byte(text), AllSpecial())
				if err != nil {
					t.Fatal(err)
				}
				if got := res.IDs[name][i]; !slices.Equal(got, want) {
					t.Fatalf("text %d %q:\ntokenizers %v\nours       %v", i, clip([]byte(text)), got, want)
				}
			}
			saved, err := os.ReadFile(files[name] + ".saved.json")
			if err != nil {
				t.Fatal(err)
			}
			ranks, special, pattern, err := ReadHF(bytes.NewReader(saved))
			if err != nil {
				t.Fatalf("reading what tokenizers saved: %v", err)
			}
			sameTokenizer(t, tok, ranks, special, pattern)
		})
	}
}

func mustReadHF(t *testing.T, b []byte) (map[string]uint32, map[string]uint32, string) {
	t.Helper()
	ranks, special, pattern, err := ReadHF(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ranks, special, pattern
}

// trainedToy trains a 600-token vocabulary on text under cl100k's pattern.
func trainedToy(t *testing.T, text []byte) *Tokenizer {
	t.Helper()
	c, err := NewCounter("cl100k")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.Add(text)
	}
	tok, _, err := Train(c.Counts(), 600, []string{EndOfText, "<|fim|>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
