package clean

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipe-dev/pipe/docio"
)

// The pipeline runs documents through a list of steps, in order; a step
// keeps a document or drops it with a reason (Filter's contract). The
// bookkeeping is the pipeline's, shared by every step (datatrove's rule):
// it counts the documents each step sees, keeps and drops by reason, adds
// up the time each step spends, and can hand every dropped document to a
// RejectWriter.
//
// Documents are processed in parallel and come out in input order. Steps
// are stateless (a Filter, extraction, PII) or Ordered (dedup, which must
// see documents one at a time in input order to give the same result
// every run); consecutive stateless steps run as one parallel stage, an
// Ordered step between two stages runs on the stream in order:
//
//	source -> [extract, lang, gopher, ...] x workers -> reorder -> [dedup] -> [pii] x workers -> reorder -> out
//
// Memory is bounded: each parallel stage holds at most a few documents per
// worker.

// Step names that the pipeline itself counts under.
const (
	StepRead    = "read"    // a record or line that is not a document
	StepExtract = "extract" // a page refused before or by extraction
)

// ReasonNotExtracted is a page from a WARC response record when no extract
// step runs: it has no text, so it is counted under read.
const ReasonNotExtracted = "not_extracted"

// Step is one step of the pipeline.
type Step struct {
	// Name is the step's name in --steps, the stats and the rejected files.
	Name string
	// Apply keeps d, or drops it with a reason. It may change d (its text,
	// its metadata). A stateless step's Apply is called from many
	// goroutines at once.
	Apply func(d *Doc) (keep bool, reason string)
	// Ordered steps see the documents one at a time, in input order.
	Ordered bool
	// Prepare, when set on an Ordered step, is called on each document
	// before it, in parallel (the expensive part of dedup: hashing).
	Prepare func(d *Doc)
}

// FilterStep makes a Filter a step.
func FilterStep(f Filter) Step {
	return Step{Name: f.Name(), Apply: func(d *Doc) (bool, string) { return f.Filter(&d.Document) }}
}

// TransformStep makes a function that changes documents and never drops
// one (PII scrubbing) a step.
func TransformStep(name string, apply func(doc *docio.Document)) Step {
	return Step{Name: name, Apply: func(d *Doc) (bool, string) { apply(&d.Document); return true, "" }}
}

// ExtractStep turns the HTML of a page into its main text. A document that
// came as text passes through unchanged.
func ExtractStep(x *Extractor) Step {
	return Step{Name: StepExtract, Apply: func(d *Doc) (bool, string) {
		if d.HTML == nil {
			return true, ""
		}
		res, err := x.Extract(d.HTML, d.ContentType)
		d.HTML = nil
		if err != nil {
			if reason := ExtractReason(err); reason != "" {
				return false, reason
			}
			return false, ReasonBadPayload
		}
		d.Text = res.Text
		return true, ""
	}}
}

// StepStats is what one step did.
type StepStats struct {
	Name    string           `json:"name"`
	In      int64            `json:"in"`
	Kept    int64            `json:"kept"`
	Dropped map[string]int64 `json:"dropped"`
	Seconds float64          `json:"seconds"`
}

// Stats is what a pipeline run did: the documents read (and the records
// and lines skipped as unreadable, by reason), what each step kept and
// dropped, and what was written.
type Stats struct {
	Read     StepStats    `json:"read"`
	Steps    []*StepStats `json:"steps"`
	Written  int64        `json:"written"`
	Rejected int64        `json:"rejected"`
	Seconds  float64      `json:"seconds"`
}

// RejectWriter receives each dropped document with the step and reason.
type RejectWriter interface {
	Reject(step, reason string, d *Doc) error
}

// Pipeline is a list of steps and how to run them.
type Pipeline struct {
	Steps []Step
	// Workers is the number of goroutines of each parallel stage; 0 means
	// GOMAXPROCS.
	Workers int
	// Rejected, when set, receives every document a step drops.
	Rejected RejectWriter
}

// work is a document in flight, with what happened to it.
type work struct {
	doc    *Doc
	dropAt int    // index of the step that dropped it; -1 while kept
	reason string // why
}

