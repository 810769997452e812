package main

// Tests of "pipe bpe" as a user runs it: every subcommand through the built
// binary, checked against the bpe package (the encoder a tokenizer file
// loads into), against each other (one thread and two, partitioned counts
// and counting at once, encode | decode), and on bad input for the exit code
// and a message that names the file and line.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/tokstream"
)

// cliWords are the pieces cliDocs builds documents from: Latin words,
// contractions, digits, punctuation, other scripts, emoji, runs of space.
var cliWords = []string{
	"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "The", "DOG",
	"token", "tokens", "tokenizer", "pipe", "stream", "it's", "we'll", "they've",
	"1", "42", "2024", "3.14159", "1,000", "!", "?", "...", "--", "()", "{}", "//",
	"日本語", "テキスト", "русский", "текст", "ελληνικά", "العربية", "한국어",
	"🤖", "✨", "👩‍👩‍👧", "e\u0301", "naïve", "café",
	" ", "  ", "\t", "\n", "\r\n", "\n\n",
}

// cliDocs returns n documents made of cliWords, the same ones for a seed.
func cliDocs(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 7))
	docs := make([]string, n)
	for i := range docs {
		var b strings.Builder
		for range 1 + rng.IntN(60) {
			b.WriteString(cliWords[rng.IntN(len(cliWords))])
			if rng.IntN(3) > 0 {
				b.WriteByte(' ')
			}
		}
		docs[i] = b.String()
	}
	return docs
}

