package tokstream

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

type doc struct {
	ID     string
	Tokens []uint32
}

// makeDocs returns n documents of random tokens below vocab, some empty.
func makeDocs(n, vocab int, seed uint64) []doc {
	rng := rand.New(rand.NewPCG(seed, 1))
	docs := make([]doc, n)
	for i := range docs {
		toks := make([]uint32, rng.IntN(300))
		if i%7 == 3 {
			toks = []uint32{} // an empty document
		}
		for j := range toks {
			toks[j] = uint32(rng.IntN(vocab))
		}
		if i == 0 && len(toks) > 0 {
			toks[0] = uint32(vocab - 1) // the largest id
		}
		docs[i] = doc{ID: fmt.Sprintf("doc-%d", i), Tokens: toks}
	}
	return docs
}

func encode(t testing.TB, meta Meta, batchBytes int, docs []doc) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, meta)
	if err != nil {
		t.Fatal(err)
	}
	w.BatchBytes = batchBytes
	for _, d := range docs {
		if err := w.Write(d.ID, d.Tokens); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode(r *Reader) ([]doc, error) {
	var docs []doc
	for {
		id, toks, err := r.Next()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, doc{id, toks})
	}
}

func decodeBatches(r *Reader) ([]doc, int, error) {
	var docs []doc
	batches := 0
	for {
		b, err := r.NextBatch()
		if err == io.EOF {
			return docs, batches, nil
		}
		if err != nil {
			return docs, batches, err
		}
		batches++
		for i, id := range b.IDs {
			lo, hi := b.Offsets[i], b.Offsets[i+1]
			toks := []uint32{}
			if b.U16 != nil {
				for _, t := range b.U16[lo:hi] {
					toks = append(toks, uint32(t))
				}
			} else {
				toks = append(toks, b.U32[lo:hi]...)
			}
			docs = append(docs, doc{id, toks})
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vocab int
		eot   int
		dtype string
	}{
		{"gpt2", 50257, 50256, Uint16},
		{"full uint16", 1 << 16, 0, Uint16},
		{"cl100k", 100277, 100257, Uint32},
		{"no eot", 300, NoEOT, Uint16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := makeDocs(200, tc.vocab, 7)
			meta := Meta{TokenizerSHA256: sha, VocabSize: tc.vocab, EOT: tc.eot}
			data := encode(t, meta, 4096, docs)

			r, err := NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			meta.DType = tc.dtype
			if r.Meta() != meta {
				t.Fatalf("meta %+v, want %+v", r.Meta(), meta)
			}
			got, err := decode(r)
			if err != nil || !reflect.DeepEqual(got, docs) {
				t.Fatalf("Next: %v; %d docs back of %d", err, len(got), len(docs))
			}

			r, _ = NewReader(bytes.NewReader(data))
			got, batches, err := decodeBatches(r)
			if err != nil || !reflect.DeepEqual(got, docs) {
				t.Fatalf("NextBatch: %v; %d docs back of %d", err, len(got), len(docs))
			}
			if batches < 5 {
				t.Fatalf("%d batches, want several of ~4 KiB", batches)
			}
		})
	}
}

// Next and NextBatch may be mixed: NextBatch returns the rest of the batch.
func TestMixedNext(t *testing.T) {
	docs := makeDocs(50, 1000, 3)
	data := encode(t, Meta{TokenizerSHA256: sha, VocabSize: 1000, EOT: 999}, 1<<20, docs)
	r, _ := NewReader(bytes.NewReader(data))
	r.ReuseTokens = true
	var got []doc
	for range 3 {
		id, toks, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, doc{id, append([]uint32{}, toks...)})
	}
	rest, _, err := decodeBatches(r)
	if err != nil || !reflect.DeepEqual(append(got, rest...), docs) {
		t.Fatalf("%v: mixed reading lost documents", err)
	}
}

