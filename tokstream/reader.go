package tokstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pipe-dev/pipe/internal/arrowfb"
)

// Batch is a run of documents as the stream holds them: document i is
// IDs[i] with tokens Values[Offsets[i]:Offsets[i+1]], where Values is U16
// or U32 according to the stream's DType (the other is nil, so either tells
// the dtype). The slices view
// the stream's buffers and stay valid until the next call to Next or
// NextBatch; copy what must outlive it.
type Batch struct {
	IDs     []string
	Offsets []int64 // len(IDs)+1, non-decreasing, indexes into U16 or U32
	U16     []uint16
	U32     []uint32
}

// Len is the number of documents in b.
func (b *Batch) Len() int { return len(b.IDs) }

// Limits on one message of a stream and on one buffer, so that a corrupt
// length is an error rather than an allocation of that size. A batch holds
// at least one whole document, and the largest document docio reads
// (256 MiB of text) makes at most 1 GiB of uint32 tokens.
var (
	maxBodyBytes     int64 = 2 << 30
	maxMetadataBytes int64 = 16 << 20
)

// boundedAllocator is a Go allocator that refuses to allocate more than
// maxBodyBytes at once. arrow-go sizes some buffers from lengths written in
// the stream without bounding them (the uncompressed length of a compressed
// buffer, for one), so a corrupt length would otherwise allocate without
// limit. The ipc reader recovers the panic and reports it as an error.
type boundedAllocator struct{ memory.GoAllocator }

func (a *boundedAllocator) check(n int) {
	if int64(n) > maxBodyBytes {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the limit of %d", n, maxBodyBytes))
	}
}

func (a *boundedAllocator) Allocate(n int) []byte {
	a.check(n)
	return a.GoAllocator.Allocate(n)
}

func (a *boundedAllocator) Reallocate(n int, b []byte) []byte {
	a.check(n)
	return a.GoAllocator.Reallocate(n, b)
}

// Reader reads a token stream (or several concatenated, see the package
// documentation). Each batch is checked as it is read: no nulls, offsets in
// range, every token below the vocab size. Streams of other producers read
// too, compressed ones included, as long as the schema and metadata are
// ours (column order and nullability do not matter).
//
// No message or buffer may exceed 2 GiB, a message's body is allocated as
// its bytes arrive, and each message's flatbuffer header is checked
// (internal/arrowfb) before arrow-go reads it, so a corrupt length is an
// error, not an allocation.
type Reader struct {
	// ReuseTokens lets Next return a tokens slice that the next call
	// overwrites, saving an allocation per document (as csv.Reader's
	// ReuseRecord).
	ReuseTokens bool

	src    *bufio.Reader
	mem    memory.Allocator
	meta   Meta // of the first stream, which the others must equal
	ir     *ipc.Reader
	idCol  int
	tokCol int

	stream  int // 1-based number of the stream being read
	batchNo int // 1-based number of the batch in that stream
	batch   Batch
	row     int // next row of batch for Next
	buf     []uint32
	err     error
}

// NewReader reads the schema of the stream in r and checks its metadata: a
// schema without pipe.format "pipe-tokens", or of another version, is an
// error wrapping ErrFormat.
func NewReader(r io.Reader) (*Reader, error) {
	tr := &Reader{src: bufio.NewReaderSize(r, 256<<10), mem: &boundedAllocator{}}
	if _, err := tr.src.Peek(1); err == io.EOF {
		return nil, fmt.Errorf("%w: the input is empty", ErrFormat)
	}
	if err := tr.startStream(); err != nil {
		return nil, err
	}
	return tr, nil
}

// Meta returns the metadata of the stream.
func (r *Reader) Meta() Meta { return r.meta }

// startStream begins reading the next stream of the input at its schema.
func (r *Reader) startStream() error {
	r.stream++
	r.batchNo = 0
	mr := &messageReader{r: r.src, mem: r.mem}
	mr.refs.Add(1)
	ir, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(r.mem))
	if err != nil {
		return r.posErr(fmt.Errorf("read schema: %w", r.classify(err)))
	}
	m, idCol, tokCol, err := parseSchema(ir.Schema())
	if err != nil {
		ir.Release()
		return r.posErr(err)
	}
	if r.stream == 1 {
		r.meta = m
	} else if m != r.meta {
		ir.Release()
		return r.posErr(fmt.Errorf("%w: concatenated stream describes another tokenizer: %+v, the first stream %+v", ErrFormat, m, r.meta))
	}
	if r.ir != nil {
		r.ir.Release()
	}
	r.ir, r.idCol, r.tokCol = ir, idCol, tokCol
	return nil
}

