// Package arrowfb checks the flatbuffers of Arrow IPC metadata (a message's header, a file's
// footer) before arrow-go reads them. arrow-go v18 trusts the lengths of the vectors in them:
// given a schema whose field count is corrupt it allocates that many fields, and the process
// dies out of memory, which no recover catches. Message and File walk every table, vector and
// string of the metadata that arrow-go reads (Arrow's Message.fbs, Schema.fbs, File.fbs) and
// report the first that does not lie inside its buffer, as an error wrapping ErrCorrupt.
//
// A flatbuffer, in brief: the buffer starts with the offset of the root table; a table starts
// with the signed offset back to its vtable, which lists the table's length and, per field, the
// field's offset in the table (0: absent); a field that is a table, vector or string holds an
// unsigned offset forward to it; a vector is its element count, then the elements; a string is
// a vector of bytes.
package arrowfb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is what every error of the package wraps.
var ErrCorrupt = errors.New("corrupt Arrow metadata")

// maxDepth bounds the nesting of fields (a list of lists of …), which arrow-go walks by
// recursion.
const maxDepth = 64

// The message header types (MessageHeader in Message.fbs) and the field types whose tables
// hold a vector or string (Type in Schema.fbs).
const (
	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3
	headerSparseTensor    = 5
	typeTimestamp         = 10 // timezone: string
	typeUnion             = 14 // typeIds: [int]
	typeLast              = 26 // LargeListView
)

type buf []byte

func (b buf) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func (b buf) u32(pos int) (uint32, error) {
	if pos < 0 || pos > len(b)-4 {
		return 0, b.corrupt("offset %d is outside its %d bytes", pos, len(b))
	}
	return binary.LittleEndian.Uint32(b[pos:]), nil
}

func (b buf) u16(pos int) (int, error) {
	if pos < 0 || pos > len(b)-2 {
		return 0, b.corrupt("offset %d is outside its %d bytes", pos, len(b))
	}
	return int(binary.LittleEndian.Uint16(b[pos:])), nil
}

// table is a table at pos of b whose vtable is at vt.
type table struct {
	b             buf
	pos, vt       int
	vtLen, tblLen int
	what          string // for messages: "schema field 3"
}

// table reads the table at pos.
func (b buf) table(pos int, what string) (table, error) {
	so, err := b.u32(pos)
	if err != nil {
		return table{}, fmt.Errorf("%s: %w", what, err)
	}
	t := table{b: b, pos: pos, vt: pos - int(int32(so)), what: what}
	if t.vtLen, err = b.u16(t.vt); err == nil {
		t.tblLen, err = b.u16(t.vt + 2)
	}
	switch {
	case err != nil:
		return table{}, fmt.Errorf("%s: vtable: %w", what, err)
	case t.vtLen < 4 || t.vtLen%2 != 0 || t.vt+t.vtLen > len(b):
		return table{}, b.corrupt("%s: a vtable of %d bytes at %d, in %d", what, t.vtLen, t.vt, len(b))
	case t.tblLen < 4 || pos+t.tblLen > len(b):
		return table{}, b.corrupt("%s: a table of %d bytes at %d, in %d", what, t.tblLen, pos, len(b))
	}
	return t, nil
}

// field is where field i's value of size bytes starts, 0 when the field is absent.
func (t table) field(i, size int) (int, error) {
	slot := 4 + 2*i
	if slot+2 > t.vtLen {
		return 0, nil
	}
	off, _ := t.b.u16(t.vt + slot)
	if off == 0 {
		return 0, nil
	}
	if off+size > t.tblLen {
		return 0, t.b.corrupt("%s: field %d at %d of a table of %d bytes", t.what, i, off, t.tblLen)
	}
	return t.pos + off, nil
}

// u8 is field i as a byte, 0 when absent.
func (t table) u8(i int) (int, error) {
	p, err := t.field(i, 1)
	if p == 0 || err != nil {
		return 0, err
	}
	return int(t.b[p]), nil
}

// ref follows the offset that field i holds: where its table, vector or string is, 0 when
// the field is absent.
func (t table) ref(i int) (int, error) {
	p, err := t.field(i, 4)
	if p == 0 || err != nil {
		return 0, err
	}
	off, _ := t.b.u32(p)
	return p + int(off), nil
}

