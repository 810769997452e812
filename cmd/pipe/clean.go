package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/pipe-dev/pipe/clean"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/job"
	"github.com/spf13/cobra"
)

// defaultCleanSteps is FineWeb's recipe, in order. The URL filter ("url",
// before extract) runs when --steps names it, with block lists given by
// --set url.DomainsFile=FILE etc.: pipe ships none.
var defaultCleanSteps = []string{"extract", "lang", "gopher_repetition", "gopher_quality", "c4", "fineweb", "dedup", "pii"}

// cleanFlags are the flags of pipe clean.
type cleanFlags struct {
	out, stats, rejected string
	steps                string
	langs                string
	langThreshold        float64
	langModel            string
	dedup                string
	sigDir               string
	maxHTML              int
	set                  []string
	rank, worldSize      int
	threads              int
	force                bool
}

func newClean() *cobra.Command {
	var f cleanFlags
	c := &cobra.Command{
		Use:   "clean [flags] [INPUT...]",
		Short: "Extract, filter and deduplicate web pages into JSONL documents",
		Long: `clean reads WARC files (WARC 1.0/1.1, plain or gzipped, response and WET
conversion records) or JSONL documents (.jsonl, .gz, .zst), told apart by their
content, from the inputs or stdin, and writes the documents that pass every step
as JSONL to stdout or --out (.gz, .zst compress).

The steps, FineWeb's recipe in order (--steps names the ones that run):
  extract            main text of each HTML page (JSONL documents pass through)
  lang               language id (fastText lid.176): metadata lang, lang_score;
                     keeps --lang above --lang-threshold
  gopher_repetition  Gopher repetition rules
  gopher_quality     Gopher quality rules
  c4                 C4 rules (removes lines, may drop)
  fineweb            FineWeb's line rules
  dedup              exact (simplified-text hash) and MinHash near-duplicates
                     (5-word shingles, 14 bands x 8 hashes); the first of a group stays
  pii                e-mail and IP addresses replaced

Each filter records the values it compared with its limits in the document's
metadata, under its step's name (metadata.fineweb.line_punct_ratio, ...), in the
output and in the rejected copies alike.

Every dropped document is counted under its step and reason (--stats FILE), and
kept with its reason with --rejected DIR. Records that cannot be read (a broken
gzip member, a bad header) are counted under "read"; the stream goes on.

Filter settings are tuned with --set step.Field=value (the fields of the
filter's config, e.g. --set gopher_quality.MinDocWords=100).

Dedup across ranks runs in three steps: each rank runs clean with
--dedup-signatures DIR (it keeps duplicates and writes their keys), then
"clean dedup-buckets" finds the duplicates, then "clean dedup-remove" drops them
from each rank's output. The result equals one process over all the inputs.

With --out FILE ({rank} is replaced by the rank) clean is a batch job: the
statistics go to --stats (default FILE.stats.json), a completion marker to
FILE.done.json, and the last line of stdout is a JSON summary; a rerun with the
same inputs and command line only prints the summary again (--force cleans
again). To stdout, only the documents are written.`,
		Example: `  pipe crawl --seeds seeds.txt | pipe clean > docs.jsonl
  pipe clean --lang en,de --stats stats.json --rejected rejected/ --out docs.jsonl.zst crawl/*.warc.gz
  pipe clean --steps extract --out pages.jsonl crawl.warc.gz
  pipe clean --rank 0 --world-size 4 --dedup-signatures sig/ --out docs.rank-0.jsonl.zst 'crawl/*.warc.gz'`,
		RunE: func(c *cobra.Command, args []string) error { return runClean(&f, args) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.out, "out", "o", "-", "where the documents go (.gz, .zst compress); - is stdout")
	fl.StringVar(&f.steps, "steps", strings.Join(defaultCleanSteps, ","), "the steps that run, in this order")
	fl.StringVar(&f.langs, "lang", "en", `languages to keep (comma-separated fastText codes); "" keeps every language and only labels`)
	fl.Float64Var(&f.langThreshold, "lang-threshold", clean.DefaultLangThreshold, "a kept language needs a probability above this")
	fl.StringVar(&f.langModel, "lang-model", "", "a fastText model file instead of the embedded lid.176.ftz (e.g. lid.176.bin)")
	fl.StringVar(&f.dedup, "dedup", "exact,minhash", "what the dedup step compares: exact, minhash, or both")
	fl.StringVar(&f.sigDir, "dedup-signatures", "", "partitioned dedup: keep duplicates and write this rank's document keys into DIR")
	fl.IntVar(&f.maxHTML, "max-html-bytes", clean.DefaultMaxHTMLBytes, "pages longer than this are skipped as html_too_large")
	fl.StringArrayVar(&f.set, "set", nil, "tune a filter: step.Field=value (repeatable)")
	fl.StringVar(&f.stats, "stats", "", "write counts per step and reason as JSON to FILE")
	fl.StringVar(&f.rejected, "rejected", "", "write every dropped document, with its reason, into DIR (one JSONL file per step)")
	fl.IntVar(&f.rank, "rank", 0, "this worker's rank")
	fl.IntVar(&f.worldSize, "world-size", 1, "number of workers; each takes its share of the sorted inputs")
	fl.IntVar(&f.threads, "threads", runtime.NumCPU(), "worker threads")
	fl.BoolVar(&f.force, "force", false, job.ForceUsage)
	c.AddCommand(newCleanDedupBuckets(), newCleanDedupRemove())
	return c
}

// buildSteps turns --steps and the tuning flags into pipeline steps. The
// dedup step is given by dedupStep.
func buildSteps(f *cleanFlags, dedupStep func() (clean.Step, error)) ([]clean.Step, error) {
	names := splitList(f.steps)
	sets, err := parseSets(f.set, names)
	if err != nil {
		return nil, err
	}
	var steps []clean.Step
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			return nil, usagef("clean: step %q given twice", name)
		}
		seen[name] = true
		var st clean.Step
		switch name {
		case "url":
			// No default block lists ship with pipe: give them with
			// --set url.DomainsFile=FILE, url.BannedWords=a,b and so on.
			var cfg clean.URLFilterConfig
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			uf, err := clean.NewURLFilter(cfg)
			if err != nil {
				return nil, err
			}
			st = clean.FilterStep(uf)
		case "extract":
			x := &clean.Extractor{MaxBytes: f.maxHTML}
			if err := applySets(x, sets[name]); err != nil {
				return nil, err
			}
			st = clean.ExtractStep(x)
		case "lang":
			model, err := clean.DefaultLangID()
			if f.langModel != "" {
				model, err = clean.LoadLangModel(f.langModel)
			}
			if err != nil {
				return nil, err
			}
			st = clean.FilterStep(&clean.LangFilter{Model: model, Langs: splitList(f.langs), Threshold: f.langThreshold})
		case "gopher_repetition":
			cfg := clean.DefaultGopherRepetition()
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			st = clean.FilterStep(clean.NewGopherRepetition(cfg))
		case "gopher_quality":
			cfg := clean.DefaultGopherQuality()
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			st = clean.FilterStep(clean.NewGopherQuality(cfg))
		case "c4":
			cfg := clean.DefaultC4()
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			st = clean.FilterStep(clean.NewC4(cfg))
		case "fineweb":
			cfg := clean.DefaultFineWeb()
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			st = clean.FilterStep(clean.NewFineWeb(cfg))
		case "pii":
			cfg := clean.DefaultPII()
			if err := applySets(&cfg, sets[name]); err != nil {
				return nil, err
			}
			p := clean.NewPII(cfg)
			st = clean.TransformStep("pii", func(d *docio.Document) { p.Apply(d) })
			st.Ordered = true // its replacements take turns: in order, the output is the same every run
		case "dedup":
			if st, err = dedupStep(); err != nil {
				return nil, err
			}
		default:
			return nil, usagef("clean: unknown step %q (steps: %s)", name, strings.Join(defaultCleanSteps, ", "))
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSets groups --set step.Field=value by step.
func parseSets(sets, steps []string) (map[string][][2]string, error) {
	out := map[string][][2]string{}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		step, field, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 {
			return nil, usagef("clean: --set %q: want step.Field=value", s)
		}
		if !slices.Contains(steps, step) {
			return nil, usagef("clean: --set %q: step %q does not run", s, step)
		}
		out[step] = append(out[step], [2]string{field, value})
	}
	return out, nil
}

// applySets sets the named fields of the struct cfg points to.
func applySets(cfg any, sets [][2]string) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, s := range sets {
		fv := v.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, s[0]) })
		if !fv.IsValid() || !fv.CanSet() {
			var names []string
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					names = append(names, v.Type().Field(i).Name)
				}
			}
			return usagef("clean: --set: no field %q (fields: %s)", s[0], strings.Join(names, ", "))
		}
		var err error
		switch fv.Kind() {
		case reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(s[1])
			fv.SetBool(b)
		case reflect.Int, reflect.Int64, reflect.Int32:
			var n int64
			n, err = strconv.ParseInt(s[1], 10, 64)
			fv.SetInt(n)
		case reflect.Float64, reflect.Float32:
			var x float64
			x, err = strconv.ParseFloat(s[1], 64)
			fv.SetFloat(x)
		case reflect.String:
			fv.SetString(s[1])
		case reflect.Slice:
			if fv.Type().Elem().Kind() != reflect.String {
				return usagef("clean: --set %s: a field of type %s cannot be set from the command line", s[0], fv.Type())
			}
			fv.Set(reflect.ValueOf(splitList(s[1])))
		default:
			return usagef("clean: --set %s: a field of type %s cannot be set from the command line", s[0], fv.Type())
		}
		if err != nil {
			return usagef("clean: --set %s=%s: %v", s[0], s[1], err)
		}
	}
	return nil
}

