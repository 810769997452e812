package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/job"
	"github.com/spf13/cobra"
)

// defaultSpecials are the special tokens a trained tokenizer gets when no
// --special is given: the end-of-text token that shards put between documents.
var defaultSpecials = []string{"<|endoftext|>"}

// docFlags say how the inputs of a bpe command are read.
type docFlags struct {
	text    bool // each input file is one plain-text document
	skipBad bool // count and skip JSONL lines that are not documents
	threads int
	spool   string // a temporary copy of stdin, called "stdin" in ids and errors
}

func (f *docFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.text, "text", false, "treat each input as one plain-text document instead of JSONL")
	c.Flags().BoolVar(&f.skipBad, "skip-bad", false, "skip JSONL lines that are not documents (counted by reason) instead of failing")
	c.Flags().IntVar(&f.threads, "threads", runtime.NumCPU(), "worker threads")
}

// encodeFlags say how documents are encoded.
type encodeFlags struct {
	ids          bool
	allowSpecial string
	specialText  bool
}

func (f *encodeFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.ids, "ids", false, "write each document's ids as one line of decimal numbers instead of the Arrow token stream")
	c.Flags().StringVar(&f.allowSpecial, "allow-special", "none", "special tokens encoded as such when their text appears: all, none, or TOKEN,TOKEN (others are an error)")
	c.Flags().BoolVar(&f.specialText, "special-as-text", false, "encode the text of special tokens as ordinary text (tiktoken's disallowed_special=())")
}

