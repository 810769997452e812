package main

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/bpe"
)

// TestEncodePipeline encodes enough documents for many batches, a long one
// among them, on 1 to 5 threads: always the same output, in input order. A
// document that fails, or a bad line, stops the run with the error of the
// first in input order, whichever batch an encoder finishes first.
func TestEncodePipeline(t *testing.T) {
	dir := t.TempDir()
	docs := cliDocs(6000, 21)
	docs[2500] = strings.Repeat("a long document of its own batch ", 40000) // > batchBytes
	tokFile := trainCLI(t, filepath.Join(dir, "tok.bpe"), 500, docs[:300])
	tok := load(t, tokFile, "")
	in := writeFile(t, filepath.Join(dir, "docs.jsonl"), docsJSONL(t, "doc", docs))
	want := wantIDLines(t, tok, docs, bpe.NoSpecial())
	var stream []byte
	for _, threads := range []string{"1", "2", "3", "5"} {
		got := mustRun(t, nil, "bpe", "encode", "--tokenizer", tokFile, "--ids", "--threads", threads, in)
		sameLines(t, "--threads "+threads, got, want, nil)
		s := mustRun(t, nil, "bpe", "encode", "--tokenizer", tokFile, "--threads", threads, in)
		if stream == nil {
			checkStream(t, s, tok, "doc", docs)
			stream = s
		} else if !bytes.Equal(s, stream) {
			t.Errorf("--threads %s: another token stream", threads)
		}
	}

	bad := func(edit func(lines []string)) string {
		lines := strings.Split(strings.TrimSuffix(string(docsJSONL(t, "doc", docs)), "\n"), "\n")
		edit(lines)
		return writeFile(t, filepath.Join(dir, "bad.jsonl"), []byte(strings.Join(lines, "\n")+"\n"))
	}
	special := func(i int) string { return `{"id":"doc-` + strconv.Itoa(i) + `","text":"x <|endoftext|> y"}` }
	for _, c := range []struct {
		name string
		edit func(lines []string)
		says string
		not  string
	}{
		{"two refused documents", func(l []string) { l[4100], l[5900] = special(4100), special(5900) }, `document "doc-4100"`, "doc-5900"},
		{"refused document, then a bad line", func(l []string) { l[1200], l[5000] = special(1200), "{" }, `document "doc-1200"`, ":5001:"},
		{"bad line, then a refused document", func(l []string) { l[1200], l[5000] = "{", special(5000) }, ":1201:", "doc-5000"},
	} {
		for _, threads := range []string{"1", "3"} {
			t.Run(c.name+"/"+threads, func(t *testing.T) {
				r := run(t, nil, "bpe", "encode", "--tokenizer", tokFile, "--ids", "--threads", threads, bad(c.edit))
				wantFail(t, r, 1, c.says)
				if strings.Contains(string(r.stderr), c.not) {
					t.Errorf("stderr names %s:\n%s", c.not, r.stderr)
				}
			})
		}
	}
}
