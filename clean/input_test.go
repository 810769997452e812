package clean

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pipe-dev/pipe/warc"
)

func readSource(t *testing.T, data []byte, name string) (string, []*Doc) {
	t.Helper()
	s, err := NewSource(bytes.NewReader(data), name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var docs []*Doc
	for {
		d, err := s.Next()
		if err == io.EOF {
			return s.Format(), docs
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
}

func TestSourceFormats(t *testing.T) {
	const jsonl = "\ufeff\n{\"id\":\"a\",\"text\":\"one\"}\nnot json\n{\"text\":\"two\"}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(jsonl))
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	zst := enc.EncodeAll([]byte(jsonl), nil)
	var gzEmptyBuf bytes.Buffer // what a writer leaves when every document was dropped
	zw = gzip.NewWriter(&gzEmptyBuf)
	zw.Close()
	gzEmpty := gzEmptyBuf.Bytes()

	var w bytes.Buffer
	ww := warc.NewWriter(&w)
	ww.WriteRecord(hdr("WARC-Type", "conversion", "WARC-Target-URI", "https://a/", "WARC-Date", "2024-01-02T03:04:05Z"), []byte("text \xff of a page\n"))
	ww.WriteRecord(hdr("WARC-Type", "response", "WARC-Target-URI", "https://b/", "Content-Type", "application/http; msgtype=response"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>caf\xe9</p>"))
	ww.Close()
	var plain bytes.Buffer // the same records, plain
	r := warc.NewReader(bytes.NewReader(w.Bytes()), "w")
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(rec.Body)
		plain.WriteString(rec.Version + "\r\n")
		for _, f := range rec.Header {
			plain.WriteString(f.Name + ": " + f.Value + "\r\n")
		}
		plain.WriteString("\r\n")
		plain.Write(body)
		plain.WriteString("\r\n\r\n")
	}

	for _, tc := range []struct {
		name, format string
		data         []byte
		want         []string // ids or skip reasons
	}{
		{"jsonl", FormatJSONL, []byte(jsonl), []string{"a", "skip:invalid_json", "x:4"}},
		{"jsonl.gz", FormatJSONL, gz.Bytes(), []string{"a", "skip:invalid_json", "x:4"}},
		{"jsonl.zst", FormatJSONL, zst, []string{"a", "skip:invalid_json", "x:4"}},
		{"warc.gz", FormatWARC, w.Bytes(), []string{"https://a/", "https://b/"}},
		{"warc", FormatWARC, plain.Bytes(), []string{"https://a/", "https://b/"}},
		{"empty", FormatEmpty, nil, nil},
		{"empty.gz", FormatEmpty, gzEmpty, nil},
		{"empty.zst", FormatEmpty, enc.EncodeAll(nil, nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format, docs := readSource(t, tc.data, "x")
			var got []string
			for _, d := range docs {
				switch {
				case d.Skip != "":
					got = append(got, "skip:"+d.Skip)
				case format == FormatWARC:
					got = append(got, d.URL)
				default:
					got = append(got, d.ID)
				}
			}
			if format != tc.format || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("format %s, docs %v; want %s %v", format, got, tc.format, tc.want)
			}
			if format == FormatWARC {
				if d := docs[0]; d.Text != "text \ufffd of a page" || d.Date != "2024-01-02T03:04:05Z" || d.HTML != nil {
					t.Errorf("conversion %+v", d)
				}
				if d := docs[1]; string(d.HTML) != "<p>caf\xe9</p>" || !strings.Contains(d.ContentType, "iso-8859-1") {
					t.Errorf("response %+v", d)
				}
			}
		})
	}
}

func TestSourceUnknownFormat(t *testing.T) {
	for _, data := range []string{"hello\n", "<html></html>", "\x00\x01\x02"} {
		_, err := NewSource(strings.NewReader(data), "notes.txt")
		if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "notes.txt") {
			t.Errorf("%q: %v", data, err)
		}
	}
}

// hdr builds a WARC header from name, value pairs.
func hdr(kv ...string) warc.Header {
	var h warc.Header
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// readSized reads what io.ReadAll reads, whether the size it is given is
// short of the data, just right or more, and passes on a read error.
func TestReadSized(t *testing.T) {
	data := bytes.Repeat([]byte("<p>page</p>"), 1000)
	for _, n := range []int{0, 1, 100, len(data)} {
		for _, size := range []int64{-1, 0, 1, int64(n) - 1, int64(n), int64(n) + 1, 4 * int64(n)} {
			got, err := readSized(io.LimitReader(bytes.NewReader(data), int64(n)), size)
			if err != nil || !bytes.Equal(got, data[:n]) || got == nil {
				t.Fatalf("%d bytes, size %d: %d bytes, %v", n, size, len(got), err)
			}
		}
	}
	boom := errors.New("boom")
	got, err := readSized(io.MultiReader(bytes.NewReader(data[:10]), errReader{boom}), 5)
	if !errors.Is(err, boom) || !bytes.Equal(got, data[:10]) {
		t.Fatalf("read error: %q, %v", got, err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
