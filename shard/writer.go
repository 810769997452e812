package shard

import (
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pipe-dev/pipe/tokstream"
)

// Defaults of Options.
const (
	DefaultShardTokens = 100_000_000
	DefaultBatchBytes  = tokstream.DefaultBatchBytes
)

// Options say how a Writer cuts documents into shards. The zero value
// writes uncompressed shards of DefaultShardTokens with no val split.
type Options struct {
	// ShardTokens: a shard is closed once it holds this many tokens (a
	// document is never split, so a shard may hold more).
	ShardTokens int64
	// ValFraction or ValTokens (not both) choose the val split by the hash
	// of document ids; see the package documentation. With several ranks,
	// each takes ValTokens/WorldSize (rounded up) from its share.
	ValFraction float64
	ValTokens   int64
	// Compression of the Arrow buffers: None (or ""), Zstd or LZ4.
	Compression string
	// Rank and WorldSize name the files of one rank of several (WorldSize
	// 0 means 1); MergeManifests joins their manifests.
	Rank, WorldSize int
	// BatchBytes is the size of a record batch in token and id bytes (a
	// larger document makes a larger batch); 0 means DefaultBatchBytes.
	BatchBytes int
}

// Writer writes documents into the shards of a directory. Documents go to
// the train split, or to val when the val rule picks them, and are written
// in the order they come, except that with Options.ValTokens the val
// documents are held in memory until Close (about ValTokens tokens) and a
// document displaced from them goes to train when it is displaced.
//
// Each shard is written to a temporary name and renamed when complete;
// Close writes the manifest last. Create first removes this rank's manifest
// (and the merged manifest.json) and what an interrupted run left, and Close
// removes this rank's shard files that the new manifest does not list, so a
// rerun replaces an earlier run.
//
// The first error is kept and returned by every later call.
type Writer struct {
	dir      string
	meta     tokstream.Meta
	opt      Options
	schema   *arrow.Schema
	wide     bool
	train    splitWriter
	val      splitWriter
	sel      *valSelector // with ValTokens
	valBelow float64      // with ValFraction
	narrow   []uint16
	entries  []ShardEntry
	seq      int64
	err      error
	closed   bool
}

// splitWriter writes the shards of one split.
type splitWriter struct {
	name string
	next int // index of the next shard
	cur  *fileWriter
}

// Create starts writing shards of tokens described by meta (DType may be
// empty: the narrowest type is chosen) into dir, which is created if need be.
func Create(dir string, meta tokstream.Meta, opt Options) (*Writer, error) {
	if meta.DType == "" {
		meta.DType = tokstream.DTypeFor(meta.VocabSize)
	}
	opt = opt.withDefaults()
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	schema, err := schemaFor(meta)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, meta: meta, opt: opt, schema: schema, wide: meta.DType == tokstream.Uint32,
		train: splitWriter{name: Train}, val: splitWriter{name: Val}, valBelow: opt.ValFraction}
	if opt.ValTokens > 0 {
		w.sel = &valSelector{budget: (opt.ValTokens + int64(opt.WorldSize) - 1) / int64(opt.WorldSize)}
	}
	if err := w.clean(); err != nil {
		return nil, err
	}
	return w, nil
}

// withDefaults fills in the zero fields that stand for defaults.
func (o Options) withDefaults() Options {
	if o.ShardTokens == 0 {
		o.ShardTokens = DefaultShardTokens
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.WorldSize == 0 {
		o.WorldSize = 1
	}
	if o.Compression == "" {
		o.Compression = None
	}
	return o
}

// Validate reports what is wrong with o, as Create would.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.ShardTokens < 0 || o.BatchBytes < 0:
		return fmt.Errorf("shard tokens %d, batch bytes %d: want positive sizes", o.ShardTokens, o.BatchBytes)
	case o.ValFraction < 0 || o.ValFraction >= 1 || math.IsNaN(o.ValFraction):
		return fmt.Errorf("val fraction %v: want 0 ≤ F < 1", o.ValFraction)
	case o.ValTokens < 0:
		return fmt.Errorf("val tokens %d: want 0 or more", o.ValTokens)
	case o.ValFraction > 0 && o.ValTokens > 0:
		return errors.New("give a val fraction or a val token count, not both")
	case !validCompression(o.Compression):
		return fmt.Errorf("compression %q: want none, zstd or lz4", o.Compression)
	case o.WorldSize < 1 || o.Rank < 0 || o.Rank >= o.WorldSize:
		return fmt.Errorf("rank %d of world size %d: want 0 ≤ rank < world size", o.Rank, o.WorldSize)
	}
	return nil
}

// shardGlobs match the shard files of this rank (the temporary ones with a
// leading "." and a ".tmp-*" tail).
func (w *Writer) shardGlobs(split string) string {
	if w.opt.WorldSize == 1 {
		return split + "-[0-9]*.arrow"
	}
	return fmt.Sprintf("%s-r%05d-*.arrow", split, w.opt.Rank)
}