// The schema metadata, as any Arrow reader sees it.
func TestSchemaMetadata(t *testing.T) {
	for _, tc := range []struct {
		meta Meta
		want map[string]string
	}{
		{Meta{TokenizerSHA256: sha, VocabSize: 50257, EOT: 50256},
			map[string]string{"pipe.format": "pipe-tokens", "pipe.version": "1", "pipe.tokenizer_sha256": sha,
				"pipe.vocab_size": "50257", "pipe.eot_id": "50256", "pipe.dtype": "uint16"}},
		{Meta{TokenizerSHA256: sha, VocabSize: 200, EOT: NoEOT, DType: Uint32},
			map[string]string{"pipe.format": "pipe-tokens", "pipe.version": "1", "pipe.tokenizer_sha256": sha,
				"pipe.vocab_size": "200", "pipe.dtype": "uint32"}},
	} {
		data := encode(t, tc.meta, 0, nil)
		ir, err := ipc.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if got := ir.Schema().Metadata().ToMap(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("metadata %v, want %v", got, tc.want)
		}
		if got, want := ir.Schema().Field(1).Type.String(), "large_list<item: "+tc.want["pipe.dtype"]+">"; got != want {
			t.Errorf("tokens type %s, want %s", got, want)
		}
		ir.Release()
	}
}

func TestEmptyStream(t *testing.T) {
	data := encode(t, Meta{TokenizerSHA256: sha, VocabSize: 10, EOT: NoEOT}, 0, nil)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next: %v, want io.EOF", err)
	}
	if _, err := r.NextBatch(); err != io.EOF {
		t.Fatalf("NextBatch: %v, want io.EOF", err)
	}
	if _, err := NewReader(bytes.NewReader(nil)); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty input: %v, want ErrFormat", err)
	}
}

// Cut anywhere, a stream reads to an error, never to a clean io.EOF.
func TestTruncated(t *testing.T) {
	docs := makeDocs(8, 50257, 11)
	data := encode(t, Meta{TokenizerSHA256: sha, VocabSize: 50257, EOT: 50256}, 512, docs)
	for cut := 0; cut < len(data); cut++ {
		r, err := NewReader(bytes.NewReader(data[:cut]))
		if err == nil {
			_, err = decode(r)
		}
		if err == nil {
			t.Fatalf("stream cut to %d of %d bytes read without error", cut, len(data))
		}
		// Cut between messages is ErrTruncated too.
		if cut == len(data)-8 && !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut before the end marker: %v, want ErrTruncated", err)
		}
	}
}

func TestConcatenated(t *testing.T) {
	meta := Meta{TokenizerSHA256: sha, VocabSize: 1000, EOT: 0}
	a, b := makeDocs(30, 1000, 1), makeDocs(20, 1000, 2)
	empty := encode(t, meta, 0, nil)
	data := slicesConcat(encode(t, meta, 1024, a), empty, encode(t, meta, 1024, b))
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(r)
	if err != nil || !reflect.DeepEqual(got, append(a, b...)) {
		t.Fatalf("%v: read %d of %d docs", err, len(got), len(a)+len(b))
	}

	other := meta
	other.VocabSize = 1001
	data = slicesConcat(encode(t, meta, 1024, a), encode(t, other, 1024, b))
	r, _ = NewReader(bytes.NewReader(data))
	if _, err := decode(r); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "token stream 2") {
		t.Fatalf("mismatched streams: %v", err)
	}

	data = append(encode(t, meta, 1024, a), "trailing junk"...)
	r, _ = NewReader(bytes.NewReader(data))
	if _, err := decode(r); err == nil {
		t.Fatal("junk after the stream read without error")
	}
}