// dedupKinds reads --dedup.
func dedupKinds(s string) (exact, minhash bool, err error) {
	for _, k := range splitList(s) {
		switch k {
		case "exact":
			exact = true
		case "minhash":
			minhash = true
		default:
			return false, false, usagef("clean: --dedup %q: want exact, minhash or both", s)
		}
	}
	if !exact && !minhash {
		return false, false, usagef("clean: --dedup is empty: leave dedup out of --steps instead")
	}
	return exact, minhash, nil
}

func sigPath(dir string, rank int) string {
	return filepath.Join(dir, fmt.Sprintf("signatures.rank-%05d.bin", rank))
}

func runClean(f *cleanFlags, args []string) error {
	inputs, err := docio.Inputs(args)
	if err != nil {
		return usageError{err}
	}
	if inputs, err = docio.Partition(inputs, f.rank, f.worldSize); err != nil {
		return usageError{err}
	}
	// With --out FILE this is a batch job: stats (default FILE.stats.json), a
	// completion marker, and a summary on the last line of stdout.
	f.out, f.stats = job.Expand(f.out, f.rank), job.Expand(f.stats, f.rank)
	j := fileJob("clean", f.rank, f.worldSize, inputs, f.out, f.stats, f.force)
	if j != nil {
		f.stats = j.Stats
		j.Reads = existingFiles(append([]string{f.langModel}, f.set...))
		if done, err := j.Begin(); done || err != nil {
			return err
		}
	}
	exact, minhash, err := dedupKinds(f.dedup)
	if err != nil {
		return err
	}
	var sig *clean.SignatureWriter
	var sigOut *docio.Output
	dd := clean.NewDedup(exact, minhash)
	steps, err := buildSteps(f, func() (clean.Step, error) {
		if f.sigDir == "" {
			return dd.Step(), nil
		}
		if err := os.MkdirAll(f.sigDir, 0o755); err != nil {
			return clean.Step{}, err
		}
		o, err := docio.Create(sigPath(f.sigDir, f.rank))
		if err != nil {
			return clean.Step{}, err
		}
		sigOut, sig = o, clean.NewSignatureWriter(o, dd, f.rank)
		return sig.Step(), nil
	})
	if err != nil {
		return err
	}
	if sigOut != nil {
		defer sigOut.Abort()
		// Positions in the signature file are those of the documents
		// written: no step after dedup may drop one.
		after := false
		for _, s := range steps {
			if after && s.Name != "pii" {
				return usagef("clean: with --dedup-signatures, dedup must be the last step but pii (found %s after it)", s.Name)
			}
			after = after || s.Name == "dedup"
		}
	} else if f.sigDir != "" {
		return usagef("clean: --dedup-signatures needs the dedup step in --steps")
	}

	p := &clean.Pipeline{Steps: steps, Workers: f.threads}
	var rej *clean.DirRejects
	if f.rejected != "" {
		rej = &clean.DirRejects{Dir: f.rejected}
		if f.worldSize > 1 {
			rej.Suffix = fmt.Sprintf("rank-%05d", f.rank)
		}
		defer rej.Abort()
		p.Rejected = rej
	}

	out, err := docio.Create(f.out)
	if err != nil {
		return err
	}
	defer out.Abort()
	cw := &countWriter{w: out}
	w := docio.NewWriter(cw)
	next := sources(inputs, f.maxHTML)
	defer next(true)
	st, err := p.Run(func() (*clean.Doc, error) { return next(false) }, func(d *clean.Doc) error { return w.Write(d.Document) })
	if err == nil {
		err = w.Flush()
	}
	if err == nil && sig != nil {
		if err = sig.Flush(); err == nil {
			err = sigOut.Close()
		}
	}
	if err == nil && rej != nil {
		err = rej.Close()
	}
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		return err
	}
	extra := map[string]any{"inputs": inputs, "rank": f.rank, "world_size": f.worldSize, "out": f.out, "bytes_written": cw.n}
	if f.stats != "" {
		b, err := clean.MarshalStats(st, extra)
		if err != nil {
			return err
		}
		if err := writeAtomic(f.stats, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
			return err
		}
	}
	slog.Info("cleaned", "read", st.Read.In, "written", st.Written, "rejected", st.Rejected, "seconds", fmt.Sprintf("%.1f", st.Seconds))
	if j != nil {
		outputs := []string{f.out}
		if sigOut != nil {
			outputs = append(outputs, sigOut.Name())
		}
		return j.Finish(outputs, nil, map[string]any{"out": f.out, "documents": st.Written, "bytes": cw.n,
			"read": st.Read.In, "skipped": st.Read.Dropped, "rejected": f.rejected})
	}
	return nil
}

