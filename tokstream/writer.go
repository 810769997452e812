package tokstream

import (
	"bufio"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultBatchBytes is the size of a record batch unless Writer.BatchBytes
// says otherwise.
const DefaultBatchBytes = 4 << 20

// Writer writes a token stream. Documents are gathered into a record batch
// until it holds BatchBytes of token values and ids, then the batch is
// written; Close writes the last one and the end-of-stream marker.
//
// An error of the underlying writer is kept and returned by every later
// Write and by Close. A document that is refused (a token out of range)
// leaves the stream as it was; the Writer stays usable.
type Writer struct {
	// BatchBytes is the size, in bytes of token values and ids, at which a
	// record batch is cut (a larger document makes a larger batch). Zero
	// means DefaultBatchBytes. Set it before the first Write.
	BatchBytes int

	meta   Meta
	schema *arrow.Schema
	bw     *bufio.Writer
	iw     *ipc.Writer
	ids    *array.StringBuilder
	lists  *array.LargeListBuilder
	u16    *array.Uint16Builder // the values of lists, one of these two
	u32    *array.Uint32Builder
	narrow []uint16 // a document's tokens as uint16
	rows   int      // documents in the batch being built
	bytes  int      // their token values and ids, in bytes
	err    error
	closed bool
}

// NewWriter returns a Writer of a stream described by meta to w. meta.DType
// may be left empty: uint16 is chosen when VocabSize ≤ 65,536, else uint32.
// Nothing is written before the first Write or Close, and Close does not
// close w.
func NewWriter(w io.Writer, meta Meta) (*Writer, error) {
	if meta.DType == "" {
		meta.DType = dtypeFor(meta.VocabSize)
	}
	if err := meta.check(); err != nil {
		return nil, fmt.Errorf("token stream: %w", err)
	}
	mem := memory.NewGoAllocator()
	tw := &Writer{meta: meta, schema: schema(meta), bw: bufio.NewWriterSize(w, 256<<10)}
	tw.iw = ipc.NewWriter(tw.bw, ipc.WithSchema(tw.schema), ipc.WithAllocator(mem))
	tw.ids = array.NewStringBuilder(mem)
	tw.lists = array.NewLargeListBuilderWithField(mem, tw.schema.Field(1).Type.(*arrow.LargeListType).ElemField())
	switch vb := tw.lists.ValueBuilder().(type) {
	case *array.Uint16Builder:
		tw.u16 = vb
	case *array.Uint32Builder:
		tw.u32 = vb
	}
	return tw, nil
}

// Meta returns the stream's metadata, DType filled in.
func (w *Writer) Meta() Meta { return w.meta }

func (w *Writer) batchBytes() int {
	if w.BatchBytes > 0 {
		return w.BatchBytes
	}
	return DefaultBatchBytes
}

// Write adds one document. A token id at or above the vocab size is an
// error, and the document is not written.
func (w *Writer) Write(id string, tokens []uint32) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("token stream: write after close")
	}
	vocab := uint64(w.meta.VocabSize)
	for i, t := range tokens {
		if uint64(t) >= vocab {
			return fmt.Errorf("token stream: document %q: token %d at %d is not below the vocab size %d", id, t, i, vocab)
		}
	}
	if w.rows == 0 {
		w.reserve(len(tokens))
	}
	w.ids.Append(id)
	w.lists.Append(true)
	if w.u16 != nil {
		w.narrow = w.narrow[:0]
		for _, t := range tokens {
			w.narrow = append(w.narrow, uint16(t))
		}
		w.u16.AppendValues(w.narrow, nil)
		w.bytes += 2 * len(tokens)
	} else {
		w.u32.AppendValues(tokens, nil)
		w.bytes += 4 * len(tokens)
	}
	w.rows++
	w.bytes += len(id)
	if w.bytes >= w.batchBytes() {
		return w.flush()
	}
	return nil
}

// reserve sizes the value builder for a whole batch once, instead of
// letting it grow by doubling.
func (w *Writer) reserve(first int) {
	width := 4
	if w.u16 != nil {
		width = 2
	}
	n := max(first, w.batchBytes()/width)
	if w.u16 != nil {
		w.u16.Reserve(n)
	} else {
		w.u32.Reserve(n)
	}
}

// flush writes the batch being built.
func (w *Writer) flush() error {
	if w.rows == 0 {
		return nil
	}
	ids, lists := w.ids.NewArray(), w.lists.NewArray()
	rec := array.NewRecordBatch(w.schema, []arrow.Array{ids, lists}, int64(w.rows))
	err := w.iw.Write(rec)
	rec.Release()
	ids.Release()
	lists.Release()
	w.rows, w.bytes = 0, 0
	if err != nil {
		w.err = fmt.Errorf("token stream: %w", err)
	}
	return w.err
}

// Close writes the last batch and the end of the stream, and flushes.
// A stream of no documents is valid: its schema and end marker.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.iw.Close(); err != nil {
		w.err = fmt.Errorf("token stream: %w", err)
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("token stream: %w", err)
	}
	return w.err
}
