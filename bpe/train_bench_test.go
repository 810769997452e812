package bpe

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// trainBenchDocs returns the documents of the training benchmarks: the files
// under $PIPE_BENCH_TEXT (a file or a folder) when set, else Newton's Opticks
// from Go's own testdata (real English text, 0.5 MB), else generated text.
func trainBenchDocs(b testing.TB) [][]byte {
	if dir := os.Getenv("PIPE_BENCH_TEXT"); dir != "" {
		return trainReadDocs(b, dir)
	}
	opticks := filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt")
	if text, err := os.ReadFile(opticks); err == nil {
		// One document per chapter-sized chunk, so that counting has work to share.
		var docs [][]byte
		for len(text) > 0 {
			n := min(len(text), 32<<10)
			docs, text = append(docs, text[:n]), text[n:]
		}
		return docs
	}
	return trainZipfDocs(7, 1<<20)
}

// trainReadDocs reads a file, or every file under a folder in name order, one
// document each.
func trainReadDocs(t testing.TB, path string) [][]byte {
	var names []string
	err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	docs := make([][]byte, len(names))
	for i, name := range names {
		if docs[i], err = os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

func trainDocBytes(docs [][]byte) (n int64) {
	for _, d := range docs {
		n += int64(len(d))
	}
	return n
}

func trainCountDocs(t testing.TB, pattern string, docs [][]byte, workers int) *Counts {
	ch := make(chan []byte, workers)
	go func() {
		for _, d := range docs {
			ch <- d
		}
		close(ch)
	}()
	c, err := CountParallel(pattern, workers, ch)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func BenchmarkCount(b *testing.B) {
	docs := trainBenchDocs(b)
	b.SetBytes(trainDocBytes(docs))
	b.ReportAllocs()
	for b.Loop() {
		trainCountDocs(b, "cl100k", docs, runtime.GOMAXPROCS(0))
	}
}

// BenchmarkTrain trains vocabularies of 512 and 8192 tokens (fewer if the
// text runs out of pairs) from counts made once. BenchmarkTrainSimple runs the
// oracle at 512, to show what the incremental counts and the queue earn.
func BenchmarkTrain(b *testing.B) {
	for _, size := range []int{512, 8192} {
		b.Run(strconv.Itoa(size), func(b *testing.B) { benchTrain(b, size, trainFast) })
	}
}

func BenchmarkTrainSimple(b *testing.B) {
	b.Run("512", func(b *testing.B) { benchTrain(b, 512, trainSimple) })
}

func benchTrain(b *testing.B, size int, train func(*corpus, *vocab, int64) string) {
	counts := trainCountDocs(b, "cl100k", trainBenchDocs(b), runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	var merges int
	for b.Loop() {
		v := newVocab(size)
		c, _ := newCorpus(counts)
		train(c, v, 0)
		merges = len(v.tok) - 256
	}
	b.ReportMetric(float64(merges)*float64(b.N)/b.Elapsed().Seconds(), "merges/s")
}

// TestTrainFiles is the Go side of bench/train_vs_hf.py: it trains on the
// files under $PIPE_TRAIN_DIR and prints one JSON line of timings and the
// bytes per token of the held-out files under $PIPE_TRAIN_HELDOUT. Settings:
// PIPE_TRAIN_VOCAB (default 32768), PIPE_TRAIN_PATTERN (default cl100k),
// PIPE_TRAIN_SPECIALS (one special token, default <|endoftext|>), and
// PIPE_TRAIN_OUT, where the ranks are written as a .tiktoken file.
func TestTrainFiles(t *testing.T) {
	dir := os.Getenv("PIPE_TRAIN_DIR")
	if dir == "" {
		t.Skip("PIPE_TRAIN_DIR not set")
	}
	vocabSize := 32768
	if s := os.Getenv("PIPE_TRAIN_VOCAB"); s != "" {
		var err error
		if vocabSize, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	pattern := cmp.Or(os.Getenv("PIPE_TRAIN_PATTERN"), "cl100k")
	special := cmp.Or(os.Getenv("PIPE_TRAIN_SPECIALS"), "<|endoftext|>")

	docs := trainReadDocs(t, dir)
	cpu0 := trainCPUSeconds()
	start := time.Now()
	counts := trainCountDocs(t, pattern, docs, runtime.GOMAXPROCS(0))
	counted := time.Now()
	tok, stats, err := Train(counts, vocabSize, []string{special}, nil)
	if err != nil {
		t.Fatal(err)
	}
	trained := time.Now()
	cpu := trainCPUSeconds() - cpu0

	res := map[string]any{
		"pattern": pattern, "vocab": len(tok.Ranks()) + len(tok.Special()),
		"train_bytes": trainDocBytes(docs), "documents": len(docs),
		"pieces": counts.Len(), "merges": stats.Merges, "duplicates": stats.Duplicates, "stopped": stats.Stopped,
		"count_s": counted.Sub(start).Seconds(), "train_s": trained.Sub(counted).Seconds(),
		"total_s": trained.Sub(start).Seconds(), "cpu_s": cpu,
	}
	if held := os.Getenv("PIPE_TRAIN_HELDOUT"); held != "" {
		var bytes, tokens int64
		for _, d := range trainReadDocs(t, held) {
			bytes += int64(len(d))
			tokens += int64(len(tok.EncodeOrdinary(d)))
		}
		res["heldout_bytes"], res["heldout_tokens"] = bytes, tokens
		res["bytes_per_token"] = float64(bytes) / float64(tokens)
	}
	if out := os.Getenv("PIPE_TRAIN_OUT"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteTiktoken(f, tok.Ranks()); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	line, _ := json.Marshal(res)
	fmt.Printf("PIPE_TRAIN_RESULT %s\n", line)
}

// trainCPUSeconds is the CPU time (user and system) of this process so far,
// all threads: on a shared machine it varies less than wall time.
func trainCPUSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
