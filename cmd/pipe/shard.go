package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/job"
	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/tokstream"
	"github.com/spf13/cobra"
)

func newShard() *cobra.Command {
	var (
		df                   docFlags
		ef                   encodeFlags
		out, tokFile         string
		pattern, compression string
		shardTokens          int64
		valTokens            int64
		valFraction          float64
		rank, worldSize      int
		stats                string
		force                bool
	)
	c := &cobra.Command{
		Use:   "shard --out DIR [--tokenizer FILE] [INPUT...]",
		Short: "Write token documents into Arrow shards and a manifest",
		Long: `shard reads the Arrow token stream that "pipe bpe encode" writes (stdin when no
input is given), or with --tokenizer JSONL documents that it encodes itself, and
writes --out DIR: train-00000.arrow, train-00001.arrow, …, val-00000.arrow and
manifest.json. Shards are Arrow IPC files, one row per document (id, tokens),
uncompressed by default so that the trainer maps them without a copy.

A document goes to val when the hash of its id says so (--val-fraction), or
when it is among the lowest hashes up to --val-tokens tokens: reruns and ranks
agree. With --rank and --world-size each rank shards its share of the sorted
inputs into its own files and manifest; "pipe shard merge-manifests DIR" joins
them. Files appear only when complete, and a rerun replaces what an earlier or
interrupted run left.

Each run is a batch job: statistics go to --stats (default
DIR/shard-stats-rRANK.json), a completion marker to DIR/shard-done-rRANK.json,
and the last line of stdout is a JSON summary; a rerun with the same inputs and
command line only prints the summary again (--force shards again).`,
		Example: `  pipe bpe encode --tokenizer tok.json docs.jsonl | pipe shard --out data/
  pipe shard --tokenizer tok.json --out data/ --val-tokens 10000000 'docs/*.jsonl.zst'
  pipe shard --out data/ --rank 3 --world-size 8 'tokens/*.arrows' && pipe shard merge-manifests data/`,
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" {
				return usagef("shard: --out DIR is required")
			}
			if c.Flags().Changed("val-tokens") {
				if c.Flags().Changed("val-fraction") {
					return usagef("shard: give --val-fraction or --val-tokens, not both")
				}
				valFraction = 0
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			if inputs, err = docio.Partition(inputs, rank, worldSize); err != nil {
				return usageError{err}
			}
			opt := shard.Options{ShardTokens: shardTokens, ValFraction: valFraction, ValTokens: valTokens,
				Compression: compression, Rank: rank, WorldSize: worldSize}
			if shardTokens <= 0 {
				return usagef("shard: --shard-tokens %d: want a positive count", shardTokens)
			}
			if err := opt.Validate(); err != nil {
				return usagef("shard: %v", err)
			}
			if tokFile == "" && len(inputs) == 0 {
				return usagef("shard: rank %d of %d has no input file (fewer files than ranks)", rank, worldSize)
			}
			if stats == "" {
				stats = filepath.Join(out, fmt.Sprintf("shard-stats-r%05d.json", rank))
			}
			j := &job.Job{Stage: "shard", Rank: rank, WorldSize: worldSize, Inputs: inputs, Args: os.Args[1:],
				Marker: filepath.Join(out, fmt.Sprintf("shard-done-r%05d.json", rank)), Stats: job.Expand(stats, rank), Force: force}
			if tokFile != "" {
				j.Reads = []string{tokFile}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if done, err := j.Begin(); done || err != nil {
				return err
			}
			start := time.Now()
			var (
				m  *shard.Manifest
				es encodeStats
			)
			if tokFile != "" {
				m, es, err = shardDocuments(out, opt, tokFile, pattern, inputs, &df, &ef)
			} else {
				m, err = shardStreams(out, opt, inputs)
			}
			if err != nil {
				return err
			}
			train, val := m.Totals(shard.Train), m.Totals(shard.Val)
			secs := time.Since(start).Seconds()
			slog.Info("sharded", "dir", out, "train_documents", train.Documents, "train_tokens", train.Tokens,
				"val_documents", val.Documents, "val_tokens", val.Tokens, "shards", len(m.Shards), "seconds", secs)
			manifest := shard.ManifestName
			if worldSize > 1 {
				manifest = fmt.Sprintf("manifest-r%05d.json", rank)
			}
			outputs := []string{filepath.Join(out, manifest)}
			for _, e := range m.Shards {
				outputs = append(outputs, filepath.Join(out, e.File))
			}
			st := map[string]any{"inputs": inputs, "train": totalsJSON(train), "val": totalsJSON(val), "shards": len(m.Shards), "seconds": secs}
			if tokFile != "" {
				st["tokenizer"], st["documents_read"], st["bytes_read"], st["skipped"] = tokFile, es.Documents, es.Bytes, es.Skipped
			}
			return j.Finish(outputs, st, map[string]any{"dir": out, "manifest": outputs[0], "shards": len(m.Shards),
				"train_documents": train.Documents, "train_tokens": train.Tokens, "val_documents": val.Documents, "val_tokens": val.Tokens})
		},
	}
	df.register(c)
	c.Flags().StringVar(&ef.allowSpecial, "allow-special", "none", "with --tokenizer: special tokens encoded as such when their text appears: all, none, or TOKEN,TOKEN")
	c.Flags().BoolVar(&ef.specialText, "special-as-text", false, "with --tokenizer: encode the text of special tokens as ordinary text")
	c.Flags().StringVar(&out, "out", "", "shard directory to write")
	c.Flags().StringVar(&tokFile, "tokenizer", "", "encode JSONL documents with this tokenizer (else the inputs are Arrow token streams)")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern for a .tiktoken file")
	c.Flags().Int64Var(&shardTokens, "shard-tokens", shard.DefaultShardTokens, "tokens per shard (documents are not split)")
	c.Flags().Float64Var(&valFraction, "val-fraction", 0.01, "fraction of documents, chosen by id hash, for the val split")
	c.Flags().Int64Var(&valTokens, "val-tokens", 0, "instead of --val-fraction: the documents of lowest id hash up to this many tokens")
	c.Flags().StringVar(&compression, "compression", shard.None, "Arrow buffer compression: none, zstd or lz4 (none lets the trainer map shards without a copy)")
	c.Flags().IntVar(&rank, "rank", 0, "this worker's rank")
	c.Flags().IntVar(&worldSize, "world-size", 1, "number of workers")
	c.Flags().StringVar(&stats, "stats", "", "statistics JSON (default DIR/shard-stats-rRANK.json)")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	c.AddCommand(newShardInfo(), newShardVerify(), newShardMerge(), newShardExport())
	return c
}