// docsJSONL writes docs as JSON lines with ids PREFIX-0, PREFIX-1, ...
func docsJSONL(t *testing.T, prefix string, docs []string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, s := range docs {
		if err := enc.Encode(map[string]string{"id": fmt.Sprintf("%s-%d", prefix, i), "text": s}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t *testing.T, path, pattern string) *bpe.Tokenizer {
	t.Helper()
	tok, err := bpe.Load(path, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// trainCLI trains a tokenizer of vocab tokens on docs with pipe bpe train
// and returns its path. extra are more flags (--pattern, --special).
func trainCLI(t *testing.T, path string, vocab int, docs []string, extra ...string) string {
	t.Helper()
	args := append([]string{"bpe", "train", "--vocab-size", strconv.Itoa(vocab), "--out", path}, extra...)
	mustRun(t, docsJSONL(t, "train", docs), args...)
	return path
}

// wantFail checks that r exited with code and that stderr says each of want.
func wantFail(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(string(r.stderr), w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
		}
	}
}

// wantIDLines is what encode --ids writes for docs encoded by tok.
func wantIDLines(t *testing.T, tok *bpe.Tokenizer, docs []string, allowed bpe.SpecialSet) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		ids, err := tok.Encode([]byte(d), allowed)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatUint(uint64(id), 10))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// tokenDoc is one row of a token stream.
type tokenDoc struct {
	id     string
	tokens []uint32
}

// readTokens reads a whole token stream.
func readTokens(t *testing.T, data []byte) (tokstream.Meta, []tokenDoc) {
	t.Helper()
	r, err := tokstream.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read token stream: %v", err)
	}
	var docs []tokenDoc
	for {
		id, toks, err := r.Next()
		if err == io.EOF {
			return r.Meta(), docs
		}
		if err != nil {
			t.Fatalf("read token stream: %v", err)
		}
		docs = append(docs, tokenDoc{id, toks})
	}
}

// checkStream checks a token stream of docs (ids PREFIX-i) against tok.
func checkStream(t *testing.T, data []byte, tok *bpe.Tokenizer, prefix string, docs []string) {
	t.Helper()
	meta, got := readTokens(t, data)
	fp, err := tok.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	eot := tokstream.NoEOT
	if id, ok := tok.SpecialID("<|endoftext|>"); ok {
		eot = int(id)
	}
	if meta.TokenizerSHA256 != fp || meta.VocabSize != tok.VocabSize() || meta.EOT != eot {
		t.Errorf("stream metadata %+v, want tokenizer %s, vocab size %d, eot %d", meta, fp, tok.VocabSize(), eot)
	}
	if len(got) != len(docs) {
		t.Fatalf("%d documents in the stream, want %d", len(got), len(docs))
	}
	for i, d := range docs {
		want, err := tok.Encode([]byte(d), bpe.NoSpecial())
		if err != nil {
			t.Fatal(err)
		}
		if wantID := fmt.Sprintf("%s-%d", prefix, i); got[i].id != wantID || !slices.Equal(got[i].tokens, want) {
			t.Fatalf("row %d: id %q tokens %v, want %q %v", i, got[i].id, got[i].tokens, wantID, want)
		}
	}
}

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestBPECLISubcommands runs each subcommand's ordinary use once and checks
// what it wrote against the bpe package.
func TestBPECLISubcommands(t *testing.T) {
	dir := t.TempDir()
	docs := cliDocs(200, 1)
	docsFile := writeFile(t, filepath.Join(dir, "docs.jsonl"), docsJSONL(t, "doc", docs))
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 400, docs)
	tok := load(t, tokFile, "")
	textA := writeFile(t, filepath.Join(dir, "a.txt"), []byte(docs[0]))
	textB := writeFile(t, filepath.Join(dir, "b.txt"), []byte(docs[1]))

	cases := []struct {
		name  string
		stdin []byte
		args  []string
		check func(t *testing.T, stdout []byte)
	}{
		{"train", nil, []string{"train", "--vocab-size", "300", "--pattern", "cl100k", "--special", "<|a|>", "--special", "<|b|>", "--out", filepath.Join(dir, "t.bpe"), docsFile},
			func(t *testing.T, _ []byte) {
				got := load(t, filepath.Join(dir, "t.bpe"), "")
				a, okA := got.SpecialID("<|a|>")
				b, okB := got.SpecialID("<|b|>")
				if got.VocabSize() != 300 || got.Pattern() != "cl100k" || !okA || !okB || a != 298 || b != 299 {
					t.Errorf("vocab size %d, pattern %q, specials %v; want 300, cl100k, <|a|> 298, <|b|> 299",
						got.VocabSize(), got.Pattern(), got.Special())
				}
			}},
		{"train from stdin", docsJSONL(t, "doc", docs), []string{"train", "--vocab-size", "400", "--out", filepath.Join(dir, "stdin.bpe")},
			func(t *testing.T, _ []byte) {
				if !bytes.Equal(readFile(t, filepath.Join(dir, "stdin.bpe")), readFile(t, tokFile)) {
					t.Error("training on stdin gave another tokenizer than training on the same documents in a file")
				}
			}},
		{"train --text", nil, []string{"train", "--text", "--vocab-size", "270", "--out", filepath.Join(dir, "text.json"), textA, textB},
			func(t *testing.T, _ []byte) {
				if got := load(t, filepath.Join(dir, "text.json"), ""); got.VocabSize() > 270 || got.VocabSize() <= 257 {
					t.Errorf("vocab size %d, want 258 to 270", got.VocabSize())
				}
			}},
		{"count", nil, []string{"count", "--pattern", "gpt2", "--out", filepath.Join(dir, "c.counts"), docsFile},
			func(t *testing.T, _ []byte) {
				f, err := os.Open(filepath.Join(dir, "c.counts"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				c, err := bpe.ReadCounts(f)
				if err != nil {
					t.Fatal(err)
				}
				if c.Pattern != "gpt2" || c.Documents != int64(len(docs)) || c.Total() == 0 {
					t.Errorf("counts: pattern %q, %d documents, %d pieces; want gpt2, %d documents", c.Pattern, c.Documents, c.Total(), len(docs))
				}
			}},
		{"encode --ids", nil, []string{"encode", "--tokenizer", tokFile, "--ids", docsFile},
			func(t *testing.T, out []byte) {
				sameLines(t, "encode --ids", out, wantIDLines(t, tok, docs, bpe.NoSpecial()), nil)
			}},
		{"encode --ids stdin", docsJSONL(t, "doc", docs), []string{"encode", "--tokenizer", tokFile, "--ids"},
			func(t *testing.T, out []byte) {
				sameLines(t, "encode --ids", out, wantIDLines(t, tok, docs, bpe.NoSpecial()), nil)
			}},
		{"encode --text --ids", nil, []string{"encode", "--tokenizer", tokFile, "--text", "--ids", textB, textA},
			func(t *testing.T, out []byte) {
				// Inputs are taken in sorted order: a.txt, then b.txt.
				sameLines(t, "encode --text --ids", out, wantIDLines(t, tok, docs[:2], bpe.NoSpecial()), nil)
			}},
		{"encode arrow", nil, []string{"encode", "--tokenizer", tokFile, docsFile},
			func(t *testing.T, out []byte) { checkStream(t, out, tok, "doc", docs) }},
		{"encode --out", nil, []string{"encode", "--tokenizer", tokFile, "--out", filepath.Join(dir, "tokens.arrows"), docsFile},
			func(t *testing.T, out []byte) {
				if len(out) != 0 {
					t.Errorf("encode --out wrote %d bytes to stdout", len(out))
				}
				checkStream(t, readFile(t, filepath.Join(dir, "tokens.arrows")), tok, "doc", docs)
			}},
		{"decode", wantIDLines(t, tok, docs[:3], bpe.NoSpecial()), []string{"decode", "--tokenizer", tokFile},
			func(t *testing.T, out []byte) {
				if want := strings.Join(docs[:3], "\n"); string(out) != want {
					t.Errorf("decode wrote %q, want %q", out, want)
				}
			}},
		{"export", nil, []string{"export", "--tokenizer", tokFile, "--format", "hf", "--out", filepath.Join(dir, "tokenizer.json")},
			func(t *testing.T, _ []byte) {
				if got := load(t, filepath.Join(dir, "tokenizer.json"), ""); !sameTokenizer(t, got, tok) {
					t.Error("the exported tokenizer.json loads as another tokenizer")
				}
			}},
		{"pipe form, encode only", docsJSONL(t, "doc", docs), []string{"--tokenizer", tokFile},
			func(t *testing.T, out []byte) { checkStream(t, out, tok, "doc", docs) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, mustRun(t, c.stdin, append([]string{"bpe"}, c.args...)...))
		})
	}
}

func sameTokenizer(t *testing.T, a, b *bpe.Tokenizer) bool {
	t.Helper()
	fa, err := a.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return fa == fb
}

// TestBPECLIPipe trains and encodes in one pipe stage, from stdin: the
// stream must describe the tokenizer written to --out and hold what
// encoding with that file gives; the file appears whole or not at all, and
// the spooled copy of stdin is removed.
func TestBPECLIPipe(t *testing.T) {
	docs := cliDocs(150, 2)
	in := docsJSONL(t, "doc", docs)
	for _, out := range []string{"tok.bpe", "tok.json", "tok"} {
		t.Run(out, func(t *testing.T) {
			dir, tmp := t.TempDir(), t.TempDir()
			t.Setenv("TMPDIR", tmp) // where the spool goes
			path := filepath.Join(dir, out)
			stream := mustRun(t, in, "bpe", "--vocab-size", "350", "--out", path)
			tok := load(t, path, "")
			if tok.VocabSize() != 350 {
				t.Errorf("vocab size %d, want 350", tok.VocabSize())
			}
			checkStream(t, stream, tok, "doc", docs)
			if filepath.Ext(path) != ".json" {
				// A native file's sha256 is the fingerprint.
				sum := sha256.Sum256(readFile(t, path))
				if meta, _ := readTokens(t, stream); meta.TokenizerSHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("stream names tokenizer %s, the file's sha256 is %x", meta.TokenizerSHA256, sum)
				}
			}
			if again := mustRun(t, in, "bpe", "encode", "--tokenizer", path); !bytes.Equal(stream, again) {
				t.Error("train-and-encode wrote another stream than encode with the tokenizer it wrote")
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{out}) {
				t.Errorf("--out directory holds %q, want only %q", names, out)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("tokenizer file: %v, mode %v; want 0644", err, fi.Mode())
			}
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("temporary directory still holds %q", names)
			}
		})
	}

	t.Run("text", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tok.bpe")
		stream := mustRun(t, []byte(docs[0]), "bpe", "--text", "--vocab-size", "300", "--out", path)
		_, got := readTokens(t, stream)
		if len(got) != 1 || got[0].id != "stdin" {
			t.Fatalf("rows %+v, want one document with id stdin", got)
		}
	})

	// A failed run leaves the file that was there, and nothing else.
	for _, c := range []struct {
		name  string
		stdin []byte
		args  []string
		want  []string
	}{
		{"bad JSON", []byte("{\"text\":\"a\"}\nnot json\n"), []string{"--vocab-size", "300"}, []string{"stdin:2"}},
		{"vocab too small", in, []string{"--vocab-size", "100"}, []string{"vocab size too small"}},
		{"unknown pattern", in, []string{"--vocab-size", "300", "--pattern", "cl200k"}, []string{"cl200k"}},
	} {
		t.Run("fails/"+c.name, func(t *testing.T) {
			dir, tmp := t.TempDir(), t.TempDir()
			t.Setenv("TMPDIR", tmp)
			path := writeFile(t, filepath.Join(dir, "tok.bpe"), []byte("old"))
			r := run(t, c.stdin, append(append([]string{"bpe"}, c.args...), "--out", path)...)
			if r.code == 0 {
				t.Fatal("exit 0")
			}
			wantFail(t, r, r.code, c.want...)
			if got := readFile(t, path); string(got) != "old" {
				t.Errorf("a failed run replaced the tokenizer file with %d bytes", len(got))
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"tok.bpe"}) {
				t.Errorf("directory holds %q after a failed run", names)
			}
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("temporary directory still holds %q", names)
			}
		})
	}
}