func slicesConcat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// writeRaw writes a stream with a schema of our choosing, as a foreign
// producer might.
func writeRaw(t *testing.T, md map[string]string, valType arrow.DataType, tokens [][]uint32) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	m := arrow.MetadataFrom(md)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "tokens", Type: arrow.LargeListOf(valType), Nullable: true},
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	}, &m)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	lb := b.Field(0).(*array.LargeListBuilder)
	for i, toks := range tokens {
		if toks == nil {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for _, v := range toks {
				switch vb := lb.ValueBuilder().(type) {
				case *array.Uint16Builder:
					vb.Append(uint16(v))
				case *array.Uint32Builder:
					vb.Append(v)
				}
			}
		}
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprint("r", i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func goodMeta() map[string]string {
	return map[string]string{"pipe.format": "pipe-tokens", "pipe.version": "1", "pipe.tokenizer_sha256": sha,
		"pipe.vocab_size": "100", "pipe.dtype": "uint16"}
}

func TestReaderRefuses(t *testing.T) {
	with := func(k, v string) map[string]string {
		m := goodMeta()
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	u16 := arrow.PrimitiveTypes.Uint16
	for _, tc := range []struct {
		name    string
		md      map[string]string
		typ     arrow.DataType
		tokens  [][]uint32
		atStart bool   // refused by NewReader rather than Next
		msg     string // part of the error
	}{
		{"no metadata", nil, u16, nil, true, "no pipe.format"},
		{"other format", with("pipe.format", "pipe-shard"), u16, nil, true, `"pipe-shard"`},
		{"future version", with("pipe.version", "2"), u16, nil, true, `version "2" is not supported`},
		{"no tokenizer", with("pipe.tokenizer_sha256", ""), u16, nil, true, "sha256"},
		{"dtype mismatch", with("pipe.dtype", "uint32"), u16, nil, true, "column tokens"},
		{"eot out of range", with("pipe.eot_id", "100"), u16, nil, true, "end-of-text"},
		{"token out of range", goodMeta(), u16, [][]uint32{{1, 2}, {100}}, false, "token 100"},
		{"null document", goodMeta(), u16, [][]uint32{{1}, nil}, false, "nulls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeRaw(t, tc.md, tc.typ, tc.tokens)
			r, err := NewReader(bytes.NewReader(data))
			if (err != nil) != tc.atStart {
				t.Fatalf("NewReader: %v", err)
			}
			if err == nil {
				_, err = decode(r)
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrFormat mentioning %q", err, tc.msg)
			}
		})
	}
	// A foreign producer with nullable fields and columns in another order is fine.
	data := writeRaw(t, goodMeta(), u16, [][]uint32{{1, 2, 99}, {}})
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(r)
	if err != nil || !reflect.DeepEqual(got, []doc{{"r0", []uint32{1, 2, 99}}, {"r1", []uint32{}}}) {
		t.Fatalf("%v %v", got, err)
	}
}

func TestWriterRefuses(t *testing.T) {
	for _, m := range []Meta{
		{TokenizerSHA256: "abc", VocabSize: 10, EOT: NoEOT},
		{TokenizerSHA256: strings.ToUpper(sha), VocabSize: 10, EOT: NoEOT},
		{TokenizerSHA256: sha, VocabSize: 0, EOT: NoEOT},
		{TokenizerSHA256: sha, VocabSize: 10, EOT: 10},
		{TokenizerSHA256: sha, VocabSize: 70000, EOT: NoEOT, DType: Uint16},
		{TokenizerSHA256: sha, VocabSize: 10, EOT: NoEOT, DType: "int64"},
	} {
		if _, err := NewWriter(io.Discard, m); err == nil {
			t.Errorf("NewWriter accepted %+v", m)
		}
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Meta{TokenizerSHA256: sha, VocabSize: 10, EOT: 9})
	if err := w.Write("a", []uint32{1, 10}); err == nil {
		t.Fatal("token 10 of a vocab of 10 accepted")
	}
	if err := w.Write("b", []uint32{9}); err != nil {
		t.Fatalf("a refused document broke the writer: %v", err)
	}
	w.Close()
	if err := w.Write("c", nil); err == nil {
		t.Fatal("Write after Close accepted")
	}
	r, _ := NewReader(&buf)
	if got, err := decode(r); err != nil || !reflect.DeepEqual(got, []doc{{"b", []uint32{9}}}) {
		t.Fatalf("%v %v", got, err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("pipe closed")
	}
	return len(p), nil
}

func TestWriterKeepsFirstError(t *testing.T) {
	w, _ := NewWriter(&failWriter{n: 1000}, Meta{TokenizerSHA256: sha, VocabSize: 50257, EOT: NoEOT})
	w.BatchBytes = 1 << 10
	toks := make([]uint32, 1<<18) // 512 KiB of uint16, past bufio's buffer
	var first error
	for i := 0; i < 10 && first == nil; i++ {
		first = w.Write("d", toks)
	}
	if first == nil || !strings.Contains(first.Error(), "pipe closed") {
		t.Fatalf("first error %v", first)
	}
	if err := w.Write("e", toks); err != first {
		t.Fatalf("later Write: %v", err)
	}
	if err := w.Close(); err != first {
		t.Fatalf("Close: %v", err)
	}
}

// pyarrow reads what we write, and we read what pyarrow writes.
func TestPyarrowPeer(t *testing.T) {
	if err := exec.Command("python3", "-c", "import pyarrow").Run(); err != nil {
		if os.Getenv("PIPE_PEERS") == "1" {
			t.Fatalf("PIPE_PEERS=1 but pyarrow is not importable: %v", err)
		}
		t.Skip("pyarrow not importable; set PIPE_PEERS=1 to require it")
	}
	dir := t.TempDir()
	docs := makeDocs(100, 100277, 5)
	meta := Meta{TokenizerSHA256: sha, VocabSize: 100277, EOT: 100257}
	ours := filepath.Join(dir, "ours.arrow")
	theirs := filepath.Join(dir, "theirs.arrow")
	if err := os.WriteFile(ours, encode(t, meta, 8192, docs), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys
import pyarrow as pa
with pa.ipc.open_stream(sys.argv[1]) as r:
    table = r.read_all()
md = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
out = {"metadata": md, "types": [str(f.type) for f in table.schema],
       "names": table.schema.names,
       "ids": table.column("id").to_pylist(), "tokens": table.column("tokens").to_pylist()}
json.dump(out, sys.stdout)
# and a stream of pyarrow's own, uint16, two batches
schema = pa.schema([("id", pa.string()), ("tokens", pa.large_list(pa.uint16()))],
                   metadata={"pipe.format": "pipe-tokens", "pipe.version": "1",
                             "pipe.tokenizer_sha256": md["pipe.tokenizer_sha256"],
                             "pipe.vocab_size": "50257", "pipe.eot_id": "50256", "pipe.dtype": "uint16"})
with pa.ipc.new_stream(sys.argv[2], schema) as w:
    w.write_batch(pa.record_batch([pa.array(["x", "y"]), pa.array([[1, 2, 3], []], pa.large_list(pa.uint16()))], schema=schema))
    w.write_batch(pa.record_batch([pa.array(["z"]), pa.array([[50256]], pa.large_list(pa.uint16()))], schema=schema))
`
	out, err := exec.Command("python3", "-c", script, ours, theirs).Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, exitStderr(err))
	}
	var got struct {
		Metadata map[string]string
		Types    []string
		Names    []string
		IDs      []string
		Tokens   [][]uint32
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	wantMD := map[string]string{"pipe.format": "pipe-tokens", "pipe.version": "1", "pipe.tokenizer_sha256": sha,
		"pipe.vocab_size": "100277", "pipe.eot_id": "100257", "pipe.dtype": "uint32"}
	if !reflect.DeepEqual(got.Metadata, wantMD) {
		t.Errorf("pyarrow sees metadata %v", got.Metadata)
	}
	if !reflect.DeepEqual(got.Names, []string{"id", "tokens"}) || got.Types[0] != "string" || !strings.HasPrefix(got.Types[1], "large_list<item: uint32") {
		t.Errorf("pyarrow sees columns %v of types %v", got.Names, got.Types)
	}
	if len(got.IDs) != len(docs) {
		t.Fatalf("pyarrow read %d documents of %d", len(got.IDs), len(docs))
	}
	for i, d := range docs {
		if got.IDs[i] != d.ID || !reflect.DeepEqual(got.Tokens[i], d.Tokens) {
			t.Fatalf("document %d: pyarrow read %s %v, want %s %v", i, got.IDs[i], got.Tokens[i], d.ID, d.Tokens)
		}
	}

	f, err := os.Open(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Meta{TokenizerSHA256: sha, VocabSize: 50257, EOT: 50256, DType: Uint16}); r.Meta() != want {
		t.Errorf("meta of pyarrow's stream %+v", r.Meta())
	}
	back, err := decode(r)
	want := []doc{{"x", []uint32{1, 2, 3}}, {"y", []uint32{}}, {"z", []uint32{50256}}}
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("pyarrow's stream read as %v, %v", back, err)
	}
}

func exitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func benchDocs(vocab int) [][]uint32 {
	rng := rand.New(rand.NewPCG(1, 2))
	docs := make([][]uint32, 1000)
	for i := range docs {
		docs[i] = make([]uint32, 200+rng.IntN(1800))
		for j := range docs[i] {
			docs[i][j] = uint32(rng.IntN(vocab))
		}
	}
	return docs
}

// MB/s are of token values in the stream's dtype.
func BenchmarkWriter(b *testing.B) {
	for _, vocab := range []int{50257, 100277} {
		meta := Meta{TokenizerSHA256: sha, VocabSize: vocab, EOT: NoEOT}
		meta.DType = dtypeFor(vocab)
		width := 2
		if meta.DType == Uint32 {
			width = 4
		}
		b.Run(meta.DType, func(b *testing.B) {
			docs := benchDocs(vocab)
			var ntok int
			for _, d := range docs {
				ntok += len(d)
			}
			b.SetBytes(int64(ntok * width))
			b.ReportAllocs()
			for b.Loop() {
				w, _ := NewWriter(io.Discard, meta)
				for i, d := range docs {
					if err := w.Write(ids[i%len(ids)], d); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(ntok)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

var ids = []string{"<urn:uuid:0b6f5a1e>", "example.jsonl:1", "cc-main-2024-10/000123"}

func BenchmarkReader(b *testing.B) {
	for _, vocab := range []int{50257, 100277} {
		docs := benchDocs(vocab)
		var ntok int
		ds := make([]doc, len(docs))
		for i, d := range docs {
			ntok += len(d)
			ds[i] = doc{ids[i%len(ids)], d}
		}
		meta := Meta{TokenizerSHA256: sha, VocabSize: vocab, EOT: NoEOT}
		data := encode(b, meta, 0, ds)
		b.Run(dtypeFor(vocab)+"/batch", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := r.NextBatch(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(ntok)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// messageRanges returns where the metadata (the flatbuffer) and the body of
// each message of a stream lie.
func messageRanges(t testing.TB, data []byte) (meta, body [][2]int) {
	pos := 0
	for pos+8 <= len(data) {
		metaLen := int(int32(binary.LittleEndian.Uint32(data[pos+4:])))
		if metaLen == 0 {
			break // the end marker
		}
		msg, err := ipc.NewMessageReader(bytes.NewReader(data[pos:])).Message()
		if err != nil {
			t.Fatal(err)
		}
		start := pos + 8 + metaLen
		end := start + int(msg.BodyLen())
		meta = append(meta, [2]int{pos + 8, start})
		if msg.Type() == ipc.MessageRecordBatch {
			body = append(body, [2]int{start, end})
		}
		pos = end
	}
	return meta, body
}

// bodyRanges returns where the bodies of the record batches of a stream lie.
func bodyRanges(t testing.TB, data []byte) [][2]int {
	_, body := messageRanges(t, data)
	return body
}

// readAll reads every document of a stream, checking that none has a
// token at or above the vocab size; it returns the reader's first error.
func readAll(t testing.TB, data []byte) error {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	vocab := uint32(r.Meta().VocabSize)
	for {
		_, toks, err := r.Next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		for _, tok := range toks {
			if tok >= vocab {
				t.Fatalf("token %d passed a vocab of %d", tok, vocab)
			}
		}
	}
}

// A length or offset anywhere in a message's flatbuffer metadata set to a
// huge value is an error or, where the word was not one arrow-go reads, a
// stream that still reads. arrow-go v18.8.0 trusts the vector lengths in
// the metadata (a schema's fields, say): before the reader checked them
// (internal/arrowfb), one of these words made it allocate 32 GiB and the
// test process die out of memory.
func TestReaderCorruptMetadata(t *testing.T) {
	data := encode(t, Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: 0}, 256, makeDocs(6, 300, 1))
	meta, _ := messageRanges(t, data)
	if len(meta) < 3 {
		t.Fatalf("%d messages, want a schema and batches", len(meta))
	}
	refused := 0
	for _, m := range meta[:2] { // the schema, a record batch
		for p := m[0]; p+4 <= m[1]; p += 4 {
			for _, v := range []uint32{0x7fffffff, 0xfffffff0, 0x00100000} {
				bad := bytes.Clone(data)
				binary.LittleEndian.PutUint32(bad[p:], v)
				if err := readAll(t, bad); err != nil {
					refused++
					if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
						t.Errorf("word at %d set to %#x: %v, want ErrFormat or ErrTruncated", p, v, err)
					}
				}
			}
		}
	}
	if refused == 0 {
		t.Fatal("no corrupt word was refused")
	}
	t.Logf("%d of the corrupt streams refused", refused)
}

// Whatever the bytes of the record batch bodies, the reader returns
// documents with no token at or above the vocab size, then an error or
// io.EOF; it does not panic.
//
// FuzzReader patches the bytes of the bodies, where our checks (nulls,
// offsets, token range) are what stands between them and the trainer;
// FuzzReaderAnywhere patches any byte, metadata included.
func FuzzReader(f *testing.F) {
	maxBodyBytes = 1 << 20 // not gigabytes per input
	streams := map[bool][]byte{}
	for _, wide := range []bool{false, true} {
		meta := Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: 0}
		if wide {
			meta.VocabSize = 70000
		}
		streams[wide] = encode(f, meta, 256, makeDocs(6, meta.VocabSize, 1))
		f.Add(wide, uint16(0), []byte{0xff, 0xff})
	}
	f.Add(false, uint16(3), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, wide bool, at uint16, patch []byte) {
		data := bytes.Clone(streams[wide])
		var body []int // positions of body bytes
		for _, r := range bodyRanges(t, data) {
			for p := r[0]; p < r[1]; p++ {
				body = append(body, p)
			}
		}
		for i, b := range patch {
			data[body[(int(at)+i)%len(body)]] = b
		}
		if err := readAll(t, data); err != nil && !errors.Is(err, ErrFormat) {
			t.Fatal(err)
		}
	})
}

func FuzzReaderAnywhere(f *testing.F) {
	maxBodyBytes = 1 << 20
	data := encode(f, Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: 0}, 256, makeDocs(6, 300, 1))
	f.Add(uint16(12), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Add(uint16(300), []byte{0x10})
	f.Fuzz(func(t *testing.T, at uint16, patch []byte) {
		bad := bytes.Clone(data)
		for i, b := range patch {
			bad[(int(at)+i)%len(bad)] = b
		}
		readAll(t, bad)
	})
}

// A compressed stream (as pyarrow writes with compression="zstd") reads,
// and a buffer whose uncompressed size passes the limit is an error rather
// than an allocation of that size.
func TestCompressedStream(t *testing.T) {
	md := goodMeta()
	md["pipe.vocab_size"], md["pipe.dtype"] = "100000", "uint32"
	mem := memory.NewGoAllocator()
	m := arrow.MetadataFrom(md)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "tokens", Type: arrow.LargeListOf(arrow.PrimitiveTypes.Uint32)},
	}, &m)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("long")
	lb := b.Field(1).(*array.LargeListBuilder)
	lb.Append(true)
	toks := make([]uint32, 100_000) // 400 KB of zeros, a few bytes compressed
	lb.ValueBuilder().(*array.Uint32Builder).AppendValues(toks, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s), ipc.WithZstd())
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if buf.Len() > 10_000 {
		t.Fatalf("not compressed: %d bytes", buf.Len())
	}

	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decode(r); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].Tokens, toks) {
		t.Fatalf("compressed stream: %v", err)
	}

	defer func(old int64) { maxBodyBytes = old }(maxBodyBytes)
	maxBodyBytes = 100_000
	r, err = NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(r); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("got %v, want the allocation refused", err)
	}
}

// A batch of only empty documents still tells its dtype.
func TestEmptyDocuments(t *testing.T) {
	for _, vocab := range []int{100, 100_000} {
		data := encode(t, Meta{TokenizerSHA256: sha, VocabSize: vocab, EOT: NoEOT}, 0, []doc{{"a", nil}, {"b", []uint32{}}})
		r, _ := NewReader(bytes.NewReader(data))
		b, err := r.NextBatch()
		if err != nil || b.Len() != 2 || (b.U16 == nil) == (b.U32 == nil) || !reflect.DeepEqual(b.Offsets, []int64{0, 0, 0}) {
			t.Fatalf("vocab %d: %+v %v", vocab, b, err)
		}
		if (b.U16 != nil) != (r.Meta().DType == Uint16) {
			t.Fatalf("vocab %d: values slice disagrees with dtype %s", vocab, r.Meta().DType)
		}
	}
}
