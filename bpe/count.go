package bpe

// Piece counts: the input of training.
//
// Training never looks at the corpus itself, only at how often each distinct
// pre-split piece occurs in it. "the cat saw the dog" under the gpt2 pattern
// counts as
//
//	"the" 1, " cat" 1, " saw" 1, " the" 1, " dog" 1
//
// and a corpus of any size reduces to such a table, whose size grows with the
// number of distinct pieces, not with the corpus. Tables add up, so partitions
// of a corpus can be counted apart (on different machines), written with
// WriteCounts, read back with ReadCounts and merged: the sum is exactly the
// table of the whole corpus.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Counts is a table of pre-split pieces (their bytes) and how often each
// occurred, under one pattern.
type Counts struct {
	Pattern   string // the pre-split pattern the pieces came from
	Documents int64  // how many documents were counted

	slot  map[string]int32 // piece -> index into n
	piece []string         // index -> piece
	n     []int64          // index -> count
	total int64            // sum of n
}

// NewCounts returns an empty table for pieces cut by pattern.
func NewCounts(pattern string) *Counts {
	return &Counts{Pattern: pattern, slot: make(map[string]int32)}
}

// AddPiece adds n occurrences of piece. The bytes are copied when the piece
// is new, so callers may reuse the slice.
func (c *Counts) AddPiece(piece []byte, n int64) {
	// The lookup with string(piece) does not allocate; only a new piece does.
	if i, ok := c.slot[string(piece)]; ok {
		c.n[i] += n
	} else {
		c.addNew(string(piece), n)
	}
	c.total += n
}

func (c *Counts) addNew(piece string, n int64) {
	c.slot[piece] = int32(len(c.n))
	c.piece = append(c.piece, piece)
	c.n = append(c.n, n)
}

// Count returns how often piece occurred.
func (c *Counts) Count(piece []byte) int64 {
	if i, ok := c.slot[string(piece)]; ok {
		return c.n[i]
	}
	return 0
}

// Len returns the number of distinct pieces.
func (c *Counts) Len() int { return len(c.n) }

// Total returns the number of pieces counted, the sum of all counts.
func (c *Counts) Total() int64 { return c.total }

// All yields every piece with its count, in byte order of the pieces.
func (c *Counts) All() iter.Seq2[string, int64] {
	return func(yield func(string, int64) bool) {
		for _, i := range c.sorted() {
			if !yield(c.piece[i], c.n[i]) {
				return
			}
		}
	}
}

// sorted returns the indexes of the pieces in byte order of the pieces.
func (c *Counts) sorted() []int32 {
	idx := make([]int32, len(c.piece))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(c.piece[a], c.piece[b]) })
	return idx
}

// ErrPatternMismatch is returned when counts made under different
// pre-split patterns are merged.
var ErrPatternMismatch = errors.New("counts have different patterns")

// Merge adds the counts of o to c. Both must come from the same pattern.
func (c *Counts) Merge(o *Counts) error {
	if c.Pattern != o.Pattern {
		return fmt.Errorf("merge: %w: %q and %q", ErrPatternMismatch, c.Pattern, o.Pattern)
	}
	for i, p := range o.piece {
		if j, ok := c.slot[p]; ok {
			c.n[j] += o.n[i]
		} else {
			c.addNew(p, o.n[i]) // strings are immutable: share the key
		}
	}
	c.total += o.total
	c.Documents += o.Documents
	return nil
}

// Counter counts the pieces of documents under one pattern. A Counter is
// not safe for concurrent use; CountParallel runs one per worker.
type Counter struct {
	splitter Splitter
	counts   *Counts
	add      func(piece []byte) // c.counts.AddPiece(piece, 1), made once
}

// NewCounter returns a Counter for the pre-split pattern: a name (gpt2,
// cl100k, o200k) or a regex.
func NewCounter(pattern string) (*Counter, error) {
	sp, err := NewSplitter(pattern)
	if err != nil {
		return nil, err
	}
	c := &Counter{splitter: sp, counts: NewCounts(pattern)}
	c.add = func(piece []byte) { c.counts.AddPiece(piece, 1) }
	return c, nil
}

// Add counts the pieces of one document.
func (c *Counter) Add(doc []byte) {
	c.splitter.Split(doc, c.add)
	c.counts.Documents++
}

// Counts returns the table counted so far; it keeps growing with later Adds.
func (c *Counter) Counts() *Counts { return c.counts }

