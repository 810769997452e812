package shard

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pipe-dev/pipe/tokstream"
)

// LoaderConfig says what a Loader serves.
type LoaderConfig struct {
	Batch   int // B: windows per batch
	Context int // T: a window holds T+1 tokens
	Seed    uint64
	// Rank and WorldSize: rank r of W takes the windows at positions
	// r, r+W, r+2W, … of each epoch's order (WorldSize 0 means 1).
	Rank, WorldSize int
	// Sequential serves the windows in stream order instead of a seeded
	// permutation: for evaluation.
	Sequential bool
}

// LoaderState is where a Loader stands: Cursor windows of epoch Epoch are
// served (on each rank: all ranks stand at the same place). Saved in a
// checkpoint and given to Restore, it resumes exactly where it stopped.
type LoaderState struct {
	Epoch  uint64 `json:"epoch"`
	Cursor int64  `json:"cursor"`
	// Windows per epoch on each rank when the state was taken, so that a
	// state is not restored over another dataset or world size; 0 skips
	// the check.
	Windows int64 `json:"windows,omitempty"`
}

// Loader serves batches of B windows of T+1 tokens (see the package
// documentation for the windows) from one split of a Dataset. Each epoch
// visits the windows in the permutation that (Seed, epoch) gives; rank r
// takes positions r, r+W, …, so ranks never share a window, and each rank
// serves M = ⌊N/W⌋ windows per epoch (the N mod W left over are skipped
// that epoch). Batches run on from one epoch into the next.
//
// The shard files are mapped when the Loader is made and every record batch
// is checked (as File.Batch does) the first time a window reaches it. The
// Loader keeps, besides the maps, a few words per shard and per record
// batch (about 100 bytes per batch of 4 MiB); an uncompressed shard is read
// straight from its map, a compressed one is decoded a batch at a time
// through a small cache (much slower: compress for storage, not training).
//
// A shard must not change while a Loader maps it: a file cut short under
// a map faults the process when the lost pages are read. A Loader is not
// safe for concurrent use; Close unmaps its files.
type Loader struct {
	cfg     LoaderConfig
	split   string
	eot     uint32
	wide    bool
	files   []*File
	starts  []int64 // len(batches)+1: stream position of each batch's first token; the last is L
	batches []batchRef
	windows int64 // N: windows in an epoch
	perRank int64 // M = N / W
	state   LoaderState
	perm    permutation // of state.Epoch
	pos     []int64     // len B: the stream position of each window of the batch being served
	cache   []decoded   // compressed batches, most recent last
}

// batchRef is one record batch of a shard: where it is, and once it has
// been checked, its offsets and tokens.
type batchRef struct {
	file, index int32
	rows        int32
	offsets     []int64 // len rows+1
	u16         []uint16
	u32         []uint32
}

// decoded is a compressed batch held by the cache.
type decoded struct {
	batch int
	rec   arrow.RecordBatch
}

const cacheBatches = 4

// NewLoader maps the shards of split and checks them against the manifest:
// the schema metadata (tokenizer, vocab size, end-of-text id, dtype), the
// size, and the documents and tokens of each. The dataset's tokenizer must
// have an end-of-text token.
func NewLoader(ds *Dataset, split string, cfg LoaderConfig) (*Loader, error) {
	if cfg.WorldSize == 0 {
		cfg.WorldSize = 1
	}
	switch {
	case cfg.Batch < 1 || cfg.Context < 1:
		return nil, fmt.Errorf("loader: batch %d, context %d: want both at least 1", cfg.Batch, cfg.Context)
	case cfg.WorldSize < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.WorldSize:
		return nil, fmt.Errorf("loader: rank %d of world size %d: want 0 ≤ rank < world size", cfg.Rank, cfg.WorldSize)
	}
	manifest := filepath.Join(ds.Dir, ManifestName)
	meta := ds.Meta()
	if meta.EOT == tokstream.NoEOT {
		return nil, fmt.Errorf("%s: the tokenizer has no end-of-text token to put between documents", manifest)
	}
	shards := ds.Manifest.Split(split)
	if len(shards) == 0 {
		return nil, fmt.Errorf("%s: no shards of split %q", manifest, split)
	}
	l := &Loader{cfg: cfg, split: split, eot: uint32(meta.EOT), wide: meta.DType == tokstream.Uint32}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	var pos int64
	for _, s := range shards {
		f, err := ds.openShard(s)
		if err != nil {
			return nil, err
		}
		l.files = append(l.files, f)
		var docs, tokens int64
		for i := range f.NumBatches() {
			n, t, err := f.counts(i)
			if err != nil {
				return nil, err
			}
			l.starts = append(l.starts, pos)
			l.batches = append(l.batches, batchRef{file: int32(len(l.files) - 1), index: int32(i), rows: int32(n)})
			pos += t + n // each document ends with the end-of-text token
			docs, tokens = docs+n, tokens+t
		}
		if err := checkCounts(f.Path(), docs, tokens, s); err != nil {
			return nil, err
		}
	}
	l.starts = append(l.starts, pos)
	l.windows = (pos - 1) / int64(cfg.Context)
	l.perRank = l.windows / int64(cfg.WorldSize)
	if l.perRank == 0 {
		return nil, fmt.Errorf("%s: split %q holds %d tokens with its end-of-text tokens: %d windows of %d+1, too few for %d ranks",
			manifest, split, pos, l.windows, cfg.Context, cfg.WorldSize)
	}
	l.pos = make([]int64, cfg.Batch)
	l.setEpoch(0)
	ok = true
	return l, nil
}