// TestBPECLICountPartitions counts three partitions of the inputs apart and
// trains on the three counts files: the tokenizer must be byte-identical to
// training on all the inputs at once.
func TestBPECLICountPartitions(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for i := range 7 {
		in := docsJSONL(t, fmt.Sprint("f", i), cliDocs(30+i*7, uint64(10+i)))
		inputs = append(inputs, writeFile(t, filepath.Join(dir, fmt.Sprintf("in-%d.jsonl", i)), in))
	}
	want := trainAll(t, dir, inputs)

	var parts []string
	var total int64
	for rank := range 3 {
		part := filepath.Join(dir, fmt.Sprintf("counts-%d.bin", rank))
		mustRun(t, nil, append([]string{"bpe", "count", "--pattern", "cl100k", "--rank", strconv.Itoa(rank), "--world-size", "3", "--out", part}, inputs...)...)
		f, err := os.Open(part)
		if err != nil {
			t.Fatal(err)
		}
		c, err := bpe.ReadCounts(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += c.Documents
		parts = append(parts, part)
	}
	all := 0
	for i := range 7 {
		all += 30 + i*7
	}
	if total != int64(all) {
		t.Fatalf("the partitions counted %d documents, the inputs hold %d", total, all)
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"--counts a b c", append([]string{"--counts"}, parts...)},
		{"--counts a,b,c", []string{"--counts", strings.Join(parts, ",")}},
		{"--counts c --counts a --counts b", []string{"--counts", parts[2], "--counts", parts[0], "--counts", parts[1]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tok.bpe")
			mustRun(t, nil, append([]string{"bpe", "train", "--vocab-size", "500", "--out", out}, c.args...)...)
			if !bytes.Equal(readFile(t, out), want) {
				t.Fatal("training on the partitions' counts gave another tokenizer than training on everything")
			}
		})
	}

	t.Run("pattern mismatch", func(t *testing.T) {
		r := run(t, nil, "bpe", "train", "--vocab-size", "500", "--pattern", "o200k", "--out", filepath.Join(t.TempDir(), "t.bpe"), "--counts", parts[0])
		wantFail(t, r, 1, "cl100k", "o200k")
	})
}