// classify maps the end of input in the middle of a stream to ErrTruncated,
// and what arrow-go refuses in a message to ErrFormat; a failure to read
// the input stays as it is.
func (r *Reader) classify(err error) error {
	var re readError
	switch {
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrFormat), errors.As(err, &re):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %v", ErrFormat, err)
}

// readError is a failure to read the input (not its end).
type readError struct{ error }

func (e readError) Unwrap() error { return e.error }

// posErr says where in the input err happened.
func (r *Reader) posErr(err error) error {
	where := "token stream"
	if r.stream > 1 {
		where += fmt.Sprintf(" %d", r.stream)
	}
	if r.batchNo > 0 {
		where += fmt.Sprintf(", batch %d", r.batchNo)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// Next returns the next document, or io.EOF after the last. The tokens are
// the caller's unless ReuseTokens is set.
func (r *Reader) Next() (id string, tokens []uint32, err error) {
	for r.row >= r.batch.Len() {
		if err := r.load(); err != nil {
			return "", nil, err
		}
	}
	b, i := &r.batch, r.row
	r.row++
	lo, hi := b.Offsets[i], b.Offsets[i+1]
	if r.ReuseTokens {
		tokens = r.buf[:0]
	} else {
		tokens = make([]uint32, 0, hi-lo)
	}
	if b.U16 != nil {
		for _, t := range b.U16[lo:hi] {
			tokens = append(tokens, uint32(t))
		}
	} else {
		tokens = append(tokens, b.U32[lo:hi]...)
	}
	if r.ReuseTokens {
		r.buf = tokens
	}
	return strings.Clone(b.IDs[i]), tokens, nil
}

// NextBatch returns the documents of the next record batch (or, after Next,
// the rest of the current one), or io.EOF after the last. It never returns
// an empty batch.
func (r *Reader) NextBatch() (Batch, error) {
	for r.row >= r.batch.Len() {
		if err := r.load(); err != nil {
			return Batch{}, err
		}
	}
	b := r.batch
	b.IDs, b.Offsets = b.IDs[r.row:], b.Offsets[r.row:]
	r.row = r.batch.Len()
	return b, nil
}

// load reads the next record batch into r.batch, going on to the next
// concatenated stream at the end of one.
func (r *Reader) load() error {
	if r.err != nil {
		return r.err
	}
	r.row = 0
	r.batch = Batch{IDs: r.batch.IDs[:0]}
	for !r.ir.Next() {
		if err := r.ir.Err(); err != nil {
			r.batchNo++
			r.err = r.posErr(r.classify(err))
			return r.err
		}
		// The end-of-stream marker: the end of the input, or another stream.
		if _, err := r.src.Peek(1); err == io.EOF {
			r.err = io.EOF
			return r.err
		} else if err != nil {
			r.err = r.posErr(err)
			return r.err
		}
		if err := r.startStream(); err != nil {
			r.err = err
			return r.err
		}
	}
	r.batchNo++
	if err := r.view(r.ir.RecordBatch()); err != nil {
		r.err = r.posErr(err)
		r.batch = Batch{}
	}
	return r.err
}

// view points r.batch at the columns of rec, checking them. Arrays decoded
// from a corrupt message can have buffers too short for their length, on
// which arrow-go's accessors panic: that is a corrupt batch too.
func (r *Reader) view(rec arrow.RecordBatch) (err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	defer func() {
		if p := recover(); p != nil {
			err = bad("corrupt record batch: %v", p)
		}
	}()
	n := int(rec.NumRows())
	ids, ok := rec.Column(r.idCol).(*array.String)
	if !ok || ids.NullN() > 0 {
		return bad("column id has nulls")
	}
	lists, ok := rec.Column(r.tokCol).(*array.LargeList)
	if !ok || lists.NullN() > 0 || lists.ListValues().NullN() > 0 {
		return bad("column tokens has nulls")
	}
	off := lists.Data().Offset()
	if n == 0 {
		return nil
	}
	if len(lists.Offsets()) < off+n+1 {
		return bad("column tokens has %d offsets for %d rows", len(lists.Offsets())-off, n)
	}
	offsets := lists.Offsets()[off : off+n+1]
	var nvals int
	switch vals := lists.ListValues().(type) {
	case *array.Uint16:
		r.batch.U16 = vals.Uint16Values()
		if r.batch.U16 == nil {
			r.batch.U16 = []uint16{} // never nil: it tells the dtype
		}
		nvals = len(r.batch.U16)
	case *array.Uint32:
		r.batch.U32 = vals.Uint32Values()
		if r.batch.U32 == nil {
			r.batch.U32 = []uint32{}
		}
		nvals = len(r.batch.U32)
	}
	if offsets[0] < 0 {
		return bad("negative offset")
	}
	for i := range n {
		if offsets[i+1] < offsets[i] {
			return bad("offsets decrease at row %d", i)
		}
	}
	lo, hi := offsets[0], offsets[n]
	if hi > int64(nvals) {
		return bad("offset %d past the %d token values", hi, nvals)
	}
	if err := r.checkRange(lo, hi); err != nil {
		return err
	}
	for i := range n {
		r.batch.IDs = append(r.batch.IDs, ids.Value(i))
	}
	r.batch.Offsets = offsets
	return nil
}

// checkRange checks that the values in [lo, hi) are below the vocab size.
func (r *Reader) checkRange(lo, hi int64) error {
	vocab := uint64(r.meta.VocabSize)
	var top uint32
	if r.batch.U16 != nil {
		var m uint16
		for _, t := range r.batch.U16[lo:hi] {
			m = max(m, t)
		}
		top = uint32(m)
	} else {
		for _, t := range r.batch.U32[lo:hi] {
			top = max(top, t)
		}
	}
	if hi > lo && uint64(top) >= vocab {
		return fmt.Errorf("%w: token %d is not below the vocab size %d", ErrFormat, top, vocab)
	}
	return nil
}

// messageReader reads the messages of one stream for arrow-go's ipc reader
// (an ipc.MessageReader), checking each as it goes: the lengths against
// maxMetadataBytes and maxBodyBytes, the flatbuffer header (arrowfb), and
// the end, telling the end-of-stream marker (io.EOF) from input that stops
// between two messages or inside one (ErrTruncated).
//
// A message is a 4-byte continuation marker 0xFFFFFFFF (absent before
// Arrow 0.15), the length of the metadata, the metadata (a Message
// flatbuffer, padded to 8 bytes), then a body of the length it states. A
// length of 0 is the end-of-stream marker.
type messageReader struct {
	r    io.Reader
	mem  memory.Allocator
	msg  *ipc.Message // the last, released by the next call
	refs atomic.Int64
}

func (m *messageReader) Retain() { m.refs.Add(1) }

func (m *messageReader) Release() {
	if m.refs.Add(-1) == 0 && m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
}

func (m *messageReader) Message() (*ipc.Message, error) {
	if m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
	var word [4]byte
	if _, err := io.ReadFull(m.r, word[:]); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the input ends without the end-of-stream marker", ErrTruncated)
		}
		return nil, m.truncated("message", err)
	}
	n := binary.LittleEndian.Uint32(word[:])
	if n == 0xffffffff {
		if _, err := io.ReadFull(m.r, word[:]); err != nil {
			return nil, m.truncated("message length", err)
		}
		n = binary.LittleEndian.Uint32(word[:])
	}
	if n == 0 {
		return nil, io.EOF
	}
	if int64(int32(n)) < 4 || int64(n) > maxMetadataBytes {
		return nil, fmt.Errorf("%w: message metadata of %d bytes (the limit is %d)", ErrFormat, int32(n), maxMetadataBytes)
	}
	meta := make([]byte, n)
	if _, err := io.ReadFull(m.r, meta); err != nil {
		return nil, m.truncated("message metadata", err)
	}
	if err := arrowfb.Message(meta); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	body, err := m.body(meta)
	if err != nil {
		return nil, err
	}
	m.msg = ipc.NewMessage(memory.NewBufferBytes(meta), body)
	body.Release()
	return m.msg, nil
}

// body reads the body the message's metadata states the length of, growing the buffer as the
// bytes arrive, so that a corrupt length allocates no more than the input holds.
func (m *messageReader) body(meta []byte) (*memory.Buffer, error) {
	n := arrowfb.BodyLength(meta)
	if n < 0 || n > maxBodyBytes {
		return nil, fmt.Errorf("%w: a message body of %d bytes (the limit is %d)", ErrFormat, n, maxBodyBytes)
	}
	body := memory.NewResizableBuffer(m.mem)
	for have := int64(0); have < n; {
		next := min(n, max(2*have, 1<<20))
		body.Resize(int(next))
		if _, err := io.ReadFull(m.r, body.Bytes()[have:next]); err != nil {
			body.Release()
			return nil, m.truncated("message body", err)
		}
		have = next
	}
	return body, nil
}

// truncated is err, reading what, as ErrTruncated where the input ended.
func (m *messageReader) truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the input ends inside a %s", ErrTruncated, what)
	}
	return readError{fmt.Errorf("read %s: %w", what, err)}
}