func printSummary(m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", b)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// sources returns a function that reads the documents of the inputs in
// turn; next(true) closes the current input.
func sources(inputs []string, maxHTML int) func(closeOnly bool) (*clean.Doc, error) {
	i := 0
	var src *clean.Source
	var file io.Closer
	closeCur := func() {
		if src != nil {
			src.Close()
			src = nil
		}
		if file != nil {
			file.Close()
			file = nil
		}
	}
	return func(closeOnly bool) (*clean.Doc, error) {
		if closeOnly {
			closeCur()
			return nil, io.EOF
		}
		for {
			if src == nil {
				if i == len(inputs) {
					return nil, io.EOF
				}
				name := inputs[i]
				i++
				var r io.Reader = os.Stdin
				if name != "-" {
					fh, err := os.Open(name)
					if err != nil {
						return nil, err
					}
					r, file = fh, fh
				} else {
					name = "stdin"
				}
				s, err := clean.NewSource(r, name)
				if err != nil {
					closeCur()
					return nil, err
				}
				s.MaxHTMLBytes = maxHTML
				src = s
			}
			d, err := src.Next()
			if err == io.EOF {
				closeCur()
				continue
			}
			if err == nil && d.SkipStep == clean.StepRead && d.SkipErr != nil {
				slog.Warn("skipped", "reason", d.Skip, "err", d.SkipErr) // counted under read; this says where
			}
			return d, err
		}
	}
}

func newCleanDedupBuckets() *cobra.Command {
	var (
		sigDir, out     string
		rank, worldSize int
		force           bool
	)
	c := &cobra.Command{
		Use:   "dedup-buckets --dedup-signatures DIR [--rank j --world-size m] [--out FILE]",
		Short: "Find the duplicates among the signatures of every rank",
		Long: `dedup-buckets reads the signature files that "pipe clean --dedup-signatures DIR"
wrote (one per rank), and for each key slot (the content hash, the 14 MinHash
bands) lists every document whose key an earlier document (in the order of the
sorted inputs) has. With --rank and --world-size it takes its share of the
slots. The list goes to --out (default DIR/duplicates.rank-J.txt).`,
		RunE: func(c *cobra.Command, args []string) error {
			if sigDir == "" {
				return usagef("clean dedup-buckets: --dedup-signatures DIR is required")
			}
			files, err := filepath.Glob(filepath.Join(sigDir, "signatures.rank-*.bin"))
			if err != nil || len(files) == 0 {
				return fmt.Errorf("clean dedup-buckets: no signature files in %s", sigDir)
			}
			slices.Sort(files)
			if rank < 0 || worldSize < 1 || rank >= worldSize {
				return usagef("clean dedup-buckets: --rank %d of --world-size %d", rank, worldSize)
			}
			if out == "" {
				out = filepath.Join(sigDir, fmt.Sprintf("duplicates.rank-%05d.txt", rank))
			}
			j := fileJob("clean dedup-buckets", rank, worldSize, files, job.Expand(out, rank), "", force)
			if done, err := j.Begin(); done || err != nil {
				return err
			}
			out = job.Expand(out, rank)
			var slots []int
			n, err := sigSlots(files[0])
			if err != nil {
				return err
			}
			for s := range n {
				if s%worldSize == rank {
					slots = append(slots, s)
				}
			}
			dups, err := clean.FindDuplicates(files, slots)
			if err != nil {
				return err
			}
			if err := writeAtomic(out, func(w io.Writer) error { return clean.WriteDuplicates(w, dups) }); err != nil {
				return err
			}
			sum := map[string]any{"out": out, "duplicates": len(dups), "slots": slots, "signature_files": len(files)}
			return j.Finish([]string{out}, sum, sum)
		},
	}
	c.Flags().StringVar(&sigDir, "dedup-signatures", "", "the directory of the signature files")
	c.Flags().StringVar(&out, "out", "", "the duplicates file (default DIR/duplicates.rank-J.txt)")
	c.Flags().IntVar(&rank, "rank", 0, "this worker's rank (over the key slots)")
	c.Flags().IntVar(&worldSize, "world-size", 1, "number of workers")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	return c
}

// sigSlots reads the number of key slots from a signature file's header.
func sigSlots(path string) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	var magic string
	var rank, slots int
	if _, err := fmt.Fscanf(fh, "%s rank=%d slots=%d", &magic, &rank, &slots); err != nil || slots <= 0 {
		return 0, fmt.Errorf("%s: not a signature file", path)
	}
	return slots, nil
}