// trainAll trains the reference tokenizer on all the inputs and returns the
// file; counting all at once first must give the same.
func trainAll(t *testing.T, dir string, inputs []string) []byte {
	t.Helper()
	ref := filepath.Join(dir, "all.bpe")
	mustRun(t, nil, append([]string{"bpe", "train", "--vocab-size", "500", "--pattern", "cl100k", "--out", ref}, inputs...)...)
	counts := filepath.Join(dir, "all.counts")
	mustRun(t, nil, append([]string{"bpe", "count", "--pattern", "cl100k", "--out", counts}, inputs...)...)
	viaCounts := filepath.Join(dir, "all-counts.bpe")
	mustRun(t, nil, "bpe", "train", "--vocab-size", "500", "--out", viaCounts, "--counts", counts)
	want := readFile(t, ref)
	if !bytes.Equal(readFile(t, viaCounts), want) {
		t.Fatal("train --counts of everything differs from training on the documents")
	}
	return want
}

// TestBPECLIThreads checks that the number of threads changes nothing in
// what count, train and encode write, over enough documents for several
// encoding batches.
func TestBPECLIThreads(t *testing.T) {
	dir := t.TempDir()
	docs := cliDocs(2500, 3)
	docs[100] = strings.Repeat("long document ", 5000)
	docs[1500] = ""
	in := writeFile(t, filepath.Join(dir, "docs.jsonl"), docsJSONL(t, "doc", docs))

	var toks [2][]byte
	for i, threads := range []string{"1", "2"} {
		p := filepath.Join(dir, "tok-"+threads+".bpe")
		mustRun(t, nil, "bpe", "train", "--threads", threads, "--vocab-size", "600", "--out", p, in)
		toks[i] = readFile(t, p)
	}
	if !bytes.Equal(toks[0], toks[1]) {
		t.Fatal("train --threads 1 and --threads 2 wrote different tokenizers")
	}
	tokFile := filepath.Join(dir, "tok-1.bpe")
	tok := load(t, tokFile, "")

	for _, mode := range [][]string{{"--ids"}, nil} {
		t.Run(fmt.Sprint("encode", mode), func(t *testing.T) {
			args := append([]string{"bpe", "encode", "--tokenizer", tokFile, in}, mode...)
			one := mustRun(t, nil, append(args, "--threads", "1")...)
			two := mustRun(t, nil, append(args, "--threads", "2")...)
			if !bytes.Equal(one, two) {
				t.Fatal("--threads 1 and --threads 2 wrote different output")
			}
			if mode == nil {
				checkStream(t, two, tok, "doc", docs)
			} else {
				sameLines(t, "--threads 2", two, wantIDLines(t, tok, docs, bpe.NoSpecial()), nil)
			}
		})
	}
}