// totalsJSON is a split's totals with the manifest's lower-case keys.
func totalsJSON(t shard.SplitTotals) map[string]int64 {
	return map[string]int64{"shards": int64(t.Shards), "documents": t.Documents, "tokens": t.Tokens, "bytes": t.Bytes}
}

// shardStreams shards the token streams in inputs, which must all describe
// the same tokenizer.
func shardStreams(out string, opt shard.Options, inputs []string) (*shard.Manifest, error) {
	var (
		w     *shard.Writer
		first string
	)
	defer func() {
		if w != nil {
			w.Abort() // a no-op after Close
		}
	}()
	for _, path := range inputs {
		name := path
		if path == "-" {
			name = "stdin"
		}
		in, err := docio.Open(path)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(in)
		if head, _ := br.Peek(1); len(head) == 1 && head[0] == '{' {
			in.Close()
			return nil, fmt.Errorf("%s: JSON documents, not an Arrow token stream: give --tokenizer FILE to encode them", name)
		}
		r, err := tokstream.NewReader(br)
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if w == nil {
			if w, err = shard.Create(out, r.Meta(), opt); err != nil {
				in.Close()
				return nil, err
			}
			first = name
		} else if r.Meta() != w.Meta() {
			in.Close()
			return nil, fmt.Errorf("%s: tokens of tokenizer %+v, but %s's are of %+v", name, r.Meta(), first, w.Meta())
		}
		err = copyBatches(w, r)
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return w.Close()
}

// copyBatches writes every batch of r to w.
func copyBatches(w *shard.Writer, r *tokstream.Reader) error {
	for {
		b, err := r.NextBatch()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.WriteBatch(b); err != nil {
			return err
		}
	}
}

// shardDocuments encodes the JSONL documents of inputs with the tokenizer
// (as "pipe bpe encode" does, through an in-memory token stream) and shards
// them.
func shardDocuments(out string, opt shard.Options, tokFile, pattern string, inputs []string, df *docFlags, ef *encodeFlags) (*shard.Manifest, encodeStats, error) {
	var es encodeStats
	tok, err := bpe.Load(tokFile, pattern)
	if err != nil {
		return nil, es, err
	}
	pr, pw := io.Pipe()
	encErr := make(chan error, 1)
	go func() {
		var err error
		es, err = encodeDocs(pw, tok, inputs, df, ef)
		pw.CloseWithError(err)
		encErr <- err
	}()
	in := &pipeReader{r: pr}
	m, err := shardStream(out, opt, in)
	pr.CloseWithError(errors.New("sharding stopped"))
	e := <-encErr
	switch {
	case in.err != nil && e != nil:
		return nil, es, e // the encoder failed first: its error is the cause
	case err != nil:
		return nil, es, err
	}
	return m, es, e
}

// pipeReader remembers the error that the writing end closed the pipe with.
type pipeReader struct {
	r   io.Reader
	err error
}

func (p *pipeReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}

// shardStream shards one token stream.
func shardStream(out string, opt shard.Options, in io.Reader) (*shard.Manifest, error) {
	r, err := tokstream.NewReader(in)
	if err != nil {
		return nil, err
	}
	w, err := shard.Create(out, r.Meta(), opt)
	if err != nil {
		return nil, err
	}
	if err := copyBatches(w, r); err != nil {
		w.Abort()
		return nil, err
	}
	return w.Close()
}

func newShardInfo() *cobra.Command {
	var (
		tokFile, pattern string
		docs, tokens     int
	)
	c := &cobra.Command{
		Use:   "info DIR [--tokenizer FILE [--docs N] [--tokens N]]",
		Short: "Print a shard directory's manifest summary",
		Long: `info prints the documents, tokens and bytes of each split, the tokenizer, dtype
and compression. With --tokenizer (which must be the one the shards were made
with) it also decodes the first tokens of the first documents of each split.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ds, err := shard.Open(args[0])
			if err != nil {
				return err
			}
			var tok *bpe.Tokenizer
			if tokFile != "" {
				if tok, err = bpe.Load(tokFile, pattern); err != nil {
					return err
				}
				sum, err := tok.Fingerprint()
				if err != nil {
					return err
				}
				if sum != ds.Manifest.Tokenizer.SHA256 {
					return fmt.Errorf("tokenizer %s has sha256 %s, the shards were made by %s", tokFile, sum, ds.Manifest.Tokenizer.SHA256)
				}
			}
			return printInfo(os.Stdout, ds, tok, docs, tokens)
		},
	}
	c.Flags().StringVar(&tokFile, "tokenizer", "", "decode the start of a few documents with this tokenizer")
	c.Flags().StringVar(&pattern, "pattern", "", "pre-split pattern for a .tiktoken file")
	c.Flags().IntVar(&docs, "docs", 3, "documents to decode per split")
	c.Flags().IntVar(&tokens, "tokens", 32, "tokens to decode per document")
	return c
}

func printInfo(w io.Writer, ds *shard.Dataset, tok *bpe.Tokenizer, docs, tokens int) error {
	m := ds.Manifest
	eot := "none"
	if m.Tokenizer.EOT != nil {
		eot = fmt.Sprint(*m.Tokenizer.EOT)
	}
	val := "none"
	switch {
	case m.Val.Fraction > 0:
		val = fmt.Sprintf("fraction %g of documents by id hash", m.Val.Fraction)
	case m.Val.Tokens > 0:
		val = fmt.Sprintf("%d tokens of documents by id hash", m.Val.Tokens)
	}
	fmt.Fprintf(w, "%s: %s version %d\n", filepath.Join(ds.Dir, shard.ManifestName), m.Format, m.Version)
	fmt.Fprintf(w, "tokenizer    sha256 %s, vocab size %d, end-of-text id %s\n", m.Tokenizer.SHA256, m.Tokenizer.VocabSize, eot)
	fmt.Fprintf(w, "dtype        %s, compression %s, shards of %d tokens, val split: %s\n\n", m.DType, m.Compression, m.ShardTokens, val)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\tshards\tdocuments\ttokens\tbytes\t")
	for _, split := range []string{shard.Train, shard.Val} {
		t := m.Totals(split)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", split, t.Shards, t.Documents, t.Tokens, t.Bytes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if tok == nil || docs <= 0 {
		return nil
	}
	for _, split := range []string{shard.Train, shard.Val} {
		shards := m.Split(split)
		if len(shards) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s, the first documents of %s:\n", split, shards[0].File)
		if err := printDocs(w, ds.Path(shards[0]), tok, docs, tokens); err != nil {
			return err
		}
	}
	return nil
}

// printDocs decodes the first tokens of the first n documents of a shard.
func printDocs(w io.Writer, path string, tok *bpe.Tokenizer, n, tokens int) error {
	f, err := shard.OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var ids []uint32
	for i := 0; i < f.NumBatches() && n > 0; i++ {
		b, err := f.Batch(i)
		if err != nil {
			return err
		}
		for d := 0; d < b.Len() && n > 0; d, n = d+1, n-1 {
			lo, hi := b.Offsets[d], b.Offsets[d+1]
			ids = ids[:0]
			for k := lo; k < min(hi, lo+int64(tokens)); k++ {
				if b.U16 != nil {
					ids = append(ids, uint32(b.U16[k]))
				} else {
					ids = append(ids, b.U32[k])
				}
			}
			text, err := tok.Decode(ids)
			if err != nil {
				return fmt.Errorf("%s: document %q: %w", path, b.IDs[d], err)
			}
			more := ""
			if hi-lo > int64(tokens) {
				more = "…"
			}
			fmt.Fprintf(w, "  %s (%d tokens): %q%s\n", b.IDs[d], hi-lo, text, more)
		}
	}
	return nil
}

func newShardVerify() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every shard of a directory against its manifest",
		Long: `verify reads every shard listed in DIR/manifest.json and checks its size and
SHA-256, its schema metadata (tokenizer, dtype), every record batch (offsets,
tokens below the vocab size) and its documents and tokens. Each bad shard is
named with what disagrees; the exit status is 1 if any is bad.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ds, err := shard.Open(args[0])
			if err != nil {
				return err
			}
			if err := ds.Verify(); err != nil {
				return fmt.Errorf("verify %s:\n%w", args[0], err)
			}
			var bytes int64
			for _, s := range ds.Manifest.Shards {
				bytes += s.Bytes
			}
			fmt.Printf("ok: %d shards, %d bytes, checksums and contents agree with %s\n",
				len(ds.Manifest.Shards), bytes, filepath.Join(args[0], shard.ManifestName))
			return nil
		},
	}
}

