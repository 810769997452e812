package arrowfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// wideSchema has a field of every kind whose metadata holds more than scalars: a timestamp
// with a time zone, a union with type ids, a dictionary, nesting, custom metadata.
func wideSchema() *arrow.Schema {
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	return arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}},
		{Name: "u", Type: arrow.DenseUnionOf([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, []arrow.UnionTypeCode{3, 7})},
		{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}},
		{Name: "l", Type: arrow.LargeListOf(arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Uint16, Metadata: md})), Metadata: md},
	}, &md)
}

// write returns a stream (or file) of two record batches of wideSchema, null-filled.
func write(t *testing.T, file bool) []byte {
	mem := memory.NewGoAllocator()
	s := wideSchema()
	var buf bytes.Buffer
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var err error
	if file {
		w, err = ipc.NewFileWriter(&buf, ipc.WithSchema(s), ipc.WithAllocator(mem))
	} else {
		w = ipc.NewWriter(&buf, ipc.WithSchema(s), ipc.WithAllocator(mem))
	}
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	for range 2 {
		for _, f := range b.Fields() {
			f.AppendNulls(3)
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// messages splits a stream into its messages' metadata.
func messages(data []byte) [][]byte {
	var out [][]byte
	for pos := 0; pos+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[pos+4:]))
		if n == 0 {
			break
		}
		meta := data[pos+8 : pos+8+n]
		out = append(out, meta)
		pos += 8 + n + int(BodyLength(meta))
	}
	return out
}

// What arrow-go writes passes: a stream's messages (schema, dictionary, record batches) and
// a whole file.
func TestSoundMetadata(t *testing.T) {
	ms := messages(write(t, false))
	if len(ms) < 4 {
		t.Fatalf("%d messages", len(ms))
	}
	for i, m := range ms {
		if err := Message(m); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if err := File(write(t, true)); err != nil {
		t.Error(err)
	}
}

// A vector length, an offset or a vtable pointer set to a huge value in any word of the
// metadata is refused or harmless, never a panic; and the schema's field count, the case that
// made arrow-go allocate without bound, is refused with an error naming it.
func TestCorruptMetadata(t *testing.T) {
	schema := messages(write(t, false))[0]
	refused := 0
	for p := 0; p+4 <= len(schema); p += 4 {
		bad := bytes.Clone(schema)
		binary.LittleEndian.PutUint32(bad[p:], 0x7fffffff)
		if err := Message(bad); err != nil {
			refused++
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("word %d: %v does not wrap ErrCorrupt", p, err)
			}
		}
	}
	if refused == 0 {
		t.Fatal("nothing refused")
	}
	// the schema's fields vector: the root table's field 2 (header) → Schema's field 1
	m, _ := buf(schema).root("message")
	h, _, _ := m.sub(2, "header")
	v, _ := h.ref(1)
	bad := bytes.Clone(schema)
	binary.LittleEndian.PutUint32(bad[v:], 1<<30)
	err := Message(bad)
	if err == nil || !strings.Contains(err.Error(), "field has 1073741824 elements") {
		t.Errorf("a schema of 2^30 fields: %v", err)
	}
	file := write(t, true)
	for _, cut := range []int{1, 12, len(file) / 2} {
		if err := File(file[:len(file)-cut]); err == nil {
			t.Errorf("a file cut by %d bytes passed", cut)
		}
	}
}