// TestBPECLIRoundTrip checks that encode --text --ids | decode gives back
// any bytes: invalid UTF-8 is encoded byte by byte, never refused.
func TestBPECLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 500, cliDocs(200, 4))
	tiktoken := filepath.Join(dir, "tok.tiktoken")
	mustRun(t, nil, "bpe", "export", "--tokenizer", tokFile, "--format", "tiktoken", "--out", tiktoken)

	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	random := make([]byte, 5000)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name  string
		data  []byte
		flags []string
	}{
		{"invalid utf-8", []byte("caf\xc3 \xff\xfe\xfd ok \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 end\xc3"), nil},
		{"nul", []byte("a\x00b\x00\x00 c\x00"), nil},
		{"crlf", []byte("line one\r\nline two\r\n\r\n  indented\r\n"), nil},
		{"lone cr", []byte("a\rb\r\rc"), nil},
		{"only a newline", []byte("\n"), nil},
		{"trailing newlines", []byte("text\n\n\n"), nil},
		{"every byte", every, nil},
		{"random bytes", random, nil},
		{"unicode", []byte("日本語 👩‍👩‍👧‍👦 e\u0301 ١٢٣ \u00a0\u3000"), nil},
		{"special token text", []byte("a <|endoftext|> b"), []string{"--special-as-text"}},
		{"special token", []byte("a <|endoftext|> b"), []string{"--allow-special", "all"}},
	}
	tokenizers := []struct{ name, file, pattern string }{
		{"native", tokFile, ""},
		{"tiktoken", tiktoken, "o200k"},
	}
	if d := os.Getenv("PIPE_PEER_DIR"); d != "" {
		tokenizers = append(tokenizers, struct{ name, file, pattern string }{"cl100k_base", filepath.Join(d, "ranks", "cl100k_base.tiktoken"), ""})
	}
	for _, tk := range tokenizers {
		tokArgs := []string{"--tokenizer", tk.file}
		if tk.pattern != "" {
			tokArgs = append(tokArgs, "--pattern", tk.pattern)
		}
		for _, c := range cases {
			if c.flags != nil && tk.name == "tiktoken" {
				continue // an exported .tiktoken file has no special tokens
			}
			t.Run(tk.name+"/"+c.name, func(t *testing.T) {
				in := writeFile(t, filepath.Join(t.TempDir(), "doc"), c.data)
				args := append(append([]string{"bpe", "encode", "--text", "--ids"}, tokArgs...), c.flags...)
				ids := mustRun(t, nil, append(args, in)...)
				if fromStdin := mustRun(t, c.data, args...); !bytes.Equal(ids, fromStdin) {
					t.Error("the same bytes on stdin encode differently from a file")
				}
				if n := bytes.Count(ids, []byte("\n")); n != 1 {
					t.Fatalf("%d lines of ids for one document", n)
				}
				got := mustRun(t, ids, append([]string{"bpe", "decode"}, tokArgs...)...)
				if !bytes.Equal(got, c.data) {
					t.Fatalf("decode gave %q, want %q", clipBytes(got), clipBytes(c.data))
				}
			})
		}
	}

	t.Run("several files", func(t *testing.T) {
		tmp := t.TempDir()
		var files []string
		var want [][]byte
		for i, c := range cases[:8] {
			files = append(files, writeFile(t, filepath.Join(tmp, fmt.Sprintf("%02d", i)), c.data))
			want = append(want, c.data)
		}
		ids := mustRun(t, nil, append([]string{"bpe", "encode", "--text", "--ids", "--tokenizer", tokFile}, files...)...)
		got := mustRun(t, ids, "bpe", "decode", "--tokenizer", tokFile)
		if !bytes.Equal(got, bytes.Join(want, []byte("\n"))) {
			t.Fatal("decode of several documents is not the documents separated by newlines")
		}
	})
}

func clipBytes(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// TestBPECLIAllowSpecial checks which special tokens in ordinary text are
// refused, and that a refusal names the document and the token.
func TestBPECLIAllowSpecial(t *testing.T) {
	dir := t.TempDir()
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 400, cliDocs(100, 6), "--special", "<|endoftext|>", "--special", "<|pad|>")
	tok := load(t, tokFile, "")
	eot, _ := tok.SpecialID("<|endoftext|>")
	pad, _ := tok.SpecialID("<|pad|>")
	texts := []string{"plain text", "a <|pad|> b", "c<|endoftext|>d"}
	in := docsJSONL(t, "doc", texts)
	ordinary := func(s string) []uint32 { return tok.EncodeOrdinary([]byte(s)) }
	line := func(parts ...[]uint32) string {
		var s []string
		for _, p := range parts {
			for _, id := range p {
				s = append(s, strconv.FormatUint(uint64(id), 10))
			}
		}
		return strings.Join(s, " ")
	}
	encoded := line(ordinary("plain text")) + "\n" +
		line(ordinary("a "), []uint32{pad}, ordinary(" b")) + "\n" +
		line(ordinary("c"), []uint32{eot}, ordinary("d")) + "\n"
	asText := line(ordinary(texts[0])) + "\n" + line(ordinary(texts[1])) + "\n" + line(ordinary(texts[2])) + "\n"

	cases := []struct {
		name  string
		flags []string
		code  int
		want  string   // stdout when code is 0
		says  []string // in stderr otherwise
	}{
		{"default refuses", nil, 1, "", []string{`"doc-1"`, "<|pad|>", "--allow-special"}},
		{"none", []string{"--allow-special", "none"}, 1, "", []string{`"doc-1"`, "<|pad|>"}},
		{"all", []string{"--allow-special", "all"}, 0, encoded, nil},
		{"both listed", []string{"--allow-special", "<|pad|>,<|endoftext|>"}, 0, encoded, nil},
		{"one listed", []string{"--allow-special", "<|pad|>"}, 1, "", []string{`"doc-2"`, "<|endoftext|>"}},
		{"as text", []string{"--special-as-text"}, 0, asText, nil},
		{"unknown token", []string{"--allow-special", "<|pad|>,<|nope|>"}, 2, "", []string{"<|nope|>"}},
		{"empty set", []string{"--allow-special", ""}, 2, "", []string{"special token set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, in, append([]string{"bpe", "encode", "--tokenizer", tokFile, "--ids"}, c.flags...)...)
			wantFail(t, r, c.code, c.says...)
			if c.code == 0 && string(r.stdout) != c.want {
				t.Errorf("ids\n%s\nwant\n%s", r.stdout, c.want)
			}
		})
	}

	// An unknown token is refused before anything is read, empty input too.
	r := run(t, nil, "bpe", "encode", "--tokenizer", tokFile, "--ids", "--allow-special", "<|nope|>")
	wantFail(t, r, 2, "<|nope|>")
}

