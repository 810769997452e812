package warc

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// sampleExchanges are fetches with payloads of the kinds a crawler stores.
func sampleExchanges(t testing.TB) []*Exchange {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("<html><body>compressed page</body></html>"))
	zw.Close()
	binary := make([]byte, 3000)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return []*Exchange{
		{
			TargetURI: "https://example.com/", IPAddress: "192.0.2.1", Date: date,
			Request:        []byte("GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: pipe\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 38\r\n\r\n"),
			Payload:        []byte("<html><body>hello, world</body></html>"),
		},
		{
			TargetURI: "https://example.com/gz?a=1&b=%20", IPAddress: "2001:db8::1", Date: date.Add(1500 * time.Millisecond),
			Request:        []byte("GET /gz?a=1&b=%20 HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: gzip\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"),
			Payload:        gz.Bytes(),
		},
		{
			TargetURI: "https://example.com/bin", Date: date.Add(time.Hour),
			Request:        []byte("GET /bin HTTP/1.1\r\nHost: example.com\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 404 Not Found\r\nContent-Type: application/octet-stream\r\n\r\n"),
			Payload:        binary,
		},
		{
			TargetURI: "https://example.com/empty", Date: date,
			Request:        []byte("HEAD /empty HTTP/1.1\r\nHost: example.com\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 204 No Content\r\n\r\n"),
		},
	}
}

// writeSample writes a warcinfo record, sampleExchanges, a metadata and a
// revisit record, and returns the file.
func writeSample(t testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if _, err := w.WriteWarcinfo("sample.warc.gz", Header{{"software", "pipe"}, {"format", "WARC File Format 1.1"}}); err != nil {
		t.Fatal(err)
	}
	for _, ex := range sampleExchanges(t) {
		if _, _, err := w.WriteExchange(ex); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WriteRecord(Header{{"WARC-Type", "metadata"}, {"WARC-Target-URI", "https://example.com/"}, {"Content-Type", ContentTypeWarcFields}}, []byte("fetchTimeMs: 12\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteRecord(Header{
		{"WARC-Type", "revisit"}, {"WARC-Target-URI", "https://example.com/"},
		{"WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"},
		{"WARC-Payload-Digest", "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"},
		{"Content-Type", ContentTypeHTTPResponse},
	}, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	data := writeSample(t)
	exs := sampleExchanges(t)
	r := NewReader(bytes.NewReader(data), "sample.warc.gz")
	var recs []*Record
	var blocks [][]byte
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		recs, blocks = append(recs, rec), append(blocks, b)
	}
	if len(recs) != 2+2*len(exs)+1 {
		t.Fatalf("%d records", len(recs))
	}
	info := recs[0]
	if info.Type != TypeWarcinfo || info.Version != Version || info.Header.Get("WARC-Filename") != "sample.warc.gz" ||
		string(blocks[0]) != "software: pipe\r\nformat: WARC File Format 1.1\r\n" {
		t.Errorf("warcinfo %+v %q", info, blocks[0])
	}
	idRE := regexp.MustCompile(`^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}>$`)
	seen := map[string]bool{}
	var prevOffset int64 = -1
	for i, rec := range recs {
		if !idRE.MatchString(rec.RecordID) || seen[rec.RecordID] {
			t.Errorf("record %d: ID %q", i, rec.RecordID)
		}
		seen[rec.RecordID] = true
		if i > 0 && rec.Header.Get("WARC-Warcinfo-ID") != info.RecordID {
			t.Errorf("record %d: WARC-Warcinfo-ID %q", i, rec.Header.Get("WARC-Warcinfo-ID"))
		}
		if got := rec.Header.Get("WARC-Block-Digest"); got != blockDigest(blocks[i]) {
			t.Errorf("record %d: block digest %s, want %s", i, got, blockDigest(blocks[i]))
		}
		if rec.ContentLength != int64(len(blocks[i])) || rec.Offset <= prevOffset {
			t.Errorf("record %d: length %d offset %d", i, rec.ContentLength, rec.Offset)
		}
		prevOffset = rec.Offset
	}
	for i, ex := range exs {
		req, resp := recs[1+2*i], recs[2+2*i]
		if req.Type != TypeRequest || resp.Type != TypeResponse || req.TargetURI != ex.TargetURI || resp.TargetURI != ex.TargetURI {
			t.Errorf("exchange %d: %s %s %s", i, req.Type, resp.Type, resp.TargetURI)
		}
		if !req.Date.Equal(ex.Date) || !resp.Date.Equal(ex.Date) {
			t.Errorf("exchange %d: dates %v %v, want %v", i, req.Date, resp.Date, ex.Date)
		}
		if resp.Header.Get("WARC-Concurrent-To") != req.RecordID || resp.Header.Get("WARC-IP-Address") != ex.IPAddress {
			t.Errorf("exchange %d: header %v", i, resp.Header)
		}
		if req.ContentType() != ContentTypeHTTPRequest || resp.ContentType() != ContentTypeHTTPResponse {
			t.Errorf("exchange %d: content types %q %q", i, req.ContentType(), resp.ContentType())
		}
		if string(blocks[1+2*i]) != string(ex.Request) || string(blocks[2+2*i]) != string(ex.ResponseHeader)+string(ex.Payload) {
			t.Errorf("exchange %d: blocks differ", i)
		}
		if got := resp.Header.Get("WARC-Payload-Digest"); got != blockDigest(ex.Payload) {
			t.Errorf("exchange %d: payload digest %s", i, got)
		}
		if got := req.Header.Get("WARC-Payload-Digest"); got != blockDigest(nil) {
			t.Errorf("exchange %d: request payload digest %s", i, got)
		}
	}
	if d := recs[len(recs)-1].Header.Values("WARC-Payload-Digest"); !reflect.DeepEqual(d, []string{"sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"}) {
		t.Errorf("revisit keeps its payload digest: %q", d)
	}

	// Each record is its own gzip member: reading from a record's offset
	// alone gives that record.
	third := recs[2]
	rec, err := NewReader(bytes.NewReader(data[third.Offset:]), "tail").Next()
	if err != nil || rec.RecordID != third.RecordID {
		t.Errorf("read from offset %d: %v %v", third.Offset, rec, err)
	}
}

func TestWriterDates(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z"},
		{time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), "2024-01-02T03:04:05.123456Z"},
		{time.Date(2024, 1, 2, 4, 4, 5, 0, time.FixedZone("x", 3600)), "2024-01-02T03:04:05Z"},
	} {
		if got := formatDate(c.t); got != c.want {
			t.Errorf("formatDate(%v) = %q, want %q", c.t, got, c.want)
		}
		if got := parseDate(c.want); !got.Equal(c.t.Truncate(time.Microsecond)) {
			t.Errorf("parseDate(%q) = %v", c.want, got)
		}
	}
}

