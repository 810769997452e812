package bpe

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden tokenizer files in testdata/")

func TestReadTiktokenExample(t *testing.T) {
	in := "IQ== 0\nIg== 1\n\nIHRoZQ== 7\r\n"
	ranks, err := ReadTiktoken(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"!": 0, `"`: 1, " the": 7}
	if !maps.Equal(ranks, want) {
		t.Fatalf("ranks = %v, want %v", ranks, want)
	}
	var out bytes.Buffer
	if err := WriteTiktoken(&out, ranks); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "IQ== 0\nIg== 1\nIHRoZQ== 7\n" {
		t.Fatalf("WriteTiktoken = %q", got)
	}
}

func TestReadTiktokenErrors(t *testing.T) {
	for _, c := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"bad base64", "IQ== 0\nI!Q= 1\n", 2, "bad base64"},
		{"base64 padding", "IQ== 0\nIQ 1\n", 2, "bad base64"},
		{"no rank", "IQ== 0\nIg==\n", 2, `want "base64-token rank"`},
		{"bad rank", "IQ== 0\nIg== x\n", 2, `bad rank "x"`},
		{"negative rank", "IQ== -1\n", 1, "bad rank"},
		{"big rank", "IQ== 4294967296\n", 1, "bad rank"},
		{"two spaces", "IQ==  0\n", 1, "bad rank"},
		{"empty token", "IQ== 0\n 1\n", 2, "empty token"},
		{"duplicate rank", "IQ== 0\nIg== 1\nIw== 1\n", 3, "rank 1 already given on line 2"},
		{"duplicate token", "IQ== 0\nIg== 1\nIQ== 2\n", 3, `token "!" already has rank 0 (line 1)`},
		{"empty", "", 0, "no ranks"},
		{"truncated mid-line", "IQ== 0\nIg", 2, `want "base64-token rank"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadTiktoken(strings.NewReader(c.in))
			var pe *ParseError
			if !errors.Is(err, ErrFormat) || !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			if pe.Line != c.line || !strings.Contains(pe.Msg, c.want) {
				t.Fatalf("err = %v, want line %d, %q", err, c.line, c.want)
			}
		})
	}
}

var openAIRanksSHA256 = map[string]string{}

func init() {
	for _, e := range openAIEncodings {
		openAIRanksSHA256[e.file] = e.sha256
	}
}

// npmEncoder reads an npm tiktoken encoder (r50k_base, cl100k_base, ...),
// skipping the test when there are none (failing with PIPE_PEERS=1).
func npmEncoder(t *testing.T, name string) (ranks, special map[string]uint32, pattern string) {
	t.Helper()
	dir := encodersDir()
	if dir == "" {
		peertest.Missing(t, "the npm tiktoken encoders are missing")
	}
	f, err := os.Open(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ranks, special, pattern, err = ReadTiktokenJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ranks, special, pattern
}

// TestWriteTiktokenIsOpenAIs converts the npm encoders to .tiktoken files,
// which must be byte for byte OpenAI's.
func TestWriteTiktokenIsOpenAIs(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(openAIRanksSHA256)) {
		t.Run(name, func(t *testing.T) {
			ranks, _, _ := npmEncoder(t, name)
			h := sha256.New()
			if err := WriteTiktoken(h, ranks); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != openAIRanksSHA256[name] {
				t.Fatalf("sha256 %s, OpenAI's file has %s", got, openAIRanksSHA256[name])
			}
		})
	}
}

// TestReadTiktokenJSONReal checks the npm encoders' sizes, specials and
// patterns: each pat_str is a classic spelling of our named pattern.
func TestReadTiktokenJSONReal(t *testing.T) {
	for _, c := range []struct {
		file, pattern string
		ranks         int
		special       map[string]uint32
	}{
		{"r50k_base", "gpt2", 50256, map[string]uint32{EndOfText: 50256}},
		{"cl100k_base", "cl100k", 100256, map[string]uint32{EndOfText: 100257, "<|fim_prefix|>": 100258,
			"<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}},
		{"o200k_base", "o200k", 199998, map[string]uint32{EndOfText: 199999, "<|endofprompt|>": 200018}},
	} {
		t.Run(c.file, func(t *testing.T) {
			ranks, special, pattern := npmEncoder(t, c.file)
			if len(ranks) != c.ranks || !maps.Equal(special, c.special) {
				t.Errorf("%d ranks, specials %v; want %d, %v", len(ranks), special, c.ranks, c.special)
			}
			if got := canonicalPattern(pattern); got != c.pattern {
				t.Errorf("pat_str %q is not a spelling of %s", pattern, c.pattern)
			}
		})
	}
}

// TestClassicPatternsSplitAlike holds the classic spellings (run by the
// regex splitter) to the named patterns (run by the hand-written scanners).
func TestClassicPatternsSplitAlike(t *testing.T) {
	mixed, err := os.ReadFile("testdata/mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string{string(mixed)}, strings.SplitAfter(string(mixed), "\n")...)
	texts = append(texts, "a  \n\n  b", "x \t\n", "  ", "\n \n", "12345678", "'S'll", "a\u00a0\u00a0b\u3000")
	for name, classic := range classicPatterns {
		named, err := NewSplitter(name)
		if err != nil {
			t.Fatal(err)
		}
		re, err := NewRegexSplitter(classic)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			if got, want := splitAll(re, text), splitAll(named, text); !slices.Equal(got, want) {
				t.Errorf("%s: classic spelling splits %q as\n%q, named pattern as\n%q", name, text, got, want)
			}
		}
	}
}

func TestReadTiktokenJSON(t *testing.T) {
	// Three tokens from offset 0, then one at rank 10 given as a rank line.
	ranks := "! 0 IQ== Ig== Iw==\nJA== 10"
	in := fmt.Sprintf(`{"explicit_n_vocab": 5, "pat_str": "\\S+|\\s+", "special_tokens": {"<|endoftext|>": 11}, "bpe_ranks": %q}`, ranks)
	r, s, p, err := ReadTiktokenJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint32{"!": 0, `"`: 1, "#": 2, "$": 10}; !maps.Equal(r, want) {
		t.Errorf("ranks %v, want %v", r, want)
	}
	if s[EndOfText] != 11 || len(s) != 1 || p != `\S+|\s+` {
		t.Errorf("specials %v, pattern %q", s, p)
	}
	for _, c := range []struct{ name, in, want string }{
		{"n_vocab", `{"explicit_n_vocab": 4, "pat_str": "x", "special_tokens": {}, "bpe_ranks": "! 0 IQ== Ig=="}`, "explicit_n_vocab is 4"},
		{"no pat_str", `{"special_tokens": {}, "bpe_ranks": "! 0 IQ=="}`, "no pat_str"},
		{"no bpe_ranks", `{"pat_str": "x"}`, "no bpe_ranks"},
		{"base64", `{"pat_str": "x", "bpe_ranks": "! 0 IQ== I*=="}`, "line 1: bpe_ranks: token 1: bad base64"},
		{"offset", `{"pat_str": "x", "bpe_ranks": "! z IQ=="}`, "bad offset"},
		{"overlap", `{"pat_str": "x", "bpe_ranks": "! 0 IQ== Ig==\n! 1 Iw=="}`, "line 2: bpe_ranks: rank 1 given twice"},
		{"special rank", `{"pat_str": "x", "special_tokens": {"<s>": 0}, "bpe_ranks": "! 0 IQ=="}`, "already the id of"},
		{"not JSON", `{"pat_str": `, "npm tiktoken JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := ReadTiktokenJSON(strings.NewReader(c.in))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrFormat with %q", err, c.want)
			}
		})
	}
}

