package shard

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/tokstream"
)

// fileWriter writes one shard file. The record batch being built is kept
// as the Arrow buffers themselves (id offsets and bytes, token offsets and
// values), so that writing it takes no builder and no copy.
type fileWriter struct {
	name       string // inside the directory
	split      string
	out        *docio.Output // a temporary file until Close renames it
	sum        hash.Hash
	size       int64
	bw         *bufio.Writer
	iw         *ipc.FileWriter
	schema     *arrow.Schema
	batchBytes int
	wide       bool // uint32 tokens, else uint16

	// The record batch being built.
	ids    []byte
	idOffs []int32 // len rows+1
	offs   []int64 // len rows+1
	u16    []uint16
	u32    []uint32

	docs, tokens int64 // in the file so far
}

// hashCounter passes writes on to out, hashing and counting them.
type hashCounter struct{ w *fileWriter }

func (h hashCounter) Write(p []byte) (int, error) {
	n, err := h.w.out.Write(p)
	h.w.sum.Write(p[:n])
	h.w.size += int64(n)
	return n, err
}

func newFileWriter(path, name, split string, schema *arrow.Schema, compression string, batchBytes int) (*fileWriter, error) {
	out, err := docio.Create(path)
	if err != nil {
		return nil, err
	}
	w := &fileWriter{name: name, split: split, out: out, sum: sha256.New(), schema: schema, batchBytes: batchBytes,
		idOffs: []int32{0}, offs: []int64{0}}
	w.wide = schema.Field(1).Type.(*arrow.LargeListType).Elem().ID() == arrow.UINT32
	if w.wide { // room for a batch, instead of growing to it by doubling
		w.u32 = make([]uint32, 0, batchBytes/4+1)
	} else {
		w.u16 = make([]uint16, 0, batchBytes/2+1)
	}
	w.bw = bufio.NewWriterSize(hashCounter{w}, 1<<20)
	opts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(memory.NewGoAllocator())}
	switch compression {
	case Zstd:
		opts = append(opts, ipc.WithZstd())
	case LZ4:
		opts = append(opts, ipc.WithLZ4())
	}
	if w.iw, err = ipc.NewFileWriter(w.bw, opts...); err != nil {
		out.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return w, nil
}

// add appends a document: its tokens are u16 for a uint16 shard, else u32.
func (w *fileWriter) add(id string, u16 []uint16, u32 []uint32) error {
	if len(w.ids)+len(id) > math.MaxInt32 {
		if err := w.flush(); err != nil {
			return err
		}
		if len(id) > math.MaxInt32 {
			return fmt.Errorf("document id of %d bytes is too long", len(id))
		}
	}
	w.ids = append(w.ids, id...)
	w.idOffs = append(w.idOffs, int32(len(w.ids)))
	var n, bytes int
	if !w.wide {
		w.u16 = append(w.u16, u16...)
		n, bytes = len(u16), 2*len(w.u16)
	} else {
		w.u32 = append(w.u32, u32...)
		n, bytes = len(u32), 4*len(w.u32)
	}
	w.offs = append(w.offs, w.offs[len(w.offs)-1]+int64(n))
	w.docs++
	w.tokens += int64(n)
	if bytes+len(w.ids) >= w.batchBytes {
		return w.flush()
	}
	return nil
}

// flush writes the record batch being built, if it has a row.
func (w *fileWriter) flush() error {
	rows := len(w.offs) - 1
	if rows == 0 {
		return nil
	}
	listType := w.schema.Field(1).Type.(*arrow.LargeListType)
	var vals arrow.ArrayData
	if !w.wide {
		vals = array.NewData(listType.Elem(), len(w.u16), []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Uint16Traits.CastToBytes(w.u16))}, nil, 0, 0)
	} else {
		vals = array.NewData(listType.Elem(), len(w.u32), []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Uint32Traits.CastToBytes(w.u32))}, nil, 0, 0)
	}
	idData := array.NewData(arrow.BinaryTypes.String, rows, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(w.idOffs)), memory.NewBufferBytes(w.ids)}, nil, 0, 0)
	listData := array.NewData(listType, rows, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(w.offs))}, []arrow.ArrayData{vals}, 0, 0)
	ids, lists := array.NewStringData(idData), array.NewLargeListData(listData)
	rec := array.NewRecordBatch(w.schema, []arrow.Array{ids, lists}, int64(rows))
	err := w.iw.Write(rec)
	rec.Release()
	ids.Release()
	lists.Release()
	idData.Release()
	listData.Release()
	vals.Release()
	w.ids, w.idOffs, w.offs = w.ids[:0], w.idOffs[:1], w.offs[:1]
	w.u16, w.u32 = w.u16[:0], w.u32[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", w.out.Name(), err)
	}
	return nil
}

// close writes the last batch and the footer, renames the file into place
// and returns its manifest entry.
func (w *fileWriter) close() (ShardEntry, error) {
	err := w.flush()
	if err == nil {
		if err = w.iw.Close(); err != nil {
			err = fmt.Errorf("write %s: %w", w.out.Name(), err)
		}
	}
	if err == nil {
		err = w.bw.Flush()
	}
	if err != nil {
		w.out.Abort()
		return ShardEntry{}, err
	}
	if err := w.out.Close(); err != nil {
		return ShardEntry{}, err
	}
	return ShardEntry{File: w.name, Split: w.split, Documents: w.docs, Tokens: w.tokens,
		Bytes: w.size, SHA256: hex.EncodeToString(w.sum.Sum(nil))}, nil
}

// abort removes the temporary file.
func (w *fileWriter) abort() { w.out.Abort() }

// schemaFor is the schema of shard files holding tokens described by meta.
func schemaFor(meta tokstream.Meta) (*arrow.Schema, error) {
	return tokstream.SchemaFor(FileFormat, FileVersion, meta)
}