// Windows is the number of windows each rank serves per epoch.
func (l *Loader) Windows() int64 { return l.perRank }

// StreamTokens is the length of the split's stream: its tokens and one
// end-of-text token per document.
func (l *Loader) StreamTokens() int64 { return l.starts[len(l.starts)-1] }

// State is where the Loader stands.
func (l *Loader) State() LoaderState {
	s := l.state
	s.Windows = l.perRank
	return s
}

// Restore puts the Loader where State was taken: the next batch is the one
// that followed then.
func (l *Loader) Restore(s LoaderState) error {
	if s.Windows != 0 && s.Windows != l.perRank {
		return fmt.Errorf("loader: the state is of %d windows per epoch and rank, this split serves %d (another dataset, context or world size?)", s.Windows, l.perRank)
	}
	if s.Cursor < 0 || s.Cursor > l.perRank {
		return fmt.Errorf("loader: cursor %d is outside the %d windows of an epoch", s.Cursor, l.perRank)
	}
	l.setEpoch(s.Epoch)
	l.state.Cursor = s.Cursor
	return nil
}

func (l *Loader) setEpoch(e uint64) {
	l.state = LoaderState{Epoch: e}
	if l.cfg.Sequential {
		l.perm = identity(uint64(l.windows))
	} else {
		l.perm = newPermutation(uint64(l.windows), l.cfg.Seed, e)
	}
}

// window is the index of the window at cursor c of the current epoch on
// this rank.
func (l *Loader) window(c int64) int64 {
	return int64(l.perm.at(uint64(c*int64(l.cfg.WorldSize) + int64(l.cfg.Rank))))
}

// Next fills dst, of length B·(T+1), with the next batch: row b, dst[b(T+1)
// : (b+1)(T+1)], is a window; its first T tokens are the inputs and its last
// T the targets. On error the state is left as it was.
//
// The batch's windows start at random places in the maps, so each starts
// with a wait on memory. Next first finds where every window of the batch
// starts and asks the CPU to fetch it (prefetch), then copies them: the
// waits overlap instead of following each other.
func (l *Loader) Next(dst []uint32) error {
	row := l.cfg.Context + 1
	if len(dst) != l.cfg.Batch*row {
		return fmt.Errorf("loader: dst holds %d tokens, a batch is %d×%d", len(dst), l.cfg.Batch, row)
	}
	saved := l.state
	for b := range l.cfg.Batch {
		if l.state.Cursor == l.perRank {
			l.setEpoch(l.state.Epoch + 1)
		}
		l.pos[b] = l.window(l.state.Cursor) * int64(l.cfg.Context)
		l.state.Cursor++
	}
	for _, pos := range l.pos {
		l.prefetch(pos, row)
	}
	for b, pos := range l.pos {
		if err := l.read(dst[b*row:(b+1)*row], pos); err != nil {
			if l.state.Epoch != saved.Epoch {
				l.setEpoch(saved.Epoch)
			}
			l.state = saved
			return err
		}
	}
	return nil
}

// prefetch asks the CPU to bring the stored tokens of the n-token window at
// stream position pos into its cache, when the record batch holding its
// start is mapped and checked already (read loads it otherwise); the part
// of a window that runs into the next batch is left to read.
func (l *Loader) prefetch(pos int64, n int) {
	bi := locate(l.starts, 0, pos)
	ref := &l.batches[bi]
	if ref.offsets == nil || ref.rows == 0 {
		return
	}
	_, k := ref.find(pos - l.starts[bi])
	if l.wide {
		if k < int64(len(ref.u32)) {
			prefetchLines(unsafe.Pointer(&ref.u32[k]), 4*int(min(int64(n), int64(len(ref.u32))-k)))
		}
	} else if k < int64(len(ref.u16)) {
		prefetchLines(unsafe.Pointer(&ref.u16[k]), 2*int(min(int64(n), int64(len(ref.u16))-k)))
	}
}

// read copies len(dst) tokens of the stream from position pos.
func (l *Loader) read(dst []uint32, pos int64) error {
	lo := locate(l.starts, 0, pos) // the batch holding pos
	for bi := lo; len(dst) > 0; bi++ {
		if bi >= len(l.batches) {
			return fmt.Errorf("loader: window past the end of the %d-token stream", l.StreamTokens())
		}
		ref := &l.batches[bi]
		if ref.rows == 0 {
			continue
		}
		if err := l.load(bi); err != nil {
			return err
		}
		q := pos - l.starts[bi] // position inside the batch's stream
		dst = l.copyFrom(dst, ref, q)
		pos = l.starts[bi+1]
	}
	return nil
}