// clean removes the manifests this run replaces and the temporary files an
// interrupted run of this rank left.
func (w *Writer) clean() error {
	for _, name := range []string{ManifestName, manifestName(w.opt.Rank, w.opt.WorldSize)} {
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, split := range []string{Train, Val} {
		tmps, _ := filepath.Glob(filepath.Join(w.dir, "."+w.shardGlobs(split)+".tmp-*"))
		for _, t := range tmps {
			if err := os.Remove(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// Meta is the metadata of the shards, DType filled in.
func (w *Writer) Meta() tokstream.Meta { return w.meta }

// Write adds one document. A token at or above the vocab size is an
// error, and nothing is written.
func (w *Writer) Write(id string, tokens []uint32) error {
	if err := w.usable(); err != nil {
		return err
	}
	vocab := uint64(w.meta.VocabSize)
	for i, t := range tokens {
		if uint64(t) >= vocab {
			return fmt.Errorf("shard: document %q: token %d at %d is not below the vocab size %d", id, t, i, vocab)
		}
	}
	if w.wide {
		return w.route(id, nil, tokens)
	}
	w.narrow = w.narrow[:0]
	for _, t := range tokens {
		w.narrow = append(w.narrow, uint16(t))
	}
	return w.route(id, w.narrow, nil)
}

// WriteBatch adds the documents of b, whose dtype must be the Writer's:
// the fast way from a tokstream.Reader. A token out of range is an error
// and nothing of b is written.
func (w *Writer) WriteBatch(b tokstream.Batch) error {
	if err := w.usable(); err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	lo, hi := b.Offsets[0], b.Offsets[b.Len()]
	if w.wide != (b.U32 != nil) || (b.U16 == nil) == (b.U32 == nil) {
		return fmt.Errorf("shard: a batch of another dtype than the shards' %s", w.meta.DType)
	}
	if top, ok := maxToken(b, lo, hi); ok && uint64(top) >= uint64(w.meta.VocabSize) {
		return fmt.Errorf("shard: token %d is not below the vocab size %d", top, w.meta.VocabSize)
	}
	for i, id := range b.IDs {
		a, z := b.Offsets[i], b.Offsets[i+1]
		var err error
		if w.wide {
			err = w.route(id, nil, b.U32[a:z])
		} else {
			err = w.route(id, b.U16[a:z], nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxToken is the largest token of b's values [lo, hi), and whether there
// is one.
func maxToken(b tokstream.Batch, lo, hi int64) (uint32, bool) {
	if b.U16 != nil {
		return uint32(maxOf(b.U16[lo:hi])), hi > lo
	}
	return maxOf(b.U32[lo:hi]), hi > lo
}

// maxOf is the largest of xs (0 if none), kept in four running maxima so
// that the comparisons do not wait on each other: four times a plain loop.
func maxOf[T uint16 | uint32](xs []T) T {
	var m0, m1, m2, m3 T
	for len(xs) >= 4 {
		m0, m1, m2, m3 = max(m0, xs[0]), max(m1, xs[1]), max(m2, xs[2]), max(m3, xs[3])
		xs = xs[4:]
	}
	for _, x := range xs {
		m0 = max(m0, x)
	}
	return max(m0, m1, m2, m3)
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("shard: write after close")
	}
	return nil
}

// route sends a document to its split.
func (w *Writer) route(id string, u16 []uint16, u32 []uint32) error {
	seq := w.seq
	w.seq++
	switch {
	case w.sel != nil:
		d := valDoc{id: id, seq: seq, hash: idHash(id), n: int64(len(u16) + len(u32))}
		if !w.sel.wants(d) {
			return w.add(&w.train, id, u16, u32)
		}
		d.id, d.u16, d.u32 = clone(id), slices.Clone(u16), slices.Clone(u32)
		for _, out := range w.sel.add(d) {
			if err := w.add(&w.train, out.id, out.u16, out.u32); err != nil {
				return err
			}
		}
		return nil
	case w.valBelow > 0 && math.Ldexp(float64(idHash(id)), -64) < w.valBelow:
		return w.add(&w.val, id, u16, u32)
	}
	return w.add(&w.train, id, u16, u32)
}

func clone(s string) string { return string([]byte(s)) }

// add writes a document to the current shard of split s, starting and
// closing shards as they fill.
func (w *Writer) add(s *splitWriter, id string, u16 []uint16, u32 []uint32) error {
	if s.cur == nil {
		name := shardName(s.name, w.opt.Rank, w.opt.WorldSize, s.next)
		fw, err := newFileWriter(filepath.Join(w.dir, name), name, s.name, w.schema, w.opt.Compression, w.opt.BatchBytes)
		if err != nil {
			w.err = err
			return err
		}
		s.cur, s.next = fw, s.next+1
	}
	if err := s.cur.add(id, u16, u32); err != nil {
		w.err = err
		return err
	}
	if s.cur.tokens >= w.opt.ShardTokens {
		return w.finish(s)
	}
	return nil
}

// finish closes the current shard of s.
func (w *Writer) finish(s *splitWriter) error {
	if s.cur == nil {
		return nil
	}
	e, err := s.cur.close()
	s.cur = nil
	if err != nil {
		w.err = err
		return err
	}
	slog.Info("shard written", "file", filepath.Join(w.dir, e.File), "documents", e.Documents, "tokens", e.Tokens, "bytes", e.Bytes)
	w.entries = append(w.entries, e)
	return nil
}

// Close writes the val documents held back, closes the last shards, writes
// the manifest and removes this rank's shard files it does not list.
func (w *Writer) Close() (*Manifest, error) {
	if err := w.usable(); err != nil {
		w.Abort()
		return nil, err
	}
	w.closed = true
	if w.sel != nil {
		docs := w.sel.docs
		slices.SortFunc(docs, func(a, b valDoc) int { return cmp.Compare(a.seq, b.seq) })
		for _, d := range docs {
			if err := w.add(&w.val, d.id, d.u16, d.u32); err != nil {
				w.Abort()
				return nil, err
			}
		}
		w.sel = nil
	}
	for _, s := range []*splitWriter{&w.train, &w.val} {
		if err := w.finish(s); err != nil {
			w.Abort()
			return nil, err
		}
	}
	m := newManifest(w.meta)
	m.Compression = w.opt.Compression
	m.ShardTokens = w.opt.ShardTokens
	m.Val = ValRule{Fraction: w.opt.ValFraction, Tokens: w.opt.ValTokens}
	if w.opt.WorldSize > 1 {
		m.Part = &Part{Rank: w.opt.Rank, WorldSize: w.opt.WorldSize}
	}
	for _, split := range []string{Train, Val} {
		for _, e := range w.entries {
			if e.Split == split {
				m.Shards = append(m.Shards, e)
			}
		}
	}
	if err := m.WriteFile(filepath.Join(w.dir, manifestName(w.opt.Rank, w.opt.WorldSize))); err != nil {
		w.err = err
		return nil, err
	}
	listed := map[string]bool{}
	for _, e := range m.Shards {
		listed[e.File] = true
	}
	for _, split := range []string{Train, Val} {
		old, _ := filepath.Glob(filepath.Join(w.dir, w.shardGlobs(split)))
		for _, p := range old {
			if !listed[filepath.Base(p)] {
				if err := os.Remove(p); err != nil {
					return m, err
				}
			}
		}
	}
	return m, nil
}

// Abort stops writing: the shards being written are removed and no
// manifest is written. It is a no-op after Close.
func (w *Writer) Abort() {
	for _, s := range []*splitWriter{&w.train, &w.val} {
		if s.cur != nil {
			s.cur.abort()
			s.cur = nil
		}
	}
	w.closed = true
	if w.err == nil {
		w.err = errors.New("shard: writer aborted")
	}
}

// idHash is the hash that places a document in a split: the first 8 bytes
// of SHA-256(id), big-endian.
func idHash(id string) uint64 {
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint64(sum[:8])
}

// valDoc is a document held for the val split.
type valDoc struct {
	id   string
	seq  int64  // input order
	hash uint64 // idHash(id)
	n    int64  // tokens
	u16  []uint16
	u32  []uint32
}

// before orders documents for the val split: by hash, ties in input order.
func (d valDoc) before(e valDoc) bool {
	return d.hash < e.hash || d.hash == e.hash && d.seq < e.seq
}

// valSelector keeps the documents of lowest hash while the tokens before
// each are fewer than budget: a max-heap on (hash, seq) that gives up its
// top while the others alone reach the budget.
type valSelector struct {
	budget int64
	total  int64 // tokens of docs
	docs   []valDoc
}

// wants reports whether d would be kept now.
func (s *valSelector) wants(d valDoc) bool {
	return s.total < s.budget || len(s.docs) > 0 && d.before(s.docs[0])
}

// add keeps d and returns the documents it displaces, in no particular
// order but a deterministic one.
func (s *valSelector) add(d valDoc) []valDoc {
	heap.Push((*valHeap)(s), d)
	s.total += d.n
	var out []valDoc
	for len(s.docs) > 1 && s.total-s.docs[0].n >= s.budget {
		top := heap.Pop((*valHeap)(s)).(valDoc)
		s.total -= top.n
		out = append(out, top)
	}
	return out
}

type valHeap valSelector

func (h *valHeap) Len() int           { return len(h.docs) }
func (h *valHeap) Less(i, j int) bool { return h.docs[j].before(h.docs[i]) } // max-heap
func (h *valHeap) Swap(i, j int)      { h.docs[i], h.docs[j] = h.docs[j], h.docs[i] }
func (h *valHeap) Push(x any)         { h.docs = append(h.docs, x.(valDoc)) }
func (h *valHeap) Pop() any {
	d := h.docs[len(h.docs)-1]
	h.docs = h.docs[:len(h.docs)-1]
	return d
}