// TestBPECLIExport exports a tokenizer to each format, to a file and to a
// directory, and checks that each loads back and encodes alike.
func TestBPECLIExport(t *testing.T) {
	dir := t.TempDir()
	docs := cliDocs(150, 8)
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 450, docs)
	tok := load(t, tokFile, "")
	in := docsJSONL(t, "doc", docs)
	want := mustRun(t, in, "bpe", "encode", "--tokenizer", tokFile, "--ids")

	cases := []struct {
		format, out, file string // file: where it lands when out is a directory
		pattern           string // a .tiktoken file holds none
	}{
		{"hf", "x.json", "", ""},
		{"tiktoken", "x.tiktoken", "", "o200k"},
		{"native", "x.bpe", "", ""},
		{"hf", "dir/", "tokenizer.json", ""},
		{"tiktoken", "dir/", "tokenizer.tiktoken", "o200k"},
		{"native", "dir/", "tokenizer.bpe", ""},
	}
	for _, c := range cases {
		t.Run(c.format+" to "+c.out, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, c.out)
			path := out
			if c.file != "" {
				if err := os.Mkdir(out, 0o755); err != nil {
					t.Fatal(err)
				}
				path = filepath.Join(out, c.file)
			}
			mustRun(t, nil, "bpe", "export", "--tokenizer", tokFile, "--format", c.format, "--out", out)
			got := load(t, path, c.pattern)
			switch c.format {
			case "tiktoken":
				if !maps.Equal(got.Ranks(), tok.Ranks()) || len(got.Special()) != 0 {
					t.Error("the .tiktoken file does not hold the ranks alone")
				}
			case "native":
				if !bytes.Equal(readFile(t, path), readFile(t, tokFile)) {
					t.Error("exporting a native file to native changed it")
				}
			default:
				if !sameTokenizer(t, got, tok) {
					t.Error("the export loads as another tokenizer")
				}
			}
			args := []string{"bpe", "encode", "--tokenizer", path, "--ids"}
			if c.pattern != "" {
				args = append(args, "--pattern", c.pattern)
			}
			sameLines(t, "exported "+c.format, mustRun(t, in, args...), want, nil)

			// And back to native: the same file.
			back := filepath.Join(tmp, "back.bpe")
			mustRun(t, nil, "bpe", "export", "--tokenizer", path, "--pattern", "o200k", "--format", "native", "--out", back)
			if c.format != "tiktoken" && !bytes.Equal(readFile(t, back), readFile(t, tokFile)) {
				t.Error("exporting back to native does not give the original file")
			}
		})
	}

	t.Run("tiktoken without --pattern", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.tiktoken")
		mustRun(t, nil, "bpe", "export", "--tokenizer", tokFile, "--format", "tiktoken", "--out", path)
		r := run(t, in, "bpe", "encode", "--tokenizer", path, "--ids")
		wantFail(t, r, 1, path, "no pattern")
	})
}