// sub is the table field i refers to; ok false when it is absent.
func (t table) sub(i int, what string) (s table, ok bool, err error) {
	p, err := t.ref(i)
	if p == 0 || err != nil {
		return table{}, false, err
	}
	s, err = t.b.table(p, t.what+": "+what)
	return s, err == nil, err
}

// vector checks the vector field i refers to, of elements of size bytes each (a string is one
// of bytes), and returns where its elements start and how many there are.
func (t table) vector(i, size int, what string) (start, n int, err error) {
	p, err := t.ref(i)
	if p == 0 || err != nil {
		return 0, 0, err
	}
	u, err := t.b.u32(p)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %s: %w", t.what, what, err)
	}
	start = p + 4
	if int64(u)*int64(size) > int64(len(t.b)-start) {
		return 0, 0, t.b.corrupt("%s: %s has %d elements of %d bytes at %d, in %d bytes", t.what, what, u, size, start, len(t.b))
	}
	return start, int(u), nil
}

// tables is the vector of tables field i refers to.
func (t table) tables(i int, what string) ([]table, error) {
	start, n, err := t.vector(i, 4, what)
	if err != nil {
		return nil, err
	}
	out := make([]table, n)
	for k := range out {
		p := start + 4*k
		off, _ := t.b.u32(p)
		if out[k], err = t.b.table(p+int(off), fmt.Sprintf("%s: %s %d", t.what, what, k)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyValues checks a custom_metadata vector of KeyValue tables (key, value: strings).
func (t table) keyValues(i int) error {
	kvs, err := t.tables(i, "custom_metadata")
	for _, kv := range kvs {
		if _, _, err = kv.vector(0, 1, "key"); err == nil {
			_, _, err = kv.vector(1, 1, "value")
		}
		if err != nil {
			break
		}
	}
	return err
}

// root is the root table of b.
func (b buf) root(what string) (table, error) {
	p, err := b.u32(0)
	if err != nil {
		return table{}, fmt.Errorf("%s: %w", what, err)
	}
	return b.table(int(p), what)
}

// Message checks a message's metadata: the flatbuffer after the length prefix.
func Message(meta []byte) error {
	m, err := buf(meta).root("message")
	if err != nil {
		return err
	}
	typ, err := m.u8(1)
	if err != nil {
		return err
	}
	h, ok, err := m.sub(2, "header")
	switch {
	case err != nil:
		return err
	case !ok:
	case typ == headerSchema:
		err = schema(h)
	case typ == headerRecordBatch:
		err = recordBatch(h)
	case typ == headerDictionaryBatch:
		var data table
		if data, ok, err = h.sub(1, "data"); ok {
			err = recordBatch(data)
		}
	case typ > headerSparseTensor:
		err = buf(meta).corrupt("message: header type %d", typ)
	}
	if err != nil {
		return err
	}
	return m.keyValues(4)
}

// BodyLength is the length of the body that follows a message whose metadata Message has
// passed (its field bodyLength; 0 when absent).
func BodyLength(meta []byte) int64 {
	m, err := buf(meta).root("message")
	if err != nil {
		return 0
	}
	p, err := m.field(3, 8)
	if p == 0 || err != nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(meta[p:]))
}

// schema checks a Schema: fields, custom_metadata, features.
func schema(s table) error {
	fields, err := s.tables(1, "field")
	if err != nil {
		return err
	}
	for _, f := range fields {
		if err := field(f, 0); err != nil {
			return err
		}
	}
	if err := s.keyValues(2); err != nil {
		return err
	}
	_, _, err = s.vector(3, 8, "features")
	return err
}

// field checks a Field: name, type, dictionary, children (recursively), custom_metadata.
func field(f table, depth int) error {
	if depth > maxDepth {
		return f.b.corrupt("%s: fields nested deeper than %d", f.what, maxDepth)
	}
	if _, _, err := f.vector(0, 1, "name"); err != nil {
		return err
	}
	typ, err := f.u8(2)
	if err != nil {
		return err
	}
	if typ > typeLast {
		return f.b.corrupt("%s: type %d", f.what, typ)
	}
	t, ok, err := f.sub(3, "type")
	if err != nil {
		return err
	}
	if ok && typ == typeTimestamp {
		_, _, err = t.vector(1, 1, "timezone")
	} else if ok && typ == typeUnion {
		_, _, err = t.vector(1, 4, "typeIds")
	}
	if err != nil {
		return err
	}
	if d, ok, err := f.sub(4, "dictionary"); err != nil {
		return err
	} else if ok {
		if _, _, err := d.sub(1, "indexType"); err != nil {
			return err
		}
	}
	children, err := f.tables(5, "child")
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := field(c, depth+1); err != nil {
			return err
		}
	}
	return f.keyValues(6)
}

// recordBatch checks a RecordBatch: nodes and buffers (structs of 16 bytes), compression,
// variadicBufferCounts.
func recordBatch(r table) error {
	if _, _, err := r.vector(1, 16, "nodes"); err != nil {
		return err
	}
	if _, _, err := r.vector(2, 16, "buffers"); err != nil {
		return err
	}
	if _, _, err := r.sub(3, "compression"); err != nil {
		return err
	}
	_, _, err := r.vector(4, 8, "variadicBufferCounts")
	return err
}

var magic = []byte("ARROW1")

// File checks an Arrow IPC file's layout and metadata: the magic at both ends, the footer
// (schema, and the blocks of the dictionaries and record batches inside the file), and each
// block's message metadata. Bodies are arrow-go's to check as it reads them.
func File(data []byte) error {
	b := buf(data)
	n := len(data)
	if n < 2*8+4 || string(data[:6]) != string(magic) || string(data[n-6:]) != string(magic) {
		return b.corrupt("not an Arrow IPC file: no ARROW1 at both ends of its %d bytes", n)
	}
	flen, _ := b.u32(n - 10)
	if int64(flen) > int64(n-10-8) || flen < 4 {
		return b.corrupt("a footer of %d bytes in a file of %d", flen, n)
	}
	end := n - 10 - int(flen) // where the footer starts; blocks lie before it
	footer := buf(data[end : n-10])
	f, err := footer.root("footer")
	if err != nil {
		return err
	}
	s, ok, err := f.sub(1, "schema")
	if err == nil && ok {
		err = schema(s)
	}
	if err != nil {
		return err
	}
	for _, v := range []struct {
		i    int
		what string
	}{{2, "dictionary"}, {3, "record batch"}} {
		start, count, err := f.vector(v.i, 24, v.what+"s")
		if err != nil {
			return err
		}
		for k := range count {
			p := start + 24*k // Block: offset int64, metaDataLength int32, 4 bytes of padding, bodyLength int64
			off := int64(binary.LittleEndian.Uint64(footer[p:]))
			metaLen := int64(int32(binary.LittleEndian.Uint32(footer[p+8:])))
			bodyLen := int64(binary.LittleEndian.Uint64(footer[p+16:]))
			if off < 8 || metaLen < 8 || bodyLen < 0 || off > int64(end) || metaLen > int64(end)-off || bodyLen > int64(end)-off-metaLen {
				return b.corrupt("%s %d: a block at %d of %d + %d bytes, in a file whose blocks end at %d", v.what, k, off, metaLen, bodyLen, end)
			}
			if err := blockMessage(data[off:off+metaLen], v.what, k); err != nil {
				return err
			}
		}
	}
	return f.keyValues(4)
}

// blockMessage checks the metadata of a block: the continuation marker (or, before Arrow 0.15,
// none), the length, and the message's flatbuffer.
func blockMessage(m []byte, what string, k int) error {
	b := buf(m)
	skip := 4
	if l, _ := b.u32(0); l == 0xffffffff {
		skip = 8
	}
	l, err := b.u32(skip - 4)
	if err == nil && (int64(int32(l)) < 4 || int64(int32(l)) > int64(len(m)-skip)) {
		err = b.corrupt("message length %d in a block of %d bytes", int32(l), len(m))
	}
	if err == nil {
		err = Message(m[skip : skip+int(int32(l))])
	}
	if err != nil {
		return fmt.Errorf("%s %d: %w", what, k, err)
	}
	return nil
}