// copyFrom copies the batch's stream from position q into dst, as far as
// either goes, and returns the rest of dst. Document d of the batch starts
// at stream position offsets[d]−offsets[0]+d (the d end-of-text tokens
// before it), and its end-of-text token follows its last token.
func (l *Loader) copyFrom(dst []uint32, ref *batchRef, q int64) []uint32 {
	offs := ref.offsets
	d, k := ref.find(q)
	for n := len(offs) - 1; d < n && len(dst) > 0; d++ {
		if end := offs[d+1]; k < end {
			c := min(end-k, int64(len(dst)))
			if l.wide {
				copy(dst, ref.u32[k:k+c])
			} else {
				widen(dst[:c], ref.u16[k:k+c])
			}
			dst = dst[c:]
		}
		if len(dst) > 0 {
			dst[0] = l.eot
			dst = dst[1:]
		}
		k = offs[d+1]
	}
	return dst
}

// find returns the document d of the batch that holds the batch's stream
// position q (the last one starting at or before q) and the index k in the
// values of the token at q, or of the one after it when q is d's
// end-of-text token.
func (ref *batchRef) find(q int64) (d int, k int64) {
	offs := ref.offsets
	d = locate(offs, 1, q)
	return d, offs[d] + (q - (offs[d] - offs[0] + int64(d)))
}

// locate returns the last i < len(xs)−1 with x(i) ≤ q, where x(i) =
// xs[i] − xs[0] + stride·i does not decrease with i and x(0) ≤ q <
// x(len(xs)−1): the record batch that holds stream position q (xs the
// batches' starts, stride 0), or the document of a batch that does (xs its
// offsets, stride 1 for the end-of-text tokens).
//
// (Guessing i from q as if the items were of equal size, then galloping
// from the guess, probes less of xs than bisection; it measured no faster
// here, where the offsets of the benchmark's batches stay in cache.)
func locate(xs []int64, stride, q int64) int {
	// Bisection without a branch on the comparison (the compiler makes the
	// step a conditional move): the answer is in [lo, lo+n).
	q += xs[0]
	lo, n := 0, len(xs)-1
	for n > 1 {
		half := n >> 1
		if m := lo + half; xs[m]+stride*int64(m) <= q {
			lo = m
		}
		n -= half
	}
	return lo
}

// widen copies src into dst, which is as long: the leading blocks with
// widenBlocks where the CPU has a vector form (widen_amd64.s), the rest
// eight tokens a step (which the compiler checks the bounds of once: twice
// as fast as a plain loop). widenGo is the portable form, and the oracle.
func widen(dst []uint32, src []uint16) {
	dst = dst[:len(src)]
	if widenBlocks != nil {
		n := widenBlocks(dst, src)
		dst, src = dst[n:], src[n:]
	}
	widenGo(dst, src)
}

// widenBlocks widens a prefix of src into dst with vector instructions and
// returns its length; nil where there are none.
var widenBlocks func(dst []uint32, src []uint16) int

func widenGo(dst []uint32, src []uint16) {
	dst = dst[:len(src)]
	for len(src) >= 8 {
		d, s := dst[:8:8], src[:8:8]
		d[0], d[1], d[2], d[3] = uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
		d[4], d[5], d[6], d[7] = uint32(s[4]), uint32(s[5]), uint32(s[6]), uint32(s[7])
		dst, src = dst[8:], src[8:]
	}
	for i, t := range src {
		dst[i] = uint32(t)
	}
}

// load makes batch bi's offsets and tokens available, checking the batch
// the first time.
func (l *Loader) load(bi int) error {
	ref := &l.batches[bi]
	if ref.offsets != nil {
		return nil
	}
	f := l.files[ref.file]
	rec, b, err := f.batch(int(ref.index))
	if err != nil {
		return err
	}
	if b.Len() != int(ref.rows) {
		rec.Release()
		return fmt.Errorf("%s: batch %d: %w: %d rows, %d when first read", f.Path(), ref.index, ErrFormat, b.Len(), ref.rows)
	}
	ref.offsets, ref.u16, ref.u32 = b.Offsets, b.U16, b.U32
	if mapped(f.data, b.Offsets) && mapped(f.data, b.U16) && mapped(f.data, b.U32) {
		rec.Release() // the slices view the map, which outlives the record
		return nil
	}
	// A decoded copy: keep it while it is among the last few used.
	if len(l.cache) == cacheBatches {
		old := l.cache[0]
		l.cache = append(l.cache[:0], l.cache[1:]...)
		l.batches[old.batch].offsets, l.batches[old.batch].u16, l.batches[old.batch].u32 = nil, nil, nil
		old.rec.Release()
	}
	l.cache = append(l.cache, decoded{batch: bi, rec: rec})
	return nil
}

// Close unmaps the shard files; the Loader is unusable after.
func (l *Loader) Close() error {
	for _, c := range l.cache {
		c.rec.Release()
	}
	l.cache = nil
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	l.files, l.batches = nil, nil
	return errors.Join(errs...)
}