// TestBPECLIBadInput checks the exit code, and the file and line named, for
// each kind of bad input and bad command line.
func TestBPECLIBadInput(t *testing.T) {
	dir := t.TempDir()
	docs := cliDocs(50, 9)
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 300, docs)
	good := writeFile(t, filepath.Join(dir, "good.jsonl"), docsJSONL(t, "doc", docs[:2]))
	nativeLines := strings.SplitAfter(string(readFile(t, tokFile)), "\n")

	v9 := writeFile(t, filepath.Join(dir, "v9.bpe"), []byte("pipe-bpe 9\n"+strings.Join(nativeLines[1:], "")))
	badNative := slices.Clone(nativeLines)
	badNative[4] = "@@@@ 2\n"
	badNativeFile := writeFile(t, filepath.Join(dir, "bad.bpe"), []byte(strings.Join(badNative, "")))
	ranks := nativeLines[2:]
	badRanks := slices.Clone(ranks)
	badRanks[2] = "not*base64 2\n"
	badTiktoken := writeFile(t, filepath.Join(dir, "bad.tiktoken"), []byte(strings.Join(badRanks, "")))
	noRank := slices.Clone(ranks)
	noRank[6] = "Bg==\n"
	noRankFile := writeFile(t, filepath.Join(dir, "norank.tiktoken"), []byte(strings.Join(noRank, "")))
	empty := writeFile(t, filepath.Join(dir, "empty.bpe"), nil)
	notJSON := writeFile(t, filepath.Join(dir, "bad.jsonl"), []byte(`{"id":"x","text":"fine"}`+"\n"+`{"text": oops}`+"\n"+`{"text":"after"}`+"\n"))
	missing := filepath.Join(dir, "missing.bpe")

	cases := []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		says  []string
	}{
		// Tokenizer files.
		{"missing tokenizer", nil, []string{"encode", "--tokenizer", missing, good}, 1, []string{missing, "no such file"}},
		{"missing tokenizer, decode", nil, []string{"decode", "--tokenizer", missing}, 1, []string{missing}},
		{"missing tokenizer, export", nil, []string{"export", "--tokenizer", missing, "--format", "hf", "--out", filepath.Join(dir, "x.json")}, 1, []string{missing}},
		{"empty tokenizer", nil, []string{"encode", "--tokenizer", empty, good}, 1, []string{empty, "empty"}},
		{"wrong version", nil, []string{"encode", "--tokenizer", v9, good}, 1, []string{v9 + ":1:", `version "9"`}},
		{"bad rank line in native file", nil, []string{"encode", "--tokenizer", badNativeFile, good}, 1, []string{badNativeFile + ":5:", "base64"}},
		{"bad base64 in rank file", nil, []string{"encode", "--tokenizer", badTiktoken, "--pattern", "o200k", good}, 1, []string{badTiktoken + ":3:", "base64", "not*base64"}},
		{"rank line without rank", nil, []string{"encode", "--tokenizer", noRankFile, "--pattern", "o200k", good}, 1, []string{noRankFile + ":7:"}},
		{"tiktoken without pattern", nil, []string{"encode", "--tokenizer", noRankFile, good}, 1, []string{noRankFile, "pattern"}},
		{"pattern not the file's", nil, []string{"encode", "--tokenizer", tokFile, "--pattern", "cl100k", good}, 1, []string{tokFile, "o200k", "cl100k"}},

		// Pattern names: a bare word that names no pattern is not taken as a regex.
		{"unknown pattern, encode", nil, []string{"encode", "--tokenizer", tokFile, "--pattern", "cl200k", good}, 2, []string{`"cl200k"`, "cl100k", "o200k", "gpt2"}},
		{"unknown pattern, train", nil, []string{"train", "--vocab-size", "300", "--pattern", "cl200k", "--out", filepath.Join(dir, "x.bpe"), good}, 2, []string{`"cl200k"`, "cl100k"}},
		{"unknown pattern, count", nil, []string{"count", "--pattern", "o200k-base", "--out", filepath.Join(dir, "x.counts"), good}, 2, []string{`"o200k-base"`, "o200k_base"}},
		{"unknown pattern, tiktoken", nil, []string{"decode", "--tokenizer", noRankFile, "--pattern", "gpt3"}, 2, []string{`"gpt3"`}},

		// Documents.
		{"JSONL line not JSON", nil, []string{"encode", "--tokenizer", tokFile, "--ids", notJSON}, 1, []string{notJSON + ":2:"}},
		{"JSONL on stdin not JSON", []byte("{\"text\":\"a\"}\n{\n"), []string{"encode", "--tokenizer", tokFile, "--ids"}, 1, []string{"stdin:2:"}},
		{"JSONL not JSON, train", nil, []string{"train", "--vocab-size", "300", "--out", filepath.Join(dir, "x.bpe"), notJSON}, 1, []string{notJSON + ":2:"}},
		{"JSONL not JSON, count", nil, []string{"count", "--out", filepath.Join(dir, "x.counts"), notJSON}, 1, []string{notJSON + ":2:"}},
		{"bad id to decode", []byte("1 2\n3 x 4\n"), []string{"decode", "--tokenizer", tokFile}, 1, []string{"stdin:2:", `"x"`}},
		{"unknown id to decode", []byte("1 2 70000\n"), []string{"decode", "--tokenizer", tokFile}, 1, []string{"stdin:1:", "70000"}},
		{"counts file that is not one", nil, []string{"train", "--vocab-size", "300", "--out", filepath.Join(dir, "x.bpe"), "--counts", good}, 1, []string{good}},

		// Command lines.
		{"bpe without flags", nil, nil, 2, []string{"--tokenizer", "--vocab-size"}},
		{"bpe with both", nil, []string{"--tokenizer", tokFile, "--vocab-size", "300", good}, 2, nil},
		{"bpe --vocab-size without --out", nil, []string{"--vocab-size", "300", good}, 2, []string{"--out"}},
		{"encode without --tokenizer", nil, []string{"encode", good}, 2, []string{"--tokenizer"}},
		{"decode without --tokenizer", nil, []string{"decode"}, 2, []string{"--tokenizer"}},
		{"train without --vocab-size", nil, []string{"train", "--out", filepath.Join(dir, "x.bpe"), good}, 2, []string{"--vocab-size"}},
		{"count without --out", nil, []string{"count", good}, 2, []string{"--out"}},
		{"count rank out of range", nil, []string{"count", "--rank", "3", "--world-size", "3", "--out", filepath.Join(dir, "x.counts"), good}, 2, []string{"rank 3"}},
		{"export without --format", nil, []string{"export", "--tokenizer", tokFile, "--out", filepath.Join(dir, "x.json")}, 2, []string{"--format"}},
		{"export to an unknown format", nil, []string{"export", "--tokenizer", tokFile, "--format", "xml", "--out", filepath.Join(dir, "x.xml")}, 2, []string{`"xml"`}},
		{"unknown flag", nil, []string{"encode", "--tokenizer", tokFile, "--bogus"}, 2, []string{"--bogus"}},
		{"bad flag value", nil, []string{"train", "--vocab-size", "many", "--out", filepath.Join(dir, "x.bpe")}, 2, []string{"many"}},
		{"--threads 0", nil, []string{"encode", "--tokenizer", tokFile, "--threads", "0", good}, 2, []string{"--threads"}},
		{"--threads -1, train", nil, []string{"train", "--vocab-size", "300", "--threads", "-1", "--out", filepath.Join(dir, "x.bpe"), good}, 2, []string{"--threads"}},
		{"missing input", nil, []string{"encode", "--tokenizer", tokFile, filepath.Join(dir, "nope.jsonl")}, 2, []string{"nope.jsonl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.stdin, append([]string{"bpe"}, c.args...)...)
			wantFail(t, r, c.code, append([]string{"pipe: "}, c.says...)...)
		})
	}
	for _, f := range []string{"x.bpe", "x.json", "x.counts", "x.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a failed command left %s behind", f)
		}
	}

	t.Run("--skip-bad", func(t *testing.T) {
		r := run(t, nil, "bpe", "encode", "--tokenizer", tokFile, "--ids", "--skip-bad", notJSON)
		wantFail(t, r, 0, "reason=invalid_json", "count=1")
		tok := load(t, tokFile, "")
		if want := wantIDLines(t, tok, []string{"fine", "after"}, bpe.NoSpecial()); !bytes.Equal(r.stdout, want) {
			t.Errorf("ids\n%s\nwant\n%s", r.stdout, want)
		}
	})
}