func newBPE() *cobra.Command {
	var (
		df        docFlags
		ef        encodeFlags
		vocabSize int
		out       string
		tokFile   string
		pattern   string
		specials  []string
	)
	c := &cobra.Command{
		Use:   "bpe (--tokenizer FILE | --vocab-size N --out FILE) [INPUT...]",
		Short: "Train a byte-level BPE tokenizer and encode documents with it",
		Long: `bpe in a pipe: with --tokenizer it encodes the documents of its inputs (JSONL,
or plain text with --text; stdin when none) to stdout; with --vocab-size and
--out it first trains a tokenizer on them (spooling stdin to a temporary file),
writes it to --out, and then encodes.

Subcommands do one step each: count, train, encode, decode, export.`,
		Example: `  pipe clean < crawl.warc.gz | pipe bpe --vocab-size 32768 --out tok.json | pipe shard --out data/
  pipe bpe --tokenizer tok.json docs.jsonl.zst > tokens.arrows`,
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			// A misspelt pattern name would otherwise be taken as a regex
			// matching only itself.
			if f := c.Flags().Lookup("pattern"); f != nil {
				if err := bpe.CheckPattern(f.Value.String()); err != nil {
					return usageError{err}
				}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if (tokFile == "") == (vocabSize == 0) {
				return usagef("bpe: give either --tokenizer FILE (encode) or --vocab-size N --out FILE (train, then encode)")
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			if tokFile != "" {
				tok, err := bpe.Load(tokFile, pattern)
				if err != nil {
					return err
				}
				_, err = encodeDocs(os.Stdout, tok, inputs, &df, &ef)
				return err
			}
			if out == "" {
				return usagef("bpe: --vocab-size needs --out FILE for the tokenizer")
			}
			if len(inputs) == 1 && inputs[0] == "-" {
				spool, err := spoolStdin()
				if err != nil {
					return err
				}
				defer os.Remove(spool)
				inputs, df.spool = []string{spool}, spool
			}
			if pattern == "" {
				pattern = "o200k"
			}
			counts, _, err := countDocs(pattern, inputs, &df)
			if err != nil {
				return err
			}
			tok, err := trainAndSave(counts, vocabSize, specialsOrDefault(specials), out, "")
			if err != nil {
				return err
			}
			_, err = encodeDocs(os.Stdout, tok, inputs, &df, &ef)
			return err
		},
	}
	df.register(c)
	ef.register(c)
	c.Flags().IntVar(&vocabSize, "vocab-size", 0, "train a tokenizer of this many tokens first")
	c.Flags().StringVar(&out, "out", "", "where the trained tokenizer goes (format by extension: .json is Hugging Face tokenizer.json, .tiktoken a rank file, else pipe's native file)")
	c.Flags().StringVar(&tokFile, "tokenizer", "", "encode with this tokenizer (native, tokenizer.json, or .tiktoken with --pattern)")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern: gpt2, cl100k, o200k or a regex (training default o200k)")
	c.Flags().StringArrayVar(&specials, "special", nil, "special token to append when training (repeatable; default <|endoftext|>)")
	c.AddCommand(newBPECount(), newBPETrain(), newBPEEncode(), newBPEDecode(), newBPEExport())
	return c
}

func specialsOrDefault(s []string) []string {
	if len(s) == 0 {
		return defaultSpecials
	}
	return s
}

func newBPECount() *cobra.Command {
	var (
		df                  docFlags
		pattern, out, stats string
		rank, worldSize     int
		force               bool
	)
	c := &cobra.Command{
		Use:   "count --out FILE [--pattern P] [INPUT...]",
		Short: "Count pre-split pieces into a counts file that train can merge",
		Long: `count splits the documents with the pattern and writes how often each distinct
piece occurs. Counts of partitions merge exactly: train --counts a b c gives the
tokenizer that counting everything at once gives. With --rank and --world-size
it counts its share of the sorted input list ({rank} in --out and --stats is
replaced by the rank). It is a batch job: statistics go to --stats (default
OUT.stats.json), a completion marker to OUT.done.json, and the last line of
stdout is a JSON summary; a rerun with the same inputs and command line only
prints the summary again.`,
		Example: `  pipe bpe count --pattern cl100k --rank 0 --world-size 4 --out 'counts/{rank}.bin' 'crawl/*.jsonl.zst'`,
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || out == "-" {
				return usagef("bpe count: --out FILE is required")
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			if inputs, err = docio.Partition(inputs, rank, worldSize); err != nil {
				return usageError{err}
			}
			out, stats = job.Expand(out, rank), job.Expand(stats, rank)
			j := fileJob("bpe count", rank, worldSize, inputs, out, stats, force)
			if done, err := j.Begin(); done || err != nil {
				return err
			}
			counts, rs, err := countDocs(pattern, inputs, &df)
			if err != nil {
				return err
			}
			if err := writeAtomic(out, func(w io.Writer) error { return bpe.WriteCounts(w, counts) }); err != nil {
				return err
			}
			st := map[string]any{"inputs": inputs, "pattern": counts.Pattern, "documents": rs.Documents, "bytes": rs.Bytes,
				"skipped": rs.Skipped, "distinct_pieces": counts.Len(), "pieces": counts.Total(), "seconds": rs.Seconds}
			return j.Finish([]string{out}, st, map[string]any{"out": out, "documents": rs.Documents, "bytes": rs.Bytes,
				"skipped": rs.skippedTotal(), "distinct_pieces": counts.Len(), "pieces": counts.Total()})
		},
	}
	df.register(c)
	c.Flags().StringVar(&pattern, "pattern", "o200k", "pre-split pattern: gpt2, cl100k, o200k or a regex")
	c.Flags().StringVar(&out, "out", "", "counts file to write ({rank} is replaced by the rank)")
	c.Flags().StringVar(&stats, "stats", "", "statistics JSON (default OUT.stats.json)")
	c.Flags().IntVar(&rank, "rank", 0, "this worker's rank")
	c.Flags().IntVar(&worldSize, "world-size", 1, "number of workers")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	return c
}

func newBPETrain() *cobra.Command {
	var (
		df                   docFlags
		pattern, out, format string
		stats                string
		vocabSize            int
		specials, countFiles []string
		force                bool
	)
	c := &cobra.Command{
		Use:   "train --vocab-size N --out FILE [--pattern P] [--special TOKEN]... [--counts FILE...] [INPUT...]",
		Short: "Train a byte-level BPE vocabulary",
		Long: `train learns a vocabulary of --vocab-size tokens: the 256 bytes, then the most
frequent adjacent pair merged into a new token until the vocabulary is full,
then the special tokens. Ties go to the pair with the smallest ids, so the same
counts always give the same tokenizer. Inputs are JSONL documents (or plain text
with --text), or counts files from "pipe bpe count" with --counts.

It is a batch job: statistics go to --stats (default OUT.stats.json), a
completion marker to OUT.done.json, and the last line of stdout is a JSON
summary; a rerun with the same inputs and command line only prints the summary
again.`,
		Example: `  pipe bpe train --vocab-size 32768 --pattern cl100k --out tok.json docs.jsonl.zst
  pipe bpe train --vocab-size 32768 --out tok.json --counts counts-0.bin counts-1.bin`,
		RunE: func(c *cobra.Command, args []string) error {
			if vocabSize <= 0 || out == "" || out == "-" {
				return usagef("bpe train: --vocab-size N and --out FILE are required")
			}
			var inputs []string
			if c.Flags().Changed("counts") {
				// "--counts a b c": the arguments are counts files too.
				for _, arg := range append(countFiles, args...) {
					files, err := docio.Inputs([]string{arg}) // globs
					if err != nil {
						return usageError{err}
					}
					inputs = append(inputs, files...)
				}
			} else {
				var err error
				if inputs, err = docio.Inputs(args); err != nil {
					return usageError{err}
				}
			}
			j := fileJob("bpe train", 0, 1, inputs, out, stats, force)
			if done, err := j.Begin(); done || err != nil {
				return err
			}
			var (
				counts *bpe.Counts
				rs     docStats
				err    error
			)
			if c.Flags().Changed("counts") {
				counts, err = mergeCountFiles(inputs, pattern)
			} else {
				if pattern == "" {
					pattern = "o200k"
				}
				counts, rs, err = countDocs(pattern, inputs, &df)
			}
			if err != nil {
				return err
			}
			start := time.Now()
			tok, err := trainAndSave(counts, vocabSize, specialsOrDefault(specials), out, format)
			if err != nil {
				return err
			}
			st := map[string]any{"inputs": inputs, "pattern": counts.Pattern, "documents": counts.Documents, "skipped": rs.Skipped,
				"distinct_pieces": counts.Len(), "pieces": counts.Total(), "vocab_size": tok.VocabSize(), "asked": vocabSize,
				"train_seconds": time.Since(start).Seconds()}
			return j.Finish([]string{out}, st, map[string]any{"out": out, "vocab_size": tok.VocabSize(),
				"documents": counts.Documents, "pieces": counts.Total()})
		},
	}
	df.register(c)
	c.Flags().IntVar(&vocabSize, "vocab-size", 0, "tokens in the vocabulary, special tokens included")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern: gpt2, cl100k, o200k or a regex (default o200k; with --counts, the counts' pattern)")
	c.Flags().StringArrayVar(&specials, "special", nil, "special token appended after the merges (repeatable; default <|endoftext|>)")
	c.Flags().StringSliceVar(&countFiles, "counts", nil, "train on these counts files (from pipe bpe count) instead of documents; the arguments are counts files too")
	c.Flags().StringVar(&out, "out", "", "tokenizer file to write")
	c.Flags().StringVar(&format, "format", "", "native, hf or tiktoken (default: by the extension of --out)")
	c.Flags().StringVar(&stats, "stats", "", "statistics JSON (default OUT.stats.json)")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	return c
}

func newBPEEncode() *cobra.Command {
	var (
		df               docFlags
		ef               encodeFlags
		tokFile, pattern string
		out, stats       string
		rank, worldSize  int
		force            bool
	)
	c := &cobra.Command{
		Use:   "encode --tokenizer FILE [--pattern P] [--ids] [INPUT...]",
		Short: "Encode documents to token ids",
		Long: `encode writes the ids of each document: by default as the Arrow IPC token stream
that "pipe shard" reads (one row per document: id, tokens), with --ids as one
line of space-separated decimal ids per document. Document order is kept
whatever --threads is. --threads N encodes on N threads and uses N cores in
all: reading and writing overlap the encoding on the same cores. No documents
give no lines, or a token stream of no rows (still naming the tokenizer).

With --rank and --world-size it encodes its share of the sorted input list to
--out ({rank} is replaced by the rank) as a batch job: statistics go to --stats
(default OUT.stats.json), a completion marker to OUT.done.json, and the last
line of stdout is a JSON summary; a rerun with the same inputs, tokenizer and
command line only prints the summary again.`,
		Example: `  pipe bpe encode --tokenizer tok.json docs.jsonl > tokens.arrows
  echo 'hello world' | pipe bpe encode --tokenizer cl100k_base.tiktoken --pattern cl100k --text --ids
  pipe bpe encode --tokenizer tok.json --rank 2 --world-size 8 --out 'tokens/{rank}.arrows' 'docs/*.jsonl.zst'`,
		RunE: func(c *cobra.Command, args []string) error {
			if tokFile == "" {
				return usagef("bpe encode: --tokenizer FILE is required")
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			var j *job.Job
			if c.Flags().Changed("rank") || c.Flags().Changed("world-size") {
				if inputs, err = docio.Partition(inputs, rank, worldSize); err != nil {
					return usageError{err}
				}
				out, stats = job.Expand(out, rank), job.Expand(stats, rank)
				if j = fileJob("bpe encode", rank, worldSize, inputs, out, stats, force); j == nil {
					return usagef("bpe encode: --rank and --world-size need --out FILE")
				}
				j.Reads = []string{tokFile}
				if done, err := j.Begin(); done || err != nil {
					return err
				}
			}
			tok, err := bpe.Load(tokFile, pattern)
			if err != nil {
				return err
			}
			o, err := docio.Create(out)
			if err != nil {
				return err
			}
			defer o.Abort()
			es, err := encodeDocs(o, tok, inputs, &df, &ef)
			if err != nil {
				return err
			}
			if err := o.Close(); err != nil || j == nil {
				return err
			}
			st := map[string]any{"inputs": inputs, "tokenizer": tokFile, "documents": es.Documents, "bytes": es.Bytes,
				"tokens": es.Tokens, "skipped": es.Skipped, "seconds": es.Seconds}
			return j.Finish([]string{out}, st, map[string]any{"out": out, "documents": es.Documents, "bytes": es.Bytes,
				"tokens": es.Tokens, "skipped": es.skippedTotal()})
		},
	}
	df.register(c)
	ef.register(c)
	c.Flags().StringVar(&tokFile, "tokenizer", "", "tokenizer file (native, tokenizer.json, or .tiktoken with --pattern)")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern for a .tiktoken file, which holds none: gpt2, cl100k, o200k or a regex")
	c.Flags().StringVar(&out, "out", "-", "output file (- for stdout; {rank} is replaced by the rank)")
	c.Flags().StringVar(&stats, "stats", "", "with --rank: statistics JSON (default OUT.stats.json)")
	c.Flags().IntVar(&rank, "rank", 0, "this worker's rank: encode its share of the sorted inputs as a batch job")
	c.Flags().IntVar(&worldSize, "world-size", 1, "number of workers")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	return c
}

func newBPEDecode() *cobra.Command {
	var tokFile, pattern string
	c := &cobra.Command{
		Use:   "decode --tokenizer FILE [INPUT...]",
		Short: "Decode lines of ids back to text",
		Long: `decode reads lines of space-separated ids (what encode --ids writes) and writes
the bytes they stand for, documents separated by a newline, so that
"encode --text --ids | decode" gives back the input byte for byte.`,
		RunE: func(c *cobra.Command, args []string) error {
			if tokFile == "" {
				return usagef("bpe decode: --tokenizer FILE is required")
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			tok, err := bpe.Load(tokFile, pattern)
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(os.Stdout, 1<<20)
			if err := decodeLines(w, tok, inputs); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&tokFile, "tokenizer", "", "tokenizer file")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern for a .tiktoken file")
	return c
}

func newBPEExport() *cobra.Command {
	var tokFile, pattern, format, out string
	c := &cobra.Command{
		Use:   "export --tokenizer FILE --format hf|tiktoken|native --out PATH",
		Short: "Write a tokenizer in another format",
		Long: `export converts a tokenizer: hf writes a Hugging Face tokenizer.json that the
tokenizers and transformers libraries load and encode with the same ids;
tiktoken writes OpenAI's rank file (ranks only: no pattern, no special tokens);
native writes pipe's own file. A directory as --out gets tokenizer.json,
tokenizer.tiktoken or tokenizer.bpe inside it.`,
		Example: `  pipe bpe export --tokenizer tok.bpe --format hf --out hf-model/`,
		RunE: func(c *cobra.Command, args []string) error {
			if tokFile == "" || format == "" || out == "" {
				return usagef("bpe export: --tokenizer, --format and --out are required")
			}
			tok, err := bpe.Load(tokFile, pattern)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				out = filepath.Join(out, map[string]string{"hf": "tokenizer.json", "tiktoken": "tokenizer.tiktoken", "native": "tokenizer.bpe"}[format])
			}
			return saveTokenizer(out, format, tok)
		},
	}
	c.Flags().StringVar(&tokFile, "tokenizer", "", "tokenizer file")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern for a .tiktoken file")
	c.Flags().StringVar(&format, "format", "", "hf, tiktoken or native")
	c.Flags().StringVar(&out, "out", "", "output file or directory")
	return c
}

// docStats count what forEachDoc read.
type docStats struct {
	Documents int64            `json:"documents"`
	Bytes     int64            `json:"bytes"` // of text
	Skipped   map[string]int64 `json:"skipped"`
	Seconds   float64          `json:"seconds"`
}

func (r docStats) skippedTotal() int64 {
	var n int64
	for _, k := range r.Skipped {
		n += k
	}
	return n
}

// forEachDoc calls fn with the id and text of every document of the inputs,
// in order. In text mode each input is one document (empty ones are
// skipped); otherwise inputs are JSONL. Skipped inputs are counted by reason.
func forEachDoc(inputs []string, df *docFlags, fn func(id string, text []byte) error) (docStats, error) {
	start := time.Now()
	skipped := map[string]int64{}
	rs := docStats{Skipped: skipped}
	for _, path := range inputs {
		name := path
		if path == "-" || path == df.spool {
			name = "stdin"
		}
		r, err := docio.Open(path)
		if err != nil {
			return rs, err
		}
		if df.text {
			// Raw bytes: BPE is byte-level, so invalid UTF-8 is encoded, not refused.
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				return rs, fmt.Errorf("read %s: %w", name, err)
			}
			if len(b) == 0 {
				skipped["empty"]++
				continue
			}
			rs.Documents++
			rs.Bytes += int64(len(b))
			if err := fn(name, b); err != nil {
				return rs, err
			}
			continue
		}
		dr := docio.NewReader(r, name)
		dr.SkipBad = df.skipBad
		for {
			d, err := dr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return rs, err
			}
			rs.Documents++
			rs.Bytes += int64(len(d.Text))
			if err := fn(d.ID, []byte(d.Text)); err != nil {
				r.Close()
				return rs, fmt.Errorf("%s:%d: document %q: %w", name, dr.Line(), d.ID, err)
			}
		}
		r.Close()
		for reason, n := range dr.Skipped() {
			skipped[reason] += n
		}
	}
	for reason, n := range skipped {
		slog.Warn("skipped inputs", "reason", reason, "count", n)
	}
	rs.Seconds = time.Since(start).Seconds()
	return rs, nil
}

// countDocs counts the pre-split pieces of the inputs on df.threads workers.
func countDocs(pattern string, inputs []string, df *docFlags) (*bpe.Counts, docStats, error) {
	if df.threads < 1 {
		return nil, docStats{}, usagef("--threads %d: want at least 1", df.threads)
	}
	start := time.Now()
	ch := make(chan []byte, 4*df.threads)
	var (
		counts   *bpe.Counts
		countErr error
		done     = make(chan struct{})
	)
	go func() {
		counts, countErr = bpe.CountParallel(pattern, df.threads, ch)
		close(done)
	}()
	rs, err := forEachDoc(inputs, df, func(_ string, text []byte) error {
		ch <- text
		return nil
	})
	close(ch)
	<-done
	if err != nil {
		return nil, rs, err
	}
	if countErr != nil {
		return nil, rs, countErr
	}
	rs.Seconds = time.Since(start).Seconds()
	slog.Info("counted", "bytes", rs.Bytes, "pieces", counts.Len(), "total", counts.Total(), "seconds", rs.Seconds)
	return counts, rs, nil
}

func mergeCountFiles(files []string, pattern string) (*bpe.Counts, error) {
	var all *bpe.Counts
	for _, f := range files {
		r, err := docio.Open(f)
		if err != nil {
			return nil, err
		}
		c, err := bpe.ReadCounts(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if all == nil {
			all = c
		} else if err := all.Merge(c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	if all == nil {
		return nil, usagef("bpe train: --counts names no file")
	}
	if pattern != "" && pattern != all.Pattern {
		return nil, fmt.Errorf("counts were made with pattern %q, not %q", all.Pattern, pattern)
	}
	return all, nil
}

func trainAndSave(counts *bpe.Counts, vocabSize int, specials []string, out, format string) (*bpe.Tokenizer, error) {
	start := time.Now()
	tok, stats, err := bpe.Train(counts, vocabSize, specials, nil)
	if err != nil {
		return nil, err
	}
	if stats.Stopped != "" {
		slog.Warn("vocabulary smaller than asked", "vocab_size", tok.VocabSize(), "asked", vocabSize, "reason", stats.Stopped)
	}
	slog.Info("trained", "vocab_size", tok.VocabSize(), "merges", stats.Merges, "pieces", stats.Pieces, "seconds", time.Since(start).Seconds())
	return tok, saveTokenizer(out, format, tok)
}

// saveTokenizer writes tok atomically in format, or by the extension of path
// when format is empty.
func saveTokenizer(path, format string, tok *bpe.Tokenizer) error {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			format = "hf"
		case ".tiktoken":
			format = "tiktoken"
		default:
			format = "native"
		}
	}
	switch format {
	case "hf":
		return bpe.WriteHFFile(path, tok)
	case "native":
		return bpe.WriteFile(path, tok)
	case "tiktoken":
		if len(tok.Special()) > 0 {
			slog.Warn("a .tiktoken file holds no special tokens and no pattern", "file", path, "pattern", tok.Pattern())
		}
		return writeAtomic(path, func(w io.Writer) error { return bpe.WriteTiktoken(w, tok.Ranks()) })
	}
	return usagef("unknown tokenizer format %q (want native, hf or tiktoken)", format)
}

// fileJob is the batch job of a stage whose data goes to the file out ({rank}
// already expanded): its completion marker OUT.done.json and, unless stats
// names another file, its statistics OUT.stats.json. It is nil when out is
// stdout: a stage whose data is on stdout is no batch job.
func fileJob(stage string, rank, worldSize int, inputs []string, out, stats string, force bool) *job.Job {
	if out == "" || out == "-" {
		return nil
	}
	if stats == "" {
		stats = job.StatsFor(out)
	}
	return &job.Job{Stage: stage, Rank: rank, WorldSize: worldSize, Inputs: inputs, Args: os.Args[1:],
		Marker: job.MarkerFor(out), Stats: stats, Force: force}
}

// existingFiles returns those of values, or of the value parts of
// key=value, that name a file: what a job reads besides its inputs, for its
// fingerprint.
func existingFiles(values []string) []string {
	var out []string
	for _, v := range values {
		if _, after, ok := strings.Cut(v, "="); ok {
			v = after
		}
		if fi, err := os.Stat(v); v != "" && err == nil && fi.Mode().IsRegular() {
			out = append(out, v)
		}
	}
	return out
}

// writeAtomic writes path through a temporary file renamed into place when
// write succeeds.
func writeAtomic(path string, write func(io.Writer) error) error {
	o, err := docio.Create(path)
	if err != nil {
		return err
	}
	defer o.Abort()
	bw := bufio.NewWriterSize(o, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return o.Close()
}

// spoolStdin copies stdin to a temporary file so that it can be read twice
// (once to train, once to encode).
func spoolStdin() (string, error) {
	in, err := docio.Open("-")
	if err != nil {
		return "", err
	}
	defer in.Close()
	f, err := os.CreateTemp("", "pipe-bpe-spool-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("spool stdin: %w", err)
	}
	return f.Name(), f.Close()
}

// decodeLines writes the text of each line of ids, lines separated by "\n".
func decodeLines(w io.Writer, tok *bpe.Tokenizer, inputs []string) error {
	var (
		ids   []uint32
		buf   []byte
		first = true
	)
	for _, path := range inputs {
		r, err := docio.Open(path)
		if err != nil {
			return err
		}
		if path == "-" {
			path = "stdin"
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		for line := 1; sc.Scan(); line++ {
			ids = ids[:0]
			for _, f := range strings.Fields(sc.Text()) {
				id, err := strconv.ParseUint(f, 10, 32)
				if err != nil {
					r.Close()
					return fmt.Errorf("%s:%d: bad id %q", path, line, f)
				}
				ids = append(ids, uint32(id))
			}
			buf, err = tok.AppendDecode(buf[:0], ids)
			if err != nil {
				r.Close()
				return fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if !first {
				if _, err := io.WriteString(w, "\n"); err != nil {
					return err
				}
			}
			first = false
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		err = sc.Err()
		r.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	return nil
}