// writeTiktokenJSON writes tok in the npm tiktoken package's encoder format
// (one "! offset" line per run of consecutive ranks).
func writeTiktokenJSON(t *testing.T, path string, tok *Tokenizer, pattern string) {
	t.Helper()
	var lines []string
	next := uint32(0)
	for _, s := range sortedByRank(tok.Ranks()) {
		r := tok.Ranks()[s]
		if len(lines) == 0 || r != next {
			lines = append(lines, fmt.Sprintf("! %d", r))
		}
		lines[len(lines)-1] += " " + base64.StdEncoding.EncodeToString([]byte(s))
		next = r + 1
	}
	b, err := json.Marshal(map[string]any{"pat_str": pattern, "special_tokens": tok.Special(), "bpe_ranks": strings.Join(lines, "\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNativeGolden pins the native format: the toy tokenizer saved is
// testdata/toy.pipe-bpe (go test -run TestNativeGolden -update-golden).
func TestNativeGolden(t *testing.T) {
	tok := newToy(t, toyPattern)
	var buf bytes.Buffer
	if err := Save(&buf, tok); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "toy.pipe-bpe")
	if *updateGolden {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Save differs from %s (rerun with -update-golden if the change is meant):\n%s", golden, clip(buf.Bytes()))
	}
	if !bytes.HasPrefix(want, []byte("pipe-bpe 1\n{")) {
		t.Fatalf("%s does not start with the format line", golden)
	}
	fp, err := tok.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(want); fp != hex.EncodeToString(sum[:]) {
		t.Fatalf("Fingerprint %s is not the sha256 of the saved file", fp)
	}
}

func TestFingerprint(t *testing.T) {
	a := newToy(t, toyPattern)
	fa, err := a.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	ranks := maps.Clone(a.Ranks())
	again, err := NewTokenizer(ranks, maps.Clone(a.Special()), toyPattern)
	if err != nil {
		t.Fatal(err)
	}
	if fb, _ := again.Fingerprint(); fb != fa {
		t.Fatal("same tokenizer, different fingerprint")
	}
	ranks["zz"] = 5000
	for name, tok := range map[string]*Tokenizer{
		"ranks":   mustTokenizer(t, ranks, a.Special(), toyPattern),
		"special": mustTokenizer(t, a.Ranks(), map[string]uint32{EndOfText: 1000}, toyPattern),
		"pattern": mustTokenizer(t, a.Ranks(), a.Special(), "cl100k"),
	} {
		if f, _ := tok.Fingerprint(); f == fa {
			t.Errorf("another %s, same fingerprint", name)
		}
	}
}

func mustTokenizer(t *testing.T, ranks, special map[string]uint32, pattern string) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer(ranks, special, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLoadEveryFormat writes the toy tokenizer in each format and loads it
// back.
func TestLoadEveryFormat(t *testing.T) {
	dir := t.TempDir()
	for _, pattern := range []string{toyPattern, "cl100k"} {
		tok := newToy(t, pattern)
		native := filepath.Join(dir, "toy.pipe-bpe")
		hf := filepath.Join(dir, "tokenizer.json")
		npm := filepath.Join(dir, "npm.json")
		rankFile := filepath.Join(dir, "toy.tiktoken")
		if err := WriteFile(native, tok); err != nil {
			t.Fatal(err)
		}
		if err := WriteHFFile(hf, tok); err != nil {
			t.Fatal(err)
		}
		regex := pattern
		if r, ok := classicPatterns[pattern]; ok {
			regex = r // as the npm package spells it
		}
		writeTiktokenJSON(t, npm, tok, regex)
		var buf bytes.Buffer
		if err := WriteTiktoken(&buf, tok.Ranks()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rankFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path, pattern string
			special       map[string]uint32
		}{
			{native, "", tok.Special()},
			{native, pattern, tok.Special()},
			{hf, "", tok.Special()},
			{npm, "", tok.Special()},
			{npm, regex, tok.Special()},
			{rankFile, pattern, nil},
		} {
			got, err := Load(c.path, c.pattern)
			if err != nil {
				t.Fatalf("Load(%s, %q): %v", filepath.Base(c.path), c.pattern, err)
			}
			if !maps.Equal(got.Ranks(), tok.Ranks()) || !maps.Equal(got.Special(), c.special) {
				t.Errorf("Load(%s): ranks or specials differ", filepath.Base(c.path))
			}
			if got.Pattern() != canonicalPattern(pattern) {
				t.Errorf("Load(%s).Pattern() = %q, want %q", filepath.Base(c.path), got.Pattern(), canonicalPattern(pattern))
			}
		}
	}
}

// TestLoadRealNPM loads OpenAI's cl100k from the npm encoder and through
// every format, with the same fingerprint each time.
func TestLoadRealNPM(t *testing.T) {
	npmEncoder(t, "cl100k_base") // skips without the encoders
	tok, err := Load(filepath.Join(encodersDir(), "cl100k_base.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Pattern() != "cl100k" || len(tok.Ranks()) != 100256 || len(tok.Special()) != 5 {
		t.Fatalf("pattern %q, %d ranks, %d specials", tok.Pattern(), len(tok.Ranks()), len(tok.Special()))
	}
	want, err := tok.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	native, hf := filepath.Join(dir, "cl100k.pipe-bpe"), filepath.Join(dir, "tokenizer.json")
	if err := WriteFile(native, tok); err != nil {
		t.Fatal(err)
	}
	if err := WriteHFFile(hf, tok); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{native, hf} {
		got, err := Load(path, "cl100k_base")
		if err != nil {
			t.Fatal(err)
		}
		if fp, _ := got.Fingerprint(); fp != want {
			t.Errorf("%s: fingerprint %s, want %s", filepath.Base(path), fp, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tok := newToy(t, toyPattern)
	var native bytes.Buffer
	if err := Save(&native, tok); err != nil {
		t.Fatal(err)
	}
	nat := native.String()
	header, _, _ := strings.Cut(nat[len("pipe-bpe 1\n"):], "\n")
	rankLines := strings.SplitAfter(nat, "\n")[2:]
	dir := t.TempDir()
	for _, c := range []struct {
		name, content, pattern string
		want                   string // in the message, after the file name
	}{
		{"version", strings.Replace(nat, "pipe-bpe 1", "pipe-bpe 2", 1), "", `:1: pipe-bpe version "2" is not supported (this build reads version 1)`},
		{"no version", "pipe-bpe\n" + nat[len("pipe-bpe 1\n"):], "", `:1: pipe-bpe version ""`},
		{"not native", "pipe-bpeX 1\n", "", `:1: not a pipe-bpe file`},
		{"no header", "pipe-bpe 1\n", "", ":2: truncated: no header line"},
		{"cut header", nat[:len("pipe-bpe 1\n")+20], "", ":2: truncated: no header line"},
		{"bad header", "pipe-bpe 1\n{\"pattern\": 1}\n", "", ":2: header:"},
		{"header trailer", strings.Replace(nat, "}\n", "} x\n", 1), "", `:2: header: "x" after the JSON object`},
		{"unknown field", "pipe-bpe 1\n" + strings.Replace(header, "{", `{"merges":[],`, 1) + "\n" + strings.Join(rankLines, ""), "", ":2: header: json: unknown field"},
		{"truncated at line", strings.Join(strings.SplitAfter(nat, "\n")[:100], ""), "", ": truncated or altered: header says 270 ranks, file has 98"},
		{"truncated mid-line", nat[:len(nat)-len(" 269\n")], "", `:272: want "base64-token rank", got "IGlu"`},
		{"ranks edited", strings.Replace(nat, "\nYWI= 256\n", "\nYWI= 999\n", 1), "", ": ranks altered: sha256"},
		{"bad rank line", strings.Replace(nat, "\nYWI= 256\n", "\nY!I= 256\n", 1), "", ":259: bad base64"},
		{"pattern differs", nat, "cl100k", `: the file's pattern is "\\S+|\\s+", not the "cl100k" asked for`},
		{"tiktoken no pattern", "IQ== 0\n", "", ": a .tiktoken rank file holds no pattern"},
		{"tiktoken bad base64", strings.Join(rankLines[:5], "") + "@@@ 5\n", "gpt2", ":6: bad base64"},
		{"tiktoken missing byte", "IQ== 0\n", "gpt2", ": byte 0x00 is not a token"},
		{"empty", "", "gpt2", ": empty file"},
		{"json neither", `{"vocab": {}}`, "", `: JSON with neither "model"`},
		{"json broken", `{"model": `, "", ": JSON: unexpected end"},
		{"hf version", `{"version": "2.0", "model": {}}`, "", `: tokenizer.json: version "2.0" is not supported`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, c.pattern)
			if err == nil || !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), path+c.want) {
				t.Fatalf("err = %v\nwant %s%s", err, path, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "absent"), "gpt2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tok.pipe-bpe")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := newToy(t, toyPattern)
	if err := WriteFile(path, tok); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := Load(path, ""); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the old file and no temporary file.
	bad := mustTokenizer(t, tok.Ranks(), map[string]uint32{"<|\xff|>": 5000}, toyPattern)
	if err := WriteFile(path, bad); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}
	if _, err := Load(path, ""); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadNative feeds damaged native files to ReadNative: it may refuse
// them, but what it accepts must save and read back.
func FuzzReadNative(f *testing.F) {
	tok, err := NewTokenizer(toyRanks(toyMerges...), toySpecial, toyPattern)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(&buf, tok); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("pipe-bpe 1\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ReadNative(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Save(&out, got); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadNative(&out); err != nil {
			t.Fatalf("reading what Save wrote: %v", err)
		}
	})
}

// TestLoadRankFileLayouts loads the toy ranks written out of order, with
// blank lines, CRLF and leading zeros: the same tokenizer as the canonical
// file, and each Fingerprint is the sha256 of what Save writes (computed
// from the file's own text when it is canonical, else by writing it again).
func TestLoadRankFileLayouts(t *testing.T) {
	tok := newToy(t, toyPattern)
	var canon bytes.Buffer
	if err := WriteTiktoken(&canon, tok.Ranks()); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(canon.String(), "\n"), "\n")
	shuffled := slices.Clone(lines)
	slices.Reverse(shuffled)
	shuffled[0] += "\n" // the reversed last line had none
	shuffled[len(shuffled)-1] = strings.TrimSuffix(shuffled[len(shuffled)-1], "\n")
	dir := t.TempDir()
	want := ""
	for _, c := range []struct{ name, text string }{
		{"canonical", canon.String()},
		{"no final newline", strings.TrimSuffix(canon.String(), "\n")},
		{"reversed", strings.Join(shuffled, "")},
		{"blank lines", "\n" + strings.ReplaceAll(canon.String(), "\n", "\n\n")},
		{"crlf", strings.ReplaceAll(canon.String(), "\n", "\r\n")},
		{"leading zeros", strings.Replace(canon.String(), " 256\n", " 0256\n", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".tiktoken")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path, toyPattern)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.Ranks(), tok.Ranks()) {
				t.Fatal("ranks differ")
			}
			// "abc", " ", "th" "e", " ", "th" "ing"
			if ids := got.EncodeOrdinary([]byte("abc the thing")); !slices.Equal(ids, []uint32{258, 32, 261, 'e', 32, 261, 268}) {
				t.Errorf("ids %v", ids)
			}
			var saved bytes.Buffer
			if err := Save(&saved, got); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(saved.Bytes())
			fp, err := got.Fingerprint()
			if err != nil || fp != hex.EncodeToString(sum[:]) {
				t.Fatalf("Fingerprint = %s, %v; sha256 of Save %x", fp, err, sum)
			}
			if want == "" {
				want = fp
			} else if fp != want {
				t.Errorf("fingerprint %s, the canonical file's %s", fp, want)
			}
			// Loading the native file that Save wrote gives the same again.
			native := filepath.Join(dir, "native")
			if err := os.WriteFile(native, saved.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			again, err := Load(native, "")
			if err != nil {
				t.Fatal(err)
			}
			if fp2, _ := again.Fingerprint(); fp2 != fp {
				t.Errorf("native file: fingerprint %s, want %s", fp2, fp)
			}
		})
	}
}

// TestLoadRankFileDuplicates: a token given twice is found while the rank
// table is built, a rank given twice while sorting out-of-order lines, and
// either way the error names the first line, in file order, that repeats
// one, as a line-by-line check would.
func TestLoadRankFileDuplicates(t *testing.T) {
	var canon bytes.Buffer
	if err := WriteTiktoken(&canon, toyRanks("ab", "bc")); err != nil {
		t.Fatal(err)
	}
	text := canon.String() // lines 1..258: bytes 0..255, then ab, bc
	dir := t.TempDir()
	for _, c := range []struct{ name, text, want string }{
		{"token", text + "YWI= 300\n", `:259: token "ab" already has rank 256 (line 257)`},
		{"token out of order", "YmM= 300\n" + text, `:259: token "bc" already has rank 300 (line 1)`},
		{"rank out of order", "Y2Q= 257\n" + text, `:259: rank 257 already given on line 1`},
		{"token before a bad line", text + "YWI= 300\n@@ 5\n", `:259: token "ab" already has rank 256 (line 257)`},
		{"bad line before a token", text + "@@ 5\nYWI= 300\n", `:259: bad base64`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, "gpt2")
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), path+c.want) {
				t.Fatalf("err = %v\nwant %s%s", err, path, c.want)
			}
			if _, err := ReadTiktoken(strings.NewReader(c.text)); err == nil || !strings.Contains(err.Error(), c.want[1:]) {
				t.Errorf("ReadTiktoken: err = %v, want %s", err, c.want[1:])
			}
		})
	}
}

