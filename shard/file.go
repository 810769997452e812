package shard

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/pipe-dev/pipe/internal/arrowfb"
	"github.com/pipe-dev/pipe/tokstream"
)

// arrowMagic starts and ends every Arrow IPC file.
var arrowMagic = []byte("ARROW1")

// File is one shard file, mapped into memory and read with arrow-go's
// mapped file reader: the record batches of an uncompressed shard view the
// map without a copy. A File is not safe for concurrent use.
type File struct {
	path   string
	data   []byte
	fr     *ipc.FileReader
	meta   tokstream.Meta
	idCol  int
	tokCol int
	last   arrow.RecordBatch // of the last call to Batch
}

// OpenFile maps the shard at path and reads its schema. A file that does
// not end with the Arrow footer is an error wrapping ErrTruncated; one that
// is not an Arrow file, or whose metadata is not a pipe-shard's of this
// version, wraps ErrFormat.
func OpenFile(path string) (*File, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := openMapped(path, data)
	if err != nil {
		unmapFile(data)
		return nil, err
	}
	return f, nil
}

func openMapped(path string, data []byte) (f *File, err error) {
	if !bytes.HasPrefix(data, arrowMagic) {
		return nil, fmt.Errorf("%s: %w: not an Arrow IPC file (it does not start with ARROW1)", path, ErrFormat)
	}
	if len(data) < 2*len(arrowMagic)+2+4 || !bytes.HasSuffix(data, arrowMagic) {
		return nil, fmt.Errorf("%s: %w: its %d bytes do not end with the Arrow footer", path, ErrTruncated, len(data))
	}
	// arrow-go trusts the lengths in the footer and the messages' headers: check them first
	if err := arrowfb.File(data); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrFormat, err)
	}
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%s: %w: corrupt Arrow footer: %v", path, ErrFormat, p)
		}
	}()
	fr, err := ipc.NewMappedFileReader(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrFormat, err)
	}
	meta, idCol, tokCol, err := tokstream.ParseSchemaFor(fr.Schema(), FileFormat, FileVersion)
	if err != nil {
		fr.Close()
		return nil, fmt.Errorf("%s: %w: %v", path, ErrFormat, err)
	}
	return &File{path: path, data: data, fr: fr, meta: meta, idCol: idCol, tokCol: tokCol}, nil
}

// Path is the path the file was opened by.
func (f *File) Path() string { return f.path }

// Meta is the tokenizer and dtype in the file's schema metadata.
func (f *File) Meta() tokstream.Meta { return f.meta }

// Size is the file's size in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// NumBatches is the number of record batches.
func (f *File) NumBatches() int { return f.fr.NumRecords() }

// Batch returns record batch i, after the token stream's checks: no nulls,
// offsets in range and non-decreasing, every token below the vocab size.
// Its slices view the map, or for a compressed shard a decoded copy; they
// stay valid until the next call to Batch, or Close.
func (f *File) Batch(i int) (tokstream.Batch, error) {
	rec, b, err := f.batch(i)
	if f.last != nil {
		f.last.Release()
	}
	f.last = rec
	return b, err
}

// batch is Batch returning the record batch it views, which the caller
// releases (nil on error).
func (f *File) batch(i int) (arrow.RecordBatch, tokstream.Batch, error) {
	rec, err := f.fr.RecordBatchAt(i)
	if err != nil {
		return nil, tokstream.Batch{}, fmt.Errorf("%s: batch %d: %w: %v", f.path, i, ErrFormat, err)
	}
	b, err := tokstream.CheckBatch(rec, f.meta, f.idCol, f.tokCol)
	if err != nil {
		rec.Release()
		return nil, tokstream.Batch{}, fmt.Errorf("%s: batch %d: %w: %v", f.path, i, ErrFormat, err)
	}
	return rec, b, nil
}

// counts returns the documents and tokens of batch i from the two ends of
// its offsets, without reading the rest. Batch checks the whole.
func (f *File) counts(i int) (docs, tokens int64, err error) {
	rec, err := f.fr.RecordBatchAt(i)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: batch %d: %w: %v", f.path, i, ErrFormat, err)
	}
	defer rec.Release()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: batch %d: %w: corrupt record batch: %v", f.path, i, ErrFormat, p)
		}
	}()
	n := int(rec.NumRows())
	lists, ok := rec.Column(f.tokCol).(*array.LargeList)
	if !ok {
		return 0, 0, fmt.Errorf("%s: batch %d: %w: column tokens is %v", f.path, i, ErrFormat, rec.Column(f.tokCol).DataType())
	}
	if n == 0 {
		return 0, 0, nil
	}
	off, offsets := lists.Data().Offset(), lists.Offsets()
	if len(offsets) < off+n+1 || offsets[off+n] < offsets[off] {
		return 0, 0, fmt.Errorf("%s: batch %d: %w: corrupt offsets of column tokens", f.path, i, ErrFormat)
	}
	return int64(n), offsets[off+n] - offsets[off], nil
}

// mapped reports whether the slice s lies inside the file's map, that is
// whether reading it took no copy.
func mapped[T any](data []byte, s []T) bool {
	if len(s) == 0 {
		return true
	}
	var zero T
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return p >= base && p+uintptr(len(s))*unsafe.Sizeof(zero) <= base+uintptr(len(data))
}

// Close releases the file and its map; slices from Batch are invalid after.
func (f *File) Close() error {
	if f.last != nil {
		f.last.Release()
		f.last = nil
	}
	if f.fr != nil {
		f.fr.Close()
		f.fr = nil
	}
	err := unmapFile(f.data)
	f.data = nil
	return err
}
