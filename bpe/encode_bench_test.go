package bpe

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// benchBytes is how much of the corpus the benchmarks encode.
const benchBytes = 4 << 20

// benchDocs returns the first benchBytes of the test corpus (JSONL with a
// "text" field: $PIPE_BENCH_DOCS, or corpus/docs.jsonl of scripts/peers.sh),
// or skips the benchmark when there is none.
func benchDocs(b *testing.B) [][]byte {
	b.Helper()
	var paths []string
	if p := os.Getenv("PIPE_BENCH_DOCS"); p != "" {
		paths = append(paths, p)
	}
	if d := os.Getenv("PIPE_PEER_DIR"); d != "" {
		paths = append(paths, filepath.Join(d, "corpus/docs.jsonl"))
	}
	paths = append(paths, "../.peers/corpus/docs.jsonl")
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		var docs [][]byte
		n := 0
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<30)
		for sc.Scan() && n < benchBytes {
			var doc struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				b.Fatalf("%s: %v", p, err)
			}
			docs = append(docs, []byte(doc.Text))
			n += len(doc.Text)
		}
		if err := sc.Err(); err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		return docs
	}
	b.Skip("no corpus (run scripts/peers.sh, or set PIPE_BENCH_DOCS to a JSONL file)")
	return nil
}

// BenchmarkEncode encodes the corpus document by document on one goroutine,
// as tiktoken's encode_ordinary does, with one Encoder and id slice per pass:
// a new Encoder each pass, so that its piece cache has not seen the text
// before (the text of a stream is not encoded twice).
func BenchmarkEncode(b *testing.B) {
	docs := benchDocs(b)
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		b.Run(name, func(b *testing.B) {
			tok := realTokenizer(b, name)
			var ids []uint32
			tokens := 0
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				e := tok.NewEncoder()
				tokens = 0
				for _, d := range docs {
					ids = e.AppendEncodeOrdinary(ids[:0], d)
					tokens += len(ids)
				}
			}
			b.ReportMetric(float64(n)/float64(tokens), "bytes/token")
		})
	}
}

// BenchmarkLoad is the start-up of encoding with one of OpenAI's rank files
// (.peers/ranks, from scripts/peers.sh): Load, then the Fingerprint that the
// token stream's header carries.
func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(os.Getenv("PIPE_PEER_DIR"), "ranks")
	if os.Getenv("PIPE_PEER_DIR") == "" {
		dir = "../.peers/ranks"
	}
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(dir, realFiles[name]+".tiktoken")
			if _, err := os.Stat(path); err != nil {
				b.Skip("no rank files (run scripts/peers.sh)")
			}
			b.ReportAllocs()
			for b.Loop() {
				tok, err := Load(path, name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tok.Fingerprint(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