// Run reads documents with next until io.EOF, runs them through the steps
// and passes each one kept to emit, in input order. It stops at the first
// error of next, emit or the RejectWriter and returns it; the stats count
// what was done until then.
func (p *Pipeline) Run(next func() (*Doc, error), emit func(*Doc) error) (*Stats, error) {
	start := time.Now()
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	hasExtract := false
	stats := &Stats{Read: StepStats{Name: StepRead, Dropped: map[string]int64{}}}
	nanos := make([]atomic.Int64, len(p.Steps))
	for _, s := range p.Steps {
		stats.Steps = append(stats.Steps, &StepStats{Name: s.Name, Dropped: map[string]int64{}})
		hasExtract = hasExtract || s.Name == StepExtract
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srcErr error
	src := make(chan *work, workers)
	go func() {
		defer close(src)
		for {
			d, err := next()
			if err != nil {
				if err != io.EOF {
					srcErr = err
				}
				return
			}
			w := &work{doc: d, dropAt: -1}
			if d.Skip == "" && d.HTML != nil && !hasExtract {
				d.Skip, d.SkipStep = ReasonNotExtracted, StepRead
			}
			select {
			case src <- w:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Chain the stages: runs of stateless steps in parallel, ordered
	// steps in sequence.
	stream := (<-chan *work)(src)
	for i := 0; i < len(p.Steps); {
		j := i
		for j < len(p.Steps) && !p.Steps[j].Ordered {
			j++
		}
		if j > i || (j < len(p.Steps) && p.Steps[j].Prepare != nil) {
			var prep func(*Doc)
			if j < len(p.Steps) {
				prep = p.Steps[j].Prepare
			}
			lo, hi := i, j
			stream = orderedMap(stream, workers, func(w *work) { p.apply(w, lo, hi, nanos, prep) })
		}
		if j < len(p.Steps) {
			k := j
			stream = serialMap(stream, func(w *work) { p.apply(w, k, k+1, nanos, nil) })
		}
		i = j + 1
	}

	var err error
	for w := range stream {
		if err != nil {
			continue // drain after an error
		}
		if err = p.count(stats, w); err != nil {
			cancel()
			continue
		}
		if w.dropAt < 0 && w.doc.Skip == "" {
			if err = emit(w.doc); err != nil {
				cancel()
				continue
			}
			stats.Written++
		}
	}
	for i := range p.Steps {
		stats.Steps[i].Seconds = time.Duration(nanos[i].Load()).Seconds()
	}
	stats.Seconds = time.Since(start).Seconds()
	if err == nil {
		err = srcErr
	}
	return stats, err
}

// apply runs steps [lo, hi) on w, then prep when w is still kept.
func (p *Pipeline) apply(w *work, lo, hi int, nanos []atomic.Int64, prep func(*Doc)) {
	if w.dropAt >= 0 || w.doc.Skip != "" {
		return
	}
	for i := lo; i < hi; i++ {
		t := time.Now()
		keep, reason := p.Steps[i].Apply(w.doc)
		nanos[i].Add(int64(time.Since(t)))
		if !keep {
			if reason == "" {
				reason = "dropped"
			}
			w.dropAt, w.reason = i, reason
			return
		}
	}
	if prep != nil {
		prep(w.doc)
	}
}

// count adds what happened to w to the stats, and hands a dropped
// document to the RejectWriter.
func (p *Pipeline) count(st *Stats, w *work) error {
	d := w.doc
	if d.Skip != "" {
		// Refused before the steps: by the reader, or as a page that
		// cannot be extracted (counted under extract when it runs).
		at := -1
		if d.SkipStep == StepExtract {
			for i, s := range p.Steps {
				if s.Name == StepExtract {
					at = i
					break
				}
			}
		}
		if at < 0 {
			st.Read.In++
			st.Read.Dropped[d.Skip]++
			return nil
		}
		st.Read.In++
		st.Read.Kept++
		for i := 0; i < at; i++ {
			st.Steps[i].In++
			st.Steps[i].Kept++
		}
		st.Steps[at].In++
		st.Steps[at].Dropped[d.Skip]++
		return p.reject(st, at, d.Skip, d)
	}
	st.Read.In++
	st.Read.Kept++
	last := len(p.Steps)
	if w.dropAt >= 0 {
		last = w.dropAt
	}
	for i := 0; i < last; i++ {
		st.Steps[i].In++
		st.Steps[i].Kept++
	}
	if w.dropAt >= 0 {
		st.Steps[w.dropAt].In++
		st.Steps[w.dropAt].Dropped[w.reason]++
		return p.reject(st, w.dropAt, w.reason, d)
	}
	return nil
}

func (p *Pipeline) reject(st *Stats, at int, reason string, d *Doc) error {
	if p.Rejected == nil {
		return nil
	}
	st.Rejected++
	return p.Rejected.Reject(p.Steps[at].Name, reason, d)
}

// orderedMap applies fn to the items of in on workers goroutines and sends
// them on in the order they came. At most about 3*workers items are in
// flight.
func orderedMap(in <-chan *work, workers int, fn func(*work)) <-chan *work {
	type job struct {
		w    *work
		done chan *work
	}
	out := make(chan *work, workers)
	pending := make(chan chan *work, 2*workers) // results in input order
	jobs := make(chan job)
	go func() {
		for w := range in {
			done := make(chan *work, 1)
			pending <- done
			jobs <- job{w, done}
		}
		close(jobs)
		close(pending)
	}()
	for range workers {
		go func() {
			for j := range jobs {
				fn(j.w)
				j.done <- j.w
			}
		}()
	}
	go func() {
		for done := range pending {
			out <- <-done
		}
		close(out)
	}()
	return out
}

// serialMap applies fn to the items of in one at a time, in order.
func serialMap(in <-chan *work, fn func(*work)) <-chan *work {
	out := make(chan *work, 1)
	go func() {
		for w := range in {
			fn(w)
			out <- w
		}
		close(out)
	}()
	return out
}

// Merge adds the counts of o to st (the stats of several inputs or ranks).
// The step lists must be the same.
func (st *Stats) Merge(o *Stats) error {
	if len(st.Steps) != len(o.Steps) {
		return fmt.Errorf("merge stats: %d steps and %d steps", len(st.Steps), len(o.Steps))
	}
	st.Read.add(&o.Read)
	for i := range st.Steps {
		if st.Steps[i].Name != o.Steps[i].Name {
			return fmt.Errorf("merge stats: step %d is %q and %q", i, st.Steps[i].Name, o.Steps[i].Name)
		}
		st.Steps[i].add(o.Steps[i])
	}
	st.Written += o.Written
	st.Rejected += o.Rejected
	st.Seconds += o.Seconds
	return nil
}

func (s *StepStats) add(o *StepStats) {
	s.In += o.In
	s.Kept += o.Kept
	s.Seconds += o.Seconds
	if s.Dropped == nil {
		s.Dropped = map[string]int64{}
	}
	for k, v := range o.Dropped {
		s.Dropped[k] += v
	}
}

// DirRejects writes the dropped documents into a directory, one JSONL file
// per step (as datatrove's exclusion writers do, one per filter): each
// document as it was when dropped, with the reason in its metadata as
// "filter_reason". Pages dropped before extraction have no text; their url
// says which they were. Files are named STEP.jsonl, or STEP.SUFFIX.jsonl,
// and appear when Close succeeds.
type DirRejects struct {
	Dir    string
	Suffix string // e.g. "rank-00003", so that ranks do not overwrite each other
	// Compress names the compression of the files: "", "gz" or "zst".
	Compress string

	mu    sync.Mutex
	files map[string]*rejectFile
}

type rejectFile struct {
	out *docio.Output
	w   *docio.Writer
}

var _ RejectWriter = (*DirRejects)(nil)

// Reject writes d to its step's file.
func (r *DirRejects) Reject(step, reason string, d *Doc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.files[step]
	if !ok {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return err
		}
		name := step
		if r.Suffix != "" {
			name += "." + r.Suffix
		}
		name += ".jsonl"
		if r.Compress != "" {
			name += "." + r.Compress
		}
		out, err := docio.Create(filepath.Join(r.Dir, name))
		if err != nil {
			return err
		}
		f = &rejectFile{out: out, w: docio.NewWriter(out)}
		if r.files == nil {
			r.files = map[string]*rejectFile{}
		}
		r.files[step] = f
	}
	doc := d.Document
	doc.Metadata = maps.Clone(doc.Metadata)
	if doc.Metadata == nil {
		doc.Metadata = map[string]any{}
	}
	doc.Metadata["filter_reason"] = reason
	return f.w.Write(doc)
}

// Close flushes and finishes every file.
func (r *DirRejects) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for _, f := range r.files {
		if err := f.w.Flush(); err != nil && first == nil {
			first = err
		}
		if err := f.out.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.files = nil
	return first
}

// Abort discards every file.
func (r *DirRejects) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.out.Abort()
	}
	r.files = nil
}

// MarshalStats is the stats file: a format line, then the stats with the
// run's context (inputs, rank).
func MarshalStats(st *Stats, extra map[string]any) ([]byte, error) {
	m := map[string]any{"format": "pipe-clean-stats/1"}
	maps.Copy(m, extra)
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var sm map[string]any
	if err := json.Unmarshal(b, &sm); err != nil {
		return nil, err
	}
	maps.Copy(m, sm)
	return json.MarshalIndent(m, "", "  ")
}
