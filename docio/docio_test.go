package docio

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func readAll(t *testing.T, r *Reader) []Document {
	t.Helper()
	var docs []Document
	for {
		d, err := r.Next()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		docs = append(docs, d)
	}
}

func writeAll(t *testing.T, w io.Writer, docs []Document) {
	t.Helper()
	dw := NewWriter(w)
	for _, d := range docs {
		if err := dw.Write(d); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := dw.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

var sampleDocs = []Document{
	{ID: "a", Text: "Hello, <b>world</b> & friends.\nSecond line\twith tab."},
	{ID: "b", Text: "日本語のテキスト 🙂", URL: "https://example.com/?a=1&b=2", Date: "2024-05-01T00:00:00Z"},
	{ID: "c", Text: "", Metadata: map[string]any{"lang": "en", "score": json.Number("0.9123"), "n": json.Number("12345678901234567890"),
		"tags": []any{"x", json.Number("1"), nil, true}, "nested": map[string]any{"k": "v"}}},
	{ID: "d", Text: `quotes " and \ backslash and control ` + "\x01\x7f" + " u2028 \u2028"},
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	writeAll(t, &buf, sampleDocs)
	got := readAll(t, NewReader(&buf, "mem"))
	if !reflect.DeepEqual(got, sampleDocs) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, sampleDocs)
	}
}

// The exact bytes: fixed key order, empty fields left out, no HTML escaping.
func TestWriterLine(t *testing.T) {
	var buf bytes.Buffer
	writeAll(t, &buf, []Document{
		{ID: "x", Text: "a<b>&c", URL: "u", Date: "d", Metadata: map[string]any{"z": json.Number("1"), "a": "é"}},
		{ID: "y", Text: "t"},
	})
	want := `{"id":"x","text":"a<b>&c","url":"u","date":"d","metadata":{"a":"é","z":1}}` + "\n" +
		`{"id":"y","text":"t"}` + "\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestReaderFields(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Document
	}{
		{"minimal", `{"text":"hi"}`, Document{ID: "f:1", Text: "hi"}},
		{"all", `{"id":"i","text":"t","url":"u","date":"d","metadata":{"k":1}}`,
			Document{ID: "i", Text: "t", URL: "u", Date: "d", Metadata: map[string]any{"k": json.Number("1")}}},
		{"number id", `{"id":42,"text":"t"}`, Document{ID: "42", Text: "t"}},
		{"nulls", `{"id":null,"text":"t","url":null,"date":null,"metadata":null}`, Document{ID: "f:1", Text: "t"}},
		{"fineweb extras", `{"text":"t","id":"<urn:uuid:1>","dump":"CC-MAIN-2024-10","url":"u","language_score":0.97}`,
			Document{ID: "<urn:uuid:1>", Text: "t", URL: "u", Metadata: map[string]any{"dump": "CC-MAIN-2024-10", "language_score": json.Number("0.97")}}},
		{"extras merge, top level wins", `{"text":"t","metadata":{"a":1,"b":2},"b":3}`,
			Document{ID: "f:1", Text: "t", Metadata: map[string]any{"a": json.Number("1"), "b": json.Number("3")}}},
		{"bom and crlf", "\ufeff{\"text\":\"t\"}\r", Document{ID: "f:1", Text: "t"}},
		{"escapes", `{"text":"a\u00e9\n\ud83d\ude42"}`, Document{ID: "f:1", Text: "aé\n🙂"}},
		{"white space", ` { "text" : "t" }  `, Document{ID: "f:1", Text: "t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := readAll(t, NewReader(strings.NewReader(tc.line), "f"))
			if len(docs) != 1 || !reflect.DeepEqual(docs[0], tc.want) {
				t.Fatalf("got %#v, want %#v", docs, tc.want)
			}
		})
	}
}

func TestReaderBadLines(t *testing.T) {
	for _, tc := range []struct{ line, reason string }{
		{`not json`, ReasonInvalidJSON},
		{`{"text":"t"`, ReasonInvalidJSON},
		{`{"text":"t"} {"text":"u"}`, ReasonInvalidJSON},
		{`["text"]`, ReasonInvalidJSON},
		{`"text"`, ReasonInvalidJSON},
		{`{"text":1, "id": }`, ReasonInvalidJSON}, // syntax beats type
		{`{"id":"x"}`, ReasonMissingText},
		{`{"text":null}`, ReasonMissingText},
		{`{"text":12}`, ReasonMissingText},
		{`{"text":["a"]}`, ReasonMissingText},
		{`{"text":"t","url":3}`, ReasonBadField},
		{`{"text":"t","id":true}`, ReasonBadField},
		{`{"text":"t","metadata":[1]}`, ReasonBadField},
		{"{\"text\":\"bad \xff byte\"}", ReasonInvalidUTF8},
	} {
		t.Run(tc.line, func(t *testing.T) {
			in := "{\"text\":\"ok\"}\n\n" + tc.line + "\n{\"text\":\"after\"}\n"
			r := NewReader(strings.NewReader(in), "in.jsonl")
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			_, err := r.Next()
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrBadRecord) {
				t.Fatalf("got %v, want a *ParseError wrapping ErrBadRecord", err)
			}
			if pe.File != "in.jsonl" || pe.Line != 3 || pe.Reason != tc.reason {
				t.Fatalf("got %s:%d %s (%v), want in.jsonl:3 %s", pe.File, pe.Line, pe.Reason, pe.Err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "in.jsonl:3: ") {
				t.Errorf("message %q lacks its position", err)
			}
			// Reading goes on after a bad line.
			d, err := r.Next()
			if err != nil || d.Text != "after" || r.Line() != 4 {
				t.Fatalf("after the bad line: %v %v line %d", d, err, r.Line())
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("want io.EOF, got %v", err)
			}
		})
	}
}

