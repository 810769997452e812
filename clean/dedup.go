package clean

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Dedup: exact (the hash of the simplified text) and MinHash near-duplicates
// (minhash.go), with one rule for both:
//
//	A document is a duplicate, and dropped, when one of its keys (its
//	content hash, or one of its 14 band keys) equals the same key of an
//	earlier document, kept or dropped.
//
// "Earlier" is the order of the input: the sorted input files, and the
// documents of each file in order, as they reach the dedup step. So the
// first document of each group of duplicates is kept, and the rule can be
// applied while streaming: the state is a set of seen keys per key slot,
// 15 × 8 bytes per document (plus the sets' overhead), whatever the
// length of the texts.
//
// It differs from datatrove's in one case only: datatrove joins the
// colliding pairs into clusters (connected components) and keeps one
// document per cluster, so a document B that collides only with a later
// document C, which collides with an earlier A, is dropped there and kept
// here. The pairs found are the same.
//
// The partitioned form gives the same result as one process over the same
// inputs (TestDedupPartitioned), in three steps instead of datatrove's four:
//
//  1. signatures: each rank runs the steps on its share of the sorted input
//     list and writes, beside its documents, the keys of each document in
//     order (SignatureWriter);
//  2. buckets: for each key slot, the keys of every rank are sorted by
//     (key, rank, position); in each group of equal keys all but the first
//     are duplicates (FindDuplicates). Slots are independent, so ranks can
//     split them. Because the rule looks only at each key's group, no
//     clustering pass is needed;
//  3. remove: each rank drops the positions listed for it (LoadDuplicates,
//     RemoveStep).

// Reasons the dedup step drops a document.
const (
	ReasonExactDup   = "exact_duplicate"
	ReasonMinHashDup = "minhash_duplicate"
)

// Dedup is the state of the dedup step in one process.
type Dedup struct {
	Exact   bool // compare content hashes
	MinHash bool // compare MinHash band keys
	Config  MinHashConfig
	seen    []map[uint64]struct{} // per key slot
}

// NewDedup returns an empty Dedup with FineWeb's MinHash parameters.
func NewDedup(exact, minhash bool) *Dedup {
	return &Dedup{Exact: exact, MinHash: minhash, Config: DefaultMinHash()}
}

// Slots is the number of keys a document has: the content hash (when
// Exact), then the band keys (when MinHash).
func (d *Dedup) Slots() int {
	n := 0
	if d.Exact {
		n++
	}
	if d.MinHash {
		n += d.Config.Buckets
	}
	return n
}

// Keys returns the keys of a text, Slots of them.
func (d *Dedup) Keys(text string) []uint64 {
	keys := make([]uint64, 0, d.Slots())
	if d.Exact {
		keys = append(keys, ContentHash(text))
	}
	if d.MinHash {
		keys = append(keys, d.Config.Signature(text)...)
	}
	return keys
}

// slotReason is the reason for a duplicate found in slot i.
func (d *Dedup) slotReason(i int) string {
	if d.Exact && i == 0 {
		return ReasonExactDup
	}
	return ReasonMinHashDup
}

// Check records keys and says whether an earlier document had one of them.
func (d *Dedup) Check(keys []uint64) (dup bool, reason string) {
	if d.seen == nil {
		d.seen = make([]map[uint64]struct{}, d.Slots())
		for i := range d.seen {
			d.seen[i] = map[uint64]struct{}{}
		}
	}
	for i, k := range keys {
		if _, ok := d.seen[i][k]; ok && !dup {
			dup, reason = true, d.slotReason(i)
		}
		d.seen[i][k] = struct{}{}
	}
	return dup, reason
}

// Step is the dedup step: keys are computed in parallel, checked in order.
func (d *Dedup) Step() Step {
	return Step{
		Name:    "dedup",
		Ordered: true,
		Prepare: func(doc *Doc) { doc.keys = d.Keys(doc.Text) },
		Apply: func(doc *Doc) (bool, string) {
			keys := doc.keys
			if keys == nil {
				keys = d.Keys(doc.Text)
			}
			doc.keys = nil
			dup, reason := d.Check(keys)
			return !dup, reason
		},
	}
}

// The files of the partitioned form start with a line naming their format.
const (
	sigMagic = "pipe-dedup-signatures/1"
	dupMagic = "pipe-dedup-duplicates/1"
)

// SignatureWriter writes the keys of each document, in order, for the
// partitioned dedup. Its step keeps every document.
type SignatureWriter struct {
	d     *Dedup
	w     *bufio.Writer
	count uint64
	err   error
	buf   []byte
}

// NewSignatureWriter writes to w the signatures of one rank's documents.
func NewSignatureWriter(w io.Writer, d *Dedup, rank int) *SignatureWriter {
	s := &SignatureWriter{d: d, w: bufio.NewWriterSize(w, 1<<16)}
	_, s.err = fmt.Fprintf(s.w, "%s rank=%d slots=%d exact=%t minhash=%t shingle=%d buckets=%d hashes=%d seed=%d\n",
		sigMagic, rank, d.Slots(), d.Exact, d.MinHash, d.Config.Shingle, d.Config.Buckets, d.Config.HashesPerBand, d.Config.Seed)
	return s
}

// Step is the dedup step in signature mode.
func (s *SignatureWriter) Step() Step {
	return Step{
		Name:    "dedup",
		Ordered: true,
		Prepare: func(doc *Doc) { doc.keys = s.d.Keys(doc.Text) },
		Apply: func(doc *Doc) (bool, string) {
			keys := doc.keys
			if keys == nil {
				keys = s.d.Keys(doc.Text)
			}
			doc.keys = nil
			s.write(keys)
			return true, ""
		},
	}
}