func TestHTTPPayload(t *testing.T) {
	for _, c := range []struct {
		block []string
		want  string
		ok    bool
	}{
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"}, "body", true},
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r", "\n\r", "\nbo", "dy"}, "body", true},
		{[]string{"HTTP/1.1 200 OK\nA: b\n\nbody\r\n\r\nmore"}, "body\r\n\r\nmore", true},
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"}, "", true},
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r\n"}, "", false},
	} {
		var block [][]byte
		for _, s := range c.block {
			block = append(block, []byte(s))
		}
		payload, ok := httpPayload(block)
		if got := string(bytes.Join(payload, nil)); ok != c.ok || got != c.want {
			t.Errorf("httpPayload(%q) = %q, %v", c.block, got, ok)
		}
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
	w := NewWriter(io.Discard)
	for _, h := range []Header{
		{{"WARC-Target-URI", "http://x/"}},
		{{"WARC-Type", "resource"}, {"WARC-Target-URI", "http://x/\r\nWARC-Type: evil"}},
		{{"WARC-Type", "resource"}, {"Bad Name", "x"}},
		{{"WARC-Type", "resource"}, {"Content-Length", "3"}},
	} {
		if _, err := w.WriteRecord(h, []byte("abc")); err == nil {
			t.Errorf("WriteRecord(%v) did not fail", h)
		}
	}
	if _, err := w.WriteRecord(Header{{"WARC-Type", "resource"}}, []byte("abc")); err != nil {
		t.Errorf("the Writer is usable after a refused record: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteRecord(Header{{"WARC-Type", "resource"}}); err == nil {
		t.Error("write after Close did not fail")
	}

	w = NewWriter(&failWriter{n: 100})
	page := make([]byte, 300<<10) // incompressible, more than the Writer buffers
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range page {
		page[i] = byte(rng.Uint32())
	}
	var first error
	for range 3 {
		if _, err := w.WriteRecord(Header{{"WARC-Type", "resource"}}, page); err != nil && first == nil {
			first = err
		}
	}
	if first == nil || !strings.Contains(first.Error(), "disk full") {
		t.Fatalf("want disk full, got %v", first)
	}
	if err := w.Flush(); err != first || w.Error() != first {
		t.Errorf("Flush = %v, Error = %v, want the first error %v", err, w.Error(), first)
	}
}