func TestSkipBad(t *testing.T) {
	in := strings.Join([]string{`{"text":"a"}`, `garbage`, `{"id":"x"}`, ``, `{"text":1}`, `{"text":"b"}`, `{"text":"t","url":1}`}, "\n")
	r := NewReader(strings.NewReader(in), "f")
	r.SkipBad = true
	docs := readAll(t, r)
	if len(docs) != 2 || docs[0].Text != "a" || docs[1].Text != "b" || docs[1].ID != "f:6" {
		t.Fatalf("docs %#v", docs)
	}
	want := map[string]int64{ReasonInvalidJSON: 1, ReasonMissingText: 2, ReasonBadField: 1}
	if got := r.Skipped(); !reflect.DeepEqual(got, want) {
		t.Fatalf("skipped %v, want %v", got, want)
	}
}

func TestLongLine(t *testing.T) {
	text := strings.Repeat("0123456789abcdé\n", 10<<20/17) // ~10 MB, escaped newlines in JSON
	var buf bytes.Buffer
	writeAll(t, &buf, []Document{{ID: "small", Text: "x"}, {ID: "big", Text: text}, {ID: "after", Text: "y"}})
	docs := readAll(t, NewReader(&buf, "f"))
	if len(docs) != 3 || docs[1].Text != text || docs[2].ID != "after" {
		t.Fatalf("got %d docs", len(docs))
	}
}

func TestMaxLineBytes(t *testing.T) {
	in := `{"text":"short"}` + "\n" + `{"text":"` + strings.Repeat("x", 1000) + `"}` + "\n" + `{"text":"end"}`
	r := NewReader(strings.NewReader(in), "f")
	r.MaxLineBytes = 100
	if d, err := r.Next(); err != nil || d.Text != "short" {
		t.Fatal(d, err)
	}
	_, err := r.Next()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Reason != ReasonLineTooLong || pe.Line != 2 {
		t.Fatalf("got %v", err)
	}
	if d, err := r.Next(); err != nil || d.Text != "end" {
		t.Fatal(d, err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(&failWriter{n: 10})
	if err := w.Write(Document{ID: "bad", Text: "a\xffb"}); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
	if err := w.Write(Document{ID: "x", Metadata: map[string]any{"c": make(chan int)}}); err == nil {
		t.Fatal("unencodable metadata accepted")
	}
	if err := w.Error(); err != nil {
		t.Fatalf("a refused document poisoned the writer: %v", err)
	}
	big := Document{Text: strings.Repeat("x", 1<<20)}
	if err := w.Write(big); err == nil {
		t.Fatal("no error from a failing writer")
	}
	first := w.Error()
	if err := w.Write(Document{Text: "y"}); err != first {
		t.Fatalf("later Write: %v, want the first error %v", err, first)
	}
	if err := w.Flush(); err != first || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush: %v", err)
	}
}

func TestReadText(t *testing.T) {
	d, err := ReadText(strings.NewReader("\ufeffline one\nline two\n"), "book.txt")
	if err != nil || d.ID != "book.txt" || d.Text != "line one\nline two\n" {
		t.Fatalf("%#v %v", d, err)
	}
	_, err = ReadText(strings.NewReader("a\nb\nc\xffd"), "bad.txt")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || pe.Reason != ReasonInvalidUTF8 {
		t.Fatalf("got %v", err)
	}
}

func gzipBytes(t *testing.T, parts ...string) []byte {
	var buf bytes.Buffer
	for _, p := range parts { // one member each: multi-member gzip
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(p))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, s string) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll([]byte(s), nil)
}

// Compressed data is recognised by its magic bytes when the name says
// nothing, as with stdin.
func TestDecompressByMagic(t *testing.T) {
	const text = `{"text":"one"}` + "\n" + `{"text":"two"}` + "\n"
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"plain", []byte(text)},
		{"empty", nil},
		{"gzip", gzipBytes(t, text)},
		{"gzip multi-member", gzipBytes(t, text[:15], text[15:])},
		{"zstd", zstdBytes(t, text)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(tc.data), "stdin")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			want := text
			if tc.name == "empty" {
				want = ""
			}
			if string(got) != want {
				t.Fatalf("got %q", got)
			}
		})
	}
	if _, err := Decompress(strings.NewReader(text), "docs.jsonl.gz"); err == nil {
		t.Error("plain data named .gz accepted")
	}
	if _, err := Decompress(bytes.NewReader(gzipBytes(t, text)), "docs.jsonl.zst"); err == nil {
		t.Error("gzip data named .zst accepted")
	}
}