func newShardMerge() *cobra.Command {
	return &cobra.Command{
		Use:   "merge-manifests DIR",
		Short: "Join the manifests that ranks wrote into manifest.json",
		Long: `merge-manifests reads DIR/manifest-r*.json, which "pipe shard --rank i
--world-size n" writes, checks that every rank is there once and that all agree
on the tokenizer and settings, and writes DIR/manifest.json listing the shards
of all ranks in rank order.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			m, err := shard.MergeManifests(args[0])
			if err != nil {
				return err
			}
			train, val := m.Totals(shard.Train), m.Totals(shard.Val)
			path := filepath.Join(args[0], shard.ManifestName)
			fmt.Printf("%s: %d train shards (%d tokens), %d val shards (%d tokens)\n",
				path, train.Shards, train.Tokens, val.Shards, val.Tokens)
			// The last line: a JSON summary for the orchestrator.
			return printSummary(map[string]any{"stage": "shard merge-manifests", "manifest": path,
				"shards": len(m.Shards), "train": totalsJSON(train), "val": totalsJSON(val), "tokenizer_sha256": m.Tokenizer.SHA256})
		},
	}
}

func newShardExport() *cobra.Command {
	var format, out, split string
	c := &cobra.Command{
		Use:   "export DIR --format stream --out OUTDIR [--split train|val]",
		Short: "Write shards as Arrow IPC streams (Hugging Face datasets, pipe shard)",
		Long: `export writes each shard as an Arrow IPC stream, OUTDIR/<shard>.arrows, with the
same rows in the same record batches: the token stream that "pipe bpe encode"
writes (so "pipe shard" reads it back), and the streaming format that Hugging
Face datasets loads with Dataset.from_file.`,
		Example: `  pipe shard export data/ --format stream --out hf/
  python -c 'import datasets; print(datasets.Dataset.from_file("hf/train-00000.arrows"))'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if format != "stream" {
				return usagef("shard export: --format %q: only stream is supported", format)
			}
			if out == "" {
				return usagef("shard export: --out OUTDIR is required")
			}
			if split != "" && split != shard.Train && split != shard.Val {
				return usagef("shard export: --split %q: want train or val", split)
			}
			ds, err := shard.Open(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, s := range ds.Manifest.Shards {
				if split != "" && s.Split != split {
					continue
				}
				dst := filepath.Join(out, strings.TrimSuffix(s.File, ".arrow")+".arrows")
				if err := exportShard(dst, ds.Path(s)); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "stream", "output format: stream (Arrow IPC streaming format)")
	c.Flags().StringVar(&out, "out", "", "directory to write")
	c.Flags().StringVar(&split, "split", "", "export only this split")
	return c
}

func exportShard(dst, src string) error {
	f, err := shard.OpenFile(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeAtomic(dst, func(w io.Writer) error { return shard.ExportStream(w, f) })
}