// TestBPECLIEmptyInput: empty input gives empty output and exit 0. With
// --ids that is no bytes at all; the Arrow token stream of no documents is
// a valid stream (schema with the tokenizer's metadata, then the end
// marker) with zero rows, so that "pipe shard" downstream sees which
// tokenizer made the nothing it got.
func TestBPECLIEmptyInput(t *testing.T) {
	dir := t.TempDir()
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 300, cliDocs(50, 10))
	tok := load(t, tokFile, "")
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"encode --ids", "", []string{"encode", "--ids"}},
		{"encode --ids, blank lines", "\n\n", []string{"encode", "--ids"}},
		{"encode --text --ids", "", []string{"encode", "--text", "--ids"}},
		{"decode", "", []string{"decode"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := mustRun(t, []byte(c.stdin), append(append([]string{"bpe"}, c.args...), "--tokenizer", tokFile)...)
			if len(out) != 0 {
				t.Errorf("wrote %q", out)
			}
		})
	}
	for _, args := range [][]string{{"encode"}, {"encode", "--text"}, {}} {
		t.Run(fmt.Sprint("arrow", args), func(t *testing.T) {
			out := mustRun(t, nil, append(append([]string{"bpe"}, args...), "--tokenizer", tokFile)...)
			checkStream(t, out, tok, "doc", nil)
		})
	}
	t.Run("train and encode", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tok.bpe")
		r := run(t, nil, "bpe", "--vocab-size", "300", "--out", path)
		// Nothing to merge: the bytes and <|endoftext|>, with a warning.
		wantFail(t, r, 0, "vocabulary smaller than asked")
		got := load(t, path, "")
		if got.VocabSize() != 257 {
			t.Errorf("vocab size %d, want 257", got.VocabSize())
		}
		checkStream(t, r.stdout, got, "doc", nil)
	})
}