// CountParallel counts the documents received from docs until it is closed,
// with workers goroutines (at least 1), each into its own table; the tables
// are merged at the end. The result does not depend on the number of workers
// or on which worker got which document. An unknown pattern is an error
// before anything is read from docs.
func CountParallel(pattern string, workers int, docs <-chan []byte) (*Counts, error) {
	workers = max(workers, 1)
	counters := make([]*Counter, workers)
	for i := range counters {
		c, err := NewCounter(pattern)
		if err != nil {
			return nil, err
		}
		counters[i] = c
	}
	var wg sync.WaitGroup
	for _, c := range counters {
		wg.Go(func() {
			for doc := range docs {
				c.Add(doc)
			}
		})
	}
	wg.Wait()
	// Merge into the largest table: fewest new keys to insert.
	slices.SortFunc(counters, func(a, b *Counter) int { return b.counts.Len() - a.counts.Len() })
	all := counters[0].counts
	for _, c := range counters[1:] {
		if err := all.Merge(c.counts); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// The counts file.
//
// A counts file is zstd-compressed text (ReadCounts also takes gzip or no
// compression). The first line names the format and its version, the second
// is a JSON header, and then each distinct piece has one line, its bytes in
// standard base64, a space, and its count, in byte order of the pieces so
// that the same table always gives the same file:
//
//	pipe-bpe-counts 1
//	{"pattern":"gpt2","pieces":3,"total":5,"documents":2}
//	IGNhdA== 1
//	IHRoZQ== 1
//	dGhl 3
//
// (" cat" 1, " the" 1, "the" 3.)

const countsMagic = "pipe-bpe-counts"
const countsVersion = 1

// ErrBadCounts is wrapped by every error about the content of a counts file.
var ErrBadCounts = errors.New("bad counts file")

type countsHeader struct {
	Pattern   string `json:"pattern"`
	Pieces    int64  `json:"pieces"`
	Total     int64  `json:"total"`
	Documents int64  `json:"documents"`
}

// WriteCounts writes c to w as a zstd-compressed counts file.
func WriteCounts(w io.Writer, c *Counts) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	hdr, err := json.Marshal(countsHeader{Pattern: c.Pattern, Pieces: int64(c.Len()), Total: c.total, Documents: c.Documents})
	if err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	fmt.Fprintf(bw, "%s %d\n%s\n", countsMagic, countsVersion, hdr)
	var line []byte
	for _, i := range c.sorted() {
		line = base64.StdEncoding.AppendEncode(line[:0], []byte(c.piece[i]))
		line = append(line, ' ')
		line = strconv.AppendInt(line, c.n[i], 10)
		line = append(line, '\n')
		bw.Write(line) // a failed write sticks in bw and comes back from Flush
	}
	if err := bw.Flush(); err != nil {
		zw.Close()
		return fmt.Errorf("write counts: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

// ReadCounts reads a counts file written by WriteCounts, compressed with
// zstd or gzip or not at all. Any fault in the content is an error that
// names the line and wraps ErrBadCounts, and so is a file that ends before
// the pieces its header announced.
func ReadCounts(r io.Reader) (*Counts, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(4) // a short file fails below as a bad first line
	switch {
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("read counts: %w", err)
		}
		defer zr.Close()
		return readCounts(zr)
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read counts: %w", err)
		}
		defer zr.Close()
		return readCounts(zr)
	}
	return readCounts(br)
}

func readCounts(r io.Reader) (*Counts, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<30) // a piece may be long: one run of spaces
	lineNo := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("counts line %d: %w: %s", lineNo, ErrBadCounts, fmt.Sprintf(format, args...))
	}
	next := func() bool { lineNo++; return sc.Scan() }

	if !next() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read counts: %w", err)
		}
		return nil, bad("empty file")
	}
	want := fmt.Sprintf("%s %d", countsMagic, countsVersion)
	if first := sc.Text(); first != want {
		if strings.HasPrefix(first, countsMagic+" ") {
			return nil, bad("version %q, this program reads %d", strings.TrimPrefix(first, countsMagic+" "), countsVersion)
		}
		return nil, bad("not a counts file: first line is not %q", want)
	}
	if !next() {
		return nil, bad("missing header")
	}
	var hdr countsHeader
	dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return nil, bad("header: %v", err)
	}
	if hdr.Pieces < 0 || hdr.Total < 0 || hdr.Documents < 0 {
		return nil, bad("header: negative number")
	}

	c := NewCounts(hdr.Pattern)
	c.Documents = hdr.Documents
	var piece, prev []byte
	for next() {
		line := sc.Bytes()
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil, bad("want \"base64 count\"")
		}
		var err error
		piece, err = base64.StdEncoding.AppendDecode(piece[:0], line[:sp])
		if err != nil {
			return nil, bad("piece: %v", err)
		}
		if len(piece) == 0 {
			return nil, bad("empty piece")
		}
		n, err := strconv.ParseInt(string(line[sp+1:]), 10, 64)
		if err != nil || n <= 0 {
			return nil, bad("count %q is not a positive integer", line[sp+1:])
		}
		if c.Len() > 0 && bytes.Compare(prev, piece) >= 0 {
			return nil, bad("pieces out of order or repeated")
		}
		if int64(c.Len()) == hdr.Pieces {
			return nil, bad("more pieces than the header's %d", hdr.Pieces)
		}
		c.addNew(string(piece), n)
		c.total += n
		prev, piece = piece, prev
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read counts: line %d: %w", lineNo, err)
	}
	lineNo-- // the last line read; the faults below are about the file as a whole
	if int64(c.Len()) != hdr.Pieces {
		return nil, bad("file ends after %d pieces, header says %d", c.Len(), hdr.Pieces)
	}
	if c.total != hdr.Total {
		return nil, bad("counts add up to %d, header says %d", c.total, hdr.Total)
	}
	return c, nil
}