func (s *SignatureWriter) write(keys []uint64) {
	if s.err != nil {
		return
	}
	s.buf = s.buf[:0]
	for _, k := range keys {
		s.buf = binary.LittleEndian.AppendUint64(s.buf, k)
	}
	_, s.err = s.w.Write(s.buf)
	s.count++
}

// Flush writes what is buffered and returns the first error.
func (s *SignatureWriter) Flush() error {
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// sigHeader is what the first line of a signature file says.
type sigHeader struct {
	rank, slots int
	rest        string
}

func readSigHeader(br *bufio.Reader, name string) (sigHeader, error) {
	line, err := br.ReadString('\n')
	var h sigHeader
	var magic string
	if err == nil {
		_, err = fmt.Sscanf(line, "%s rank=%d slots=%d", &magic, &h.rank, &h.slots)
	}
	if err != nil || magic != sigMagic || h.slots <= 0 {
		return h, fmt.Errorf("%s: not a %s file", name, sigMagic)
	}
	_, h.rest, _ = cutAfter(line, " slots=")
	return h, nil
}

func cutAfter(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// Duplicate is one document found to be a duplicate: its rank, its
// position among the rank's documents, and the slot of the key it shares
// with an earlier document.
type Duplicate struct {
	Rank     int
	Position uint64
	Slot     int
}

// FindDuplicates reads the signature files of every rank and returns the
// duplicates found in the given key slots (all when slots is nil), sorted
// by rank and position.
func FindDuplicates(sigFiles []string, slots []int) ([]Duplicate, error) {
	type entry struct {
		key  uint64
		rank uint32
		pos  uint64
	}
	var (
		bySlot  map[int][]entry
		nslots  = -1
		rest    string
		ranks   = map[int]string{}
		wantAll = slots == nil
	)
	for _, name := range sigFiles {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReaderSize(f, 1<<16)
		h, err := readSigHeader(br, name)
		if err != nil {
			f.Close()
			return nil, err
		}
		if nslots < 0 {
			nslots, rest = h.slots, h.rest
			if wantAll {
				for i := range nslots {
					slots = append(slots, i)
				}
			}
			bySlot = map[int][]entry{}
			for _, s := range slots {
				if s < 0 || s >= nslots {
					f.Close()
					return nil, fmt.Errorf("dedup: slot %d of %d", s, nslots)
				}
				bySlot[s] = nil
			}
		} else if h.slots != nslots || h.rest != rest {
			f.Close()
			return nil, fmt.Errorf("%s: signatures made with other settings than %s", name, sigFiles[0])
		}
		if other, ok := ranks[h.rank]; ok {
			f.Close()
			return nil, fmt.Errorf("%s and %s are both rank %d", other, name, h.rank)
		}
		ranks[h.rank] = name
		rec := make([]byte, 8*nslots)
		for pos := uint64(0); ; pos++ {
			_, err := io.ReadFull(br, rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: document %d: %w", name, pos, err)
			}
			for _, s := range slots {
				bySlot[s] = append(bySlot[s], entry{binary.LittleEndian.Uint64(rec[8*s:]), uint32(h.rank), pos})
			}
		}
		f.Close()
	}
	seen := map[[2]uint64]bool{}
	var dups []Duplicate
	for _, s := range slots {
		es := bySlot[s]
		slices.SortFunc(es, func(a, b entry) int {
			return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.rank, b.rank), cmp.Compare(a.pos, b.pos))
		})
		for i := 1; i < len(es); i++ {
			if es[i].key == es[i-1].key {
				id := [2]uint64{uint64(es[i].rank), es[i].pos}
				if !seen[id] {
					seen[id] = true
					dups = append(dups, Duplicate{int(es[i].rank), es[i].pos, s})
				}
			}
		}
		bySlot[s] = nil
	}
	slices.SortFunc(dups, func(a, b Duplicate) int {
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Position, b.Position), cmp.Compare(a.Slot, b.Slot))
	})
	return dups, nil
}

// WriteDuplicates writes a duplicates file: a format line, then one line
// per duplicate: rank, position, slot.
func WriteDuplicates(w io.Writer, dups []Duplicate) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, dupMagic)
	for _, d := range dups {
		fmt.Fprintf(bw, "%d %d %d\n", d.Rank, d.Position, d.Slot)
	}
	return bw.Flush()
}

// LoadDuplicates reads duplicates files and returns, for rank, the slot of
// each duplicate position (the lowest slot when several files list it).
func LoadDuplicates(files []string, rank int) (map[uint64]int, error) {
	out := map[uint64]int{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(f)
		if line, err := br.ReadString('\n'); err != nil || line != dupMagic+"\n" {
			f.Close()
			return nil, fmt.Errorf("%s: not a %s file", name, dupMagic)
		}
		for n := 2; ; n++ {
			var d Duplicate
			_, err := fmt.Fscanf(br, "%d %d %d\n", &d.Rank, &d.Position, &d.Slot)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			if d.Rank != rank {
				continue
			}
			if s, ok := out[d.Position]; !ok || d.Slot < s {
				out[d.Position] = d.Slot
			}
		}
		f.Close()
	}
	return out, nil
}

// RemoveStep drops the documents at the positions of dups (positions
// counted over the documents that reach it), with the reason of the
// slot.
func (d *Dedup) RemoveStep(dups map[uint64]int) Step {
	var pos uint64
	return Step{Name: "dedup", Ordered: true, Apply: func(doc *Doc) (bool, string) {
		slot, ok := dups[pos]
		pos++
		if ok {
			return false, d.slotReason(slot)
		}
		return true, ""
	}}
}