// TestTokenizerIDGaps: ordinary ids with gaps and special tokens between
// them decode, encode, save and load back the same.
func TestTokenizerIDGaps(t *testing.T) {
	ranks := map[string]uint32{}
	for c := 0; c < 256; c++ {
		ranks[string([]byte{byte(c)})] = uint32(2 * c) // even ids only
	}
	ranks["ab"] = 1001
	special := map[string]uint32{"<s>": 3, "</s>": 700}
	tok := mustTokenizer(t, ranks, special, toyPattern)
	if tok.VocabSize() != 1002 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	ids, err := tok.Encode([]byte("xab<s>"), AllSpecial())
	if err != nil || !slices.Equal(ids, []uint32{2 * 'x', 1001, 3}) {
		t.Fatalf("Encode = %v, %v", ids, err)
	}
	if b, err := tok.Decode([]uint32{1001, 700, 2 * 'z'}); err != nil || string(b) != "ab</s>z" {
		t.Errorf("Decode = %q, %v", b, err)
	}
	if _, err := tok.DecodeToken(5); !errors.Is(err, ErrUnknownID) {
		t.Errorf("DecodeToken(5): %v", err)
	}
	path := filepath.Join(t.TempDir(), "gaps.pipe-bpe")
	if err := WriteFile(path, tok); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Ranks(), ranks) || !maps.Equal(got.Special(), special) {
		t.Error("ranks or specials differ after a round trip")
	}
	fa, _ := tok.Fingerprint()
	if fb, _ := got.Fingerprint(); fa != fb {
		t.Errorf("fingerprints %s and %s", fa, fb)
	}
	for name, sp := range map[string]map[string]uint32{
		"special on an ordinary id": {"<s>": 4},
		"two specials, one id":      {"<s>": 3, "<t>": 3},
	} {
		if _, err := NewTokenizer(ranks, sp, toyPattern); err == nil || !strings.Contains(err.Error(), "already the id of") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