func TestCreateOpen(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"docs.jsonl", "docs.jsonl.gz", "docs.jsonl.zst"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			out, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, out, sampleDocs)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("%s visible before Close: %v", name, err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			if err := out.Abort(); err != nil {
				t.Fatalf("Abort after Close: %v", err)
			}
			raw, _ := os.ReadFile(path)
			if got, want := sniff(raw), compressionOf(name); got != want {
				t.Fatalf("file is %q, want %q", got, want)
			}
			in, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if got := readAll(t, NewReader(in, path)); !reflect.DeepEqual(got, sampleDocs) {
				t.Fatalf("read back %#v", got)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("left in dir: %v", entries)
	}
}

func TestCreateAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl.zst")
	out, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	out.Write([]byte("partial"))
	if err := out.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("Close after Abort: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Abort left %v", entries)
	}
	// An existing file is replaced only by a complete one.
	os.WriteFile(path, []byte("old"), 0o644)
	out, _ = Create(path)
	out.Write([]byte("new"))
	out.Abort()
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("aborted output changed the file: %q", b)
	}
}

func TestInputs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.jsonl", "a.jsonl", "c.txt", "sub/d.jsonl"} {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	j := func(n string) string { return filepath.Join(dir, n) }
	got, err := Inputs([]string{j("*.jsonl"), j("a.jsonl"), dir + "/./c.txt", j("*")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{j("a.jsonl"), j("b.jsonl"), j("c.txt")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, _ := Inputs(nil); !reflect.DeepEqual(got, []string{"-"}) {
		t.Fatalf("no args: %v", got)
	}
	for _, bad := range []string{j("*.parquet"), j("missing.jsonl"), j("sub"), j("[")} {
		if _, err := Inputs([]string{bad}); err == nil {
			t.Errorf("Inputs(%q) gave no error", bad)
		}
	}
}

func TestPartition(t *testing.T) {
	for n := 0; n <= 12; n++ {
		files := make([]string, n)
		for i := range files {
			files[i] = string(rune('a' + i))
		}
		for world := 1; world <= 5; world++ {
			var all []string
			smallest, largest := n, 0
			for rank := 0; rank < world; rank++ {
				part, err := Partition(files, rank, world)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, part...)
				smallest, largest = min(smallest, len(part)), max(largest, len(part))
			}
			if !reflect.DeepEqual(all, files) && n > 0 {
				t.Fatalf("n=%d world=%d: parts join to %v", n, world, all)
			}
			if largest-smallest > 1 {
				t.Fatalf("n=%d world=%d: sizes from %d to %d", n, world, smallest, largest)
			}
		}
	}
	if got, _ := Partition([]string{"a", "b", "c", "d", "e"}, 1, 2); !reflect.DeepEqual(got, []string{"c", "d", "e"}) {
		t.Fatalf("doc example: %v", got)
	}
	for _, c := range [][2]int{{-1, 2}, {2, 2}, {0, 0}} {
		if _, err := Partition([]string{"a"}, c[0], c[1]); err == nil {
			t.Errorf("rank %d of %d accepted", c[0], c[1])
		}
	}
}

// Whatever a line holds, the reader returns a document or a *ParseError,
// and what the writer writes reads back the same.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"id":"x","text":"t","metadata":{"a":[1,2]}}`))
	f.Add([]byte(`{"text":1}`))
	f.Add([]byte("{\"text\":\"\xff\"}\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fz")
		for {
			d, err := r.Next()
			if err == io.EOF {
				return
			}
			var pe *ParseError
			if err != nil {
				if !errors.As(err, &pe) {
					t.Fatalf("not a ParseError: %v", err)
				}
				continue
			}
			var buf bytes.Buffer
			writeAll(t, &buf, []Document{d})
			back := readAll(t, NewReader(&buf, "back"))
			if len(back) != 1 || !reflect.DeepEqual(normalize(back[0]), normalize(d)) {
				t.Fatalf("round trip of %q: %#v became %#v", data, d, back)
			}
		}
	})
}

// normalize makes an empty Metadata nil: the writer leaves it out.
func normalize(d Document) Document {
	if len(d.Metadata) == 0 {
		d.Metadata = nil
	}
	return d
}

func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	para := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)
	for i := range 1000 {
		w.Write(Document{ID: "doc-" + string(rune('a'+i%26)), Text: para, URL: "https://example.com/", Metadata: map[string]any{"lang": "en"}})
	}
	w.Flush()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), "bench")
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	doc := Document{ID: "doc", Text: strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60), URL: "https://example.com/"}
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(doc.Text)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(doc); err != nil {
			b.Fatal(err)
		}
	}
}