func newCleanDedupRemove() *cobra.Command {
	var (
		sigDir, out, stats, rejected string
		rank                         int
		force                        bool
	)
	c := &cobra.Command{
		Use:   "dedup-remove --dedup-signatures DIR --rank i [--out FILE] DOCS...",
		Short: "Drop the duplicates found by dedup-buckets from one rank's documents",
		Long: `dedup-remove reads the documents that "pipe clean --rank i --dedup-signatures DIR"
wrote, and drops those that the duplicates files in DIR list for rank i.`,
		RunE: func(c *cobra.Command, args []string) error {
			if sigDir == "" {
				return usagef("clean dedup-remove: --dedup-signatures DIR is required")
			}
			inputs, err := docio.Inputs(args)
			if err != nil {
				return usageError{err}
			}
			files, _ := filepath.Glob(filepath.Join(sigDir, "duplicates.rank-*.txt"))
			if len(files) == 0 {
				return fmt.Errorf("clean dedup-remove: no duplicates files in %s: run dedup-buckets first", sigDir)
			}
			n, err := sigSlots(sigPath(sigDir, rank))
			if err != nil {
				return err
			}
			// With --out FILE it is a batch job, as pipe clean is.
			out, stats = job.Expand(out, rank), job.Expand(stats, rank)
			sigs, _ := filepath.Glob(filepath.Join(sigDir, "signatures.rank-*.bin"))
			j := fileJob("clean dedup-remove", rank, max(len(sigs), rank+1), inputs, out, stats, force)
			if j != nil {
				stats, j.Reads = j.Stats, append(files, sigPath(sigDir, rank))
				if done, err := j.Begin(); done || err != nil {
					return err
				}
			}
			dups, err := clean.LoadDuplicates(files, rank)
			if err != nil {
				return err
			}
			dd := clean.NewDedup(n != 14, n != 1) // slot 0 is exact unless only MinHash bands were kept
			p := &clean.Pipeline{Steps: []clean.Step{dd.RemoveStep(dups)}, Workers: 1}
			var rej *clean.DirRejects
			if rejected != "" {
				rej = &clean.DirRejects{Dir: rejected, Suffix: fmt.Sprintf("rank-%05d", rank)}
				defer rej.Abort()
				p.Rejected = rej
			}
			o, err := docio.Create(out)
			if err != nil {
				return err
			}
			defer o.Abort()
			cw := &countWriter{w: o}
			w := docio.NewWriter(cw)
			next := sources(inputs, 0)
			defer next(true)
			st, err := p.Run(func() (*clean.Doc, error) { return next(false) }, func(d *clean.Doc) error { return w.Write(d.Document) })
			if err == nil {
				err = w.Flush()
			}
			if err == nil && rej != nil {
				err = rej.Close()
			}
			if err == nil {
				err = o.Close()
			}
			if err != nil {
				return err
			}
			if stats != "" {
				b, err := clean.MarshalStats(st, map[string]any{"inputs": inputs, "rank": rank, "out": out, "bytes_written": cw.n})
				if err != nil {
					return err
				}
				if err := writeAtomic(stats, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
					return err
				}
			}
			if j != nil {
				return j.Finish([]string{out}, nil, map[string]any{"out": out, "documents": st.Written, "bytes": cw.n, "removed": st.Steps[0].In - st.Steps[0].Kept})
			}
			return nil
		},
	}
	c.Flags().StringVar(&sigDir, "dedup-signatures", "", "the directory of the signature and duplicates files")
	c.Flags().StringVarP(&out, "out", "o", "-", "where the documents go")
	c.Flags().StringVar(&stats, "stats", "", "write counts as JSON to FILE")
	c.Flags().StringVar(&rejected, "rejected", "", "write the removed documents into DIR")
	c.Flags().IntVar(&rank, "rank", 0, "the rank whose documents these are")
	c.Flags().BoolVar(&force, "force", false, job.ForceUsage)
	return c
}
