package warc

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// rawRecord is a record's bytes as a writer that follows the spec writes
// them, for hand-made test files.
func rawRecord(typ, uri string, block string) []byte {
	return fmt.Appendf(nil, "WARC/1.1\r\nWARC-Type: %s\r\nWARC-Target-URI: %s\r\nWARC-Date: 2024-01-02T03:04:05Z\r\nWARC-Record-ID: <urn:uuid:%s>\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n",
		typ, uri, uri, len(block), block)
}

// gzipMember compresses b as one gzip member.
func gzipMember(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// got is what reading a file gives: each record as "type uri block", or
// the reason of a bad record as "!reason".
func readAll(t testing.TB, data []byte, name string) ([]string, *Reader) {
	t.Helper()
	r := NewReader(bytes.NewReader(data), name)
	var got []string
	for range 10000 {
		rec, err := r.Next()
		if err == io.EOF {
			return got, r
		}
		var re *RecordError
		if errors.As(err, &re) {
			if !errors.Is(err, ErrBadRecord) || re.File != name {
				t.Fatalf("bad RecordError %#v", re)
			}
			got = append(got, "!"+re.Reason)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		block, err := io.ReadAll(rec.Body)
		if errors.As(err, &re) {
			got = append(got, "!"+re.Reason)
			continue
		}
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		got = append(got, rec.Type+" "+rec.TargetURI+" "+string(block))
	}
	t.Fatal("Next does not end")
	return nil, nil
}

func TestReadPlainAndGzip(t *testing.T) {
	recs := [][]byte{
		rawRecord("warcinfo", "", "software: test\r\n"),
		rawRecord("response", "http://a/", "HTTP/1.1 200 OK\r\n\r\nA"),
		rawRecord("resource", "http://b/", ""),
		rawRecord("conversion", "http://c/", "text\r\n\r\nWARC/1.1 inside a block is just text"),
	}
	want := []string{"warcinfo  software: test\r\n", "response http://a/ HTTP/1.1 200 OK\r\n\r\nA", "resource http://b/ ", "conversion http://c/ text\r\n\r\nWARC/1.1 inside a block is just text"}
	plain := bytes.Join(recs, nil)
	var perRecord []byte
	for _, r := range recs {
		perRecord = append(perRecord, gzipMember(t, r)...)
	}
	for name, data := range map[string][]byte{
		"plain":      plain,
		"per-record": perRecord,
		"whole-file": gzipMember(t, plain),
		"two-halves": append(gzipMember(t, bytes.Join(recs[:2], nil)), gzipMember(t, bytes.Join(recs[2:], nil))...),
	} {
		t.Run(name, func(t *testing.T) {
			got, r := readAll(t, data, name)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
			if len(r.Skipped()) != 0 {
				t.Errorf("skipped %v", r.Skipped())
			}
		})
	}
}

func TestRecordFields(t *testing.T) {
	data := []byte("WARC/1.0\r\nWARC-Type: response\r\nwarc-target-uri: <http://x/>\r\nWARC-Date: 2024-01-02T03:04:05.25Z\r\n" +
		"WARC-Record-ID: <urn:uuid:1>\r\nX-Folded: a\r\n\tb\r\nContent-Length: 0\r\n\r\n\r\n\r\n")
	r := NewReader(bytes.NewReader(data), "f")
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Version: "WARC/1.0", Type: "response", TargetURI: "http://x/", RecordID: "<urn:uuid:1>",
		Date: time.Date(2024, 1, 2, 3, 4, 5, 250e6, time.UTC)}
	if rec.Version != want.Version || rec.Type != want.Type || rec.TargetURI != want.TargetURI || rec.RecordID != want.RecordID || !rec.Date.Equal(want.Date) {
		t.Errorf("got %+v", rec)
	}
	if v := rec.Header.Get("WARC-TARGET-URI"); v != "<http://x/>" {
		t.Errorf("Header.Get = %q", v)
	}
	if v := rec.Header.Get("x-folded"); v != "a b" {
		t.Errorf("folded field = %q", v)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("want io.EOF, got %v", err)
	}
}

func TestHeader(t *testing.T) {
	h := Header{{"A", "1"}, {"b", "2"}, {"a", "3"}}
	if h.Get("a") != "1" || !reflect.DeepEqual(h.Values("A"), []string{"1", "3"}) || h.Has("c") {
		t.Fatalf("lookups on %v", h)
	}
	h.Set("A", "x")
	h.Add("c", "4")
	if want := (Header{{"A", "x"}, {"b", "2"}, {"c", "4"}}); !reflect.DeepEqual(h, want) {
		t.Fatalf("after Set, Add: %v", h)
	}
	h.Del("B")
	if want := (Header{{"A", "x"}, {"c", "4"}}); !reflect.DeepEqual(h, want) {
		t.Fatalf("after Del: %v", h)
	}
}

func TestBadRecords(t *testing.T) {
	good1 := rawRecord("resource", "http://1/", "one")
	good2 := rawRecord("resource", "http://2/", "two")
	bad := map[string]struct {
		rec    string
		reason string
	}{
		"no colon":       {"WARC/1.1\r\nWARC-Type: resource\r\nthis line has no colon\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n", ReasonBadHeader},
		"no length":      {"WARC/1.1\r\nWARC-Type: resource\r\n\r\nabc\r\n\r\n", ReasonBadHeader},
		"bad length":     {"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: -1\r\n\r\n\r\n\r\n", ReasonBadHeader},
		"no type":        {"WARC/1.1\r\nContent-Length: 0\r\n\r\n\r\n\r\n", ReasonBadHeader},
		"version":        {"WARC/2.0\r\nWARC-Type: resource\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n", ReasonBadVersion},
		"not a record":   {"some junk\r\nmore junk\r\n", ReasonBadHeader}, // plain: the record before it is bad_length
		"space in name":  {"WARC/1.1\r\nWARC Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n", ReasonBadHeader},
		"fold first":     {"WARC/1.1\r\n folded\r\nContent-Length: 0\r\n\r\n\r\n\r\n", ReasonBadHeader},
		"long header":    {"WARC/1.1\r\nWARC-Type: resource\r\nX: " + strings.Repeat("x", 5000) + "\r\nContent-Length: 0\r\n\r\n\r\n\r\n", ReasonHeaderTooLong},
		"long line":      {"WARC/1.1\r\nWARC-Type: resource\r\nX: " + strings.Repeat("x", 200<<10) + "\r\nContent-Length: 0\r\n\r\n\r\n\r\n", ReasonHeaderTooLong},
		"empty resource": {"WARC/1.1\r\nWARC-Type: resource\r\n\r\n", ReasonBadHeader},
	}
	for name, c := range bad {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", name, gz), func(t *testing.T) {
				parts := [][]byte{good1, []byte(c.rec), good2}
				var data []byte
				for i, p := range parts {
					if gz {
						p = gzipMember(t, p)
					}
					data = append(data, p...)
					parts[i] = p
				}
				r := NewReader(bytes.NewReader(data), "f.warc")
				r.MaxHeaderBytes = 4096
				var got []string
				for {
					rec, err := r.Next()
					if err == io.EOF {
						break
					}
					var re *RecordError
					if errors.As(err, &re) {
						got = append(got, "!"+re.Reason)
						if want := "f.warc: record at offset "; !strings.HasPrefix(err.Error(), want) {
							t.Errorf("error %q does not start %q", err, want)
						}
						if want := int64(len(parts[0])); re.Offset != want && re.Reason != ReasonBadLength {
							t.Errorf("offset %d, want %d", re.Offset, want)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(rec.Body)
					if errors.As(err, &re) {
						got = append(got, "!"+re.Reason)
						continue
					}
					got = append(got, string(b))
				}
				reason := c.reason
				if name == "not a record" && !gz {
					reason = ReasonBadLength
				}
				want := []string{"one", "!" + reason, "two"}
				if reason == ReasonBadLength {
					want = want[1:]
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %q, want %q", got, want)
				}
				if n := r.Skipped()[reason]; n != 1 {
					t.Errorf("Skipped = %v", r.Skipped())
				}
			})
		}
	}
}

// A Content-Length too short leaves the rest of the block where the end of
// the record should be: a bad record, then reading goes on.
func TestWrongLength(t *testing.T) {
	data := bytes.Join([][]byte{
		[]byte("WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 1\r\n\r\nabc\r\n\r\n"),
		rawRecord("resource", "http://2/", "two"),
	}, nil)
	got, _ := readAll(t, data, "f")
	if want := []string{"!bad_length", "resource http://2/ two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestSkipBad(t *testing.T) {
	data := bytes.Join([][]byte{rawRecord("resource", "http://1/", "one"), []byte("WARC/1.1\r\njunk\r\n\r\n"), rawRecord("resource", "http://2/", "two")}, nil)
	r := NewReader(bytes.NewReader(data), "f")
	r.SkipBad = true
	var uris []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, rec.TargetURI)
	}
	if want := []string{"http://1/", "http://2/"}; !reflect.DeepEqual(uris, want) {
		t.Errorf("got %q", uris)
	}
	if want := map[string]int64{ReasonBadHeader: 1}; !reflect.DeepEqual(r.Skipped(), want) {
		t.Errorf("Skipped = %v", r.Skipped())
	}
}

func TestTruncatedPlain(t *testing.T) {
	data := bytes.Join([][]byte{rawRecord("resource", "http://1/", "one"), rawRecord("resource", "http://2/", "two, cut short")}, nil)
	data = data[:len(data)-10]
	got, r := readAll(t, data, "f")
	if want := []string{"resource http://1/ one", "!truncated"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	if r.Skipped()[ReasonTruncated] != 1 {
		t.Errorf("Skipped = %v", r.Skipped())
	}
	// Cut inside the header.
	got, _ = readAll(t, data[:len(rawRecord("resource", "http://1/", "one"))+20], "f")
	if want := []string{"resource http://1/ one", "!truncated"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cut in header: got %q", got)
	}
}

// A gzip member cut anywhere, or corrupted, in the middle of a file: that
// record is bad (bad_gzip), and every record after it is read.
func TestBrokenMember(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the crawl reads pages and keeps their text for a model to learn from")
	var members [][]byte
	var want []string
	for i := range 5 {
		var block strings.Builder
		for range 150 + 100*i {
			block.WriteString(words[rng.IntN(len(words))] + " ")
		}
		uri := fmt.Sprintf("http://%d/", i)
		members = append(members, gzipMember(t, rawRecord("resource", uri, block.String())))
		want = append(want, "resource "+uri+" "+block.String())
	}
	want = summary(want)
	want[2] = "!bad_gzip"
	m := members[2]
	cases := map[string][]byte{}
	for cut := 1; cut < len(m); cut++ {
		cases[fmt.Sprintf("cut at %d of %d", cut, len(m))] = m[:cut]
	}
	for at := 10; at < len(m); at += 7 { // bytes 4 to 9 (mtime, flags, OS) change nothing
		c := bytes.Clone(m)
		c[at] ^= 0x55
		cases[fmt.Sprintf("flipped byte %d of %d", at, len(m))] = c
	}
	for name, broken := range cases {
		data := bytes.Join([][]byte{members[0], members[1], broken, members[3], members[4]}, nil)
		got, r := readAll(t, data, "f.warc.gz")
		if got = summary(got); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q\nwant %q", name, got, want)
		}
		if !reflect.DeepEqual(r.Skipped(), map[string]int64{ReasonBadGzip: 1}) {
			t.Errorf("%s: Skipped = %v", name, r.Skipped())
		}
	}

	// Bytes between members that are not gzip.
	data := bytes.Join([][]byte{members[0], []byte("not gzip"), members[1]}, nil)
	got, r := readAll(t, data, "f.warc.gz")
	if got = summary(got); !reflect.DeepEqual(got, []string{want[0], "!bad_gzip", want[1]}) {
		t.Errorf("junk between members: got %q", got)
	}
	if r.Skipped()[ReasonBadGzip] != 1 {
		t.Errorf("junk between members: Skipped = %v", r.Skipped())
	}
}

// summary shortens records for messages.
func summary(got []string) []string {
	out := make([]string, len(got))
	for i, s := range got {
		if len(s) > 40 {
			s = fmt.Sprintf("%s...(%d bytes, sha1 %x)", s[:40], len(s), sha1.Sum([]byte(s)))
		}
		out[i] = s
	}
	return out
}

// A bad block is reported once: by Body if the caller reads it, or else by
// the next call of Next.
func TestBodyErrorOnce(t *testing.T) {
	data := rawRecord("resource", "http://1/", "a block that is cut short")
	data = data[:len(data)-12]
	r := NewReader(bytes.NewReader(data), "f")
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rec.Body); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Body: want ErrBadRecord, got %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after the Body's error: want io.EOF, got %v", err)
	}
	if _, err := rec.Body.Read(make([]byte, 1)); err == nil || errors.Is(err, ErrBadRecord) {
		t.Errorf("Body after Next: got %v", err)
	}

	r = NewReader(bytes.NewReader(data), "f")
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Next without reading the Body: want ErrBadRecord, got %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("then: want io.EOF, got %v", err)
	}
	if r.Skipped()[ReasonTruncated] != 1 {
		t.Errorf("Skipped = %v", r.Skipped())
	}
}

func TestNotWARC(t *testing.T) {
	for name, data := range map[string][]byte{
		"docs.jsonl":    []byte(`{"id":"1","text":"hello"}` + "\n"),
		"docs.jsonl.gz": gzipMember(t, []byte(`{"id":"1","text":"hello"}`+"\n")),
		"bad.gz":        {0x1f, 0x8b, 0x08, 0, 0, 0},
		"binary":        {0, 1, 2, 3, 0xff},
		"html":          []byte("<!doctype html><html>WARC/1.1\r\n"),
	} {
		r := NewReader(bytes.NewReader(data), name)
		_, err := r.Next()
		if !errors.Is(err, ErrNotWARC) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming the file and wrapping ErrNotWARC, got %v", name, err)
		}
		if errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: not-WARC is not a skippable record", name)
		}
		if _, err2 := r.Next(); err2 != err {
			t.Errorf("%s: second Next: %v", name, err2)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil), "empty").Next(); err != io.EOF {
		t.Errorf("empty input: want io.EOF, got %v", err)
	}
}

type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// An error of the underlying reader ends reading; it is not a bad record.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	rec := rawRecord("resource", "http://1/", strings.Repeat("x", 1000))
	member := gzipMember(t, rec)
	for _, data := range [][]byte{rec[:500], member[:len(member)/2]} {
		r := NewReader(&errReader{data, boom}, "f")
		var err error
		for range 10 {
			var rec *Record
			if rec, err = r.Next(); err != nil {
				break
			}
			if _, err = io.ReadAll(rec.Body); err != nil {
				break
			}
		}
		if !errors.Is(err, boom) || errors.Is(err, ErrBadRecord) {
			t.Errorf("want boom, got %v", err)
		}
		if _, err2 := r.Next(); !errors.Is(err2, boom) {
			t.Errorf("Next after: %v", err2)
		}
	}
}

func TestHand10(t *testing.T) {
	data, err := os.ReadFile("testdata/hand10.warc")
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(data), "hand10.warc")
	type row struct {
		typ, uri, date, ctype string
		length, offset        int64
	}
	want := []row{
		{"warcinfo", "", "2008-04-30T20:48:25Z", "application/warc-fields", 46, 0},
		{"response", "http://www.archive.org/", "2008-04-30T20:48:26Z", "application/http; msgtype=response", 91, 266},
		{"resource", "file:///notes.txt", "2008-04-30T20:48:27Z", "text/plain", 27, 708},
		{"revisit", "http://www.archive.org/", "2008-05-01T00:00:00Z", "application/http; msgtype=response", 44, 942},
	}
	for i, w := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got := row{rec.Type, rec.TargetURI, rec.Date.Format(time.RFC3339), rec.ContentType(), rec.ContentLength, rec.Offset}
		if got != w {
			t.Errorf("record %d: got %+v, want %+v", i, got, w)
		}
		if rec.Type == TypeResponse {
			resp, err := ReadHTTPResponse(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Proto != "HTTP/1.0" || resp.MediaType != "text/html" || string(body) != "<html><body>by hand</body></html>" {
				t.Errorf("HTTP: %+v %q", resp, body)
			}
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("want io.EOF, got %v", err)
	}
}

// Common Crawl's layout: request, response, metadata per capture, a gzip
// member each; payloads stored decoded with X-Crawler- fields, or (from
// other crawlers) chunked and gzipped as sent.
func TestCommonCrawlWARC(t *testing.T) {
	f, err := os.Open("testdata/cc.warc.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, "cc.warc.gz")
	var types []string
	var pages []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, rec.Type)
		if !rec.IsHTTPResponse() {
			continue
		}
		if rec.Header.Get("WARC-IP-Address") != "192.0.2.7" || rec.Header.Get("WARC-Concurrent-To") == "" {
			t.Errorf("response fields: %v", rec.Header)
		}
		resp, err := ReadHTTPResponse(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, fmt.Sprintf("%d %s %s %v %s", resp.StatusCode, resp.MediaType, resp.Charset, resp.Decoded, body[:15]))
	}
	wantTypes := strings.Fields("warcinfo request response metadata request response metadata request response metadata")
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types %q", types)
	}
	wantPages := []string{
		"200 text/html utf-8 [] <!DOCTYPE html>",
		"200 text/html iso-8859-1 [chunked gzip] <!DOCTYPE html>",
		"200 application/pdf  [] %PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
	}
	if !reflect.DeepEqual(pages, wantPages) {
		t.Errorf("pages %q", pages)
	}
}

func TestCommonCrawlWET(t *testing.T) {
	f, err := os.Open("testdata/cc.warc.wet.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, "cc.warc.wet.gz")
	var got []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type != TypeConversion {
			continue
		}
		text, err := io.ReadAll(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.TargetURI+" "+rec.Header.Get("WARC-Identified-Content-Language")+" "+strings.SplitN(string(text), "\n", 2)[0])
	}
	want := []string{"https://example.com/ eng Example", "https://example.org/de deu Straße und Übergrößen", "https://example.net/ja jpn 日本語のページです。"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

// blockDigest is WARC-Block-Digest of b.
func blockDigest(b []byte) string {
	s := sha1.Sum(b)
	return "sha1:" + base32.StdEncoding.EncodeToString(s[:])
}

// Whatever the input, the reader ends, returns only records, bad records,
// not-WARC or io.EOF, and holds no more than its bounds in memory.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"testdata/hand10.warc", "testdata/cc.warc.gz", "testdata/cc.warc.wet.gz"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(rawRecord("response", "http://a/", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"))
	f.Add(append(gzipMember(f, rawRecord("resource", "http://a/", "x")), 0x1f, 0x8b, 0x08, 0, 'W'))
	f.Add([]byte("WARC/1.0\r\nWARC-Type: a\r\nContent-Length: 99999999999\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fz")
		r.MaxHeaderBytes = 1 << 10
		for n := 0; ; n++ {
			if n > len(data)+2 {
				t.Fatalf("more records than bytes: %d", n)
			}
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if errors.Is(err, ErrNotWARC) {
				if n > 0 {
					t.Fatalf("not-WARC after %d records", n)
				}
				return
			}
			if errors.Is(err, ErrBadRecord) {
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if rec.ContentLength < 0 {
				t.Fatalf("Content-Length %d", rec.ContentLength)
			}
			if rec.IsHTTPResponse() || n%2 == 0 {
				resp, err := ReadHTTPResponse(rec.Body)
				if err != nil {
					if !errors.Is(err, ErrBadHTTP) && !errors.Is(err, ErrBadRecord) {
						t.Fatalf("ReadHTTPResponse: %v", err)
					}
					continue
				}
				_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				if err != nil && !errors.Is(err, ErrBadHTTP) && !errors.Is(err, ErrBadRecord) {
					t.Fatalf("HTTP body: %v", err)
				}
			} else if n%3 == 0 {
				_, err := io.Copy(io.Discard, rec.Body)
				if err != nil && !errors.Is(err, ErrBadRecord) {
					t.Fatalf("body: %v", err)
				}
			}
		}
	})
}

// benchWARC is a file of n HTML captures written by our Writer.
func benchWARC(b *testing.B, n int) (gz, plain []byte) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteWarcinfo("bench.warc.gz", Header{{"software", "pipe"}})
	page := []byte("<html><body>" + strings.Repeat("<p>The quick brown fox jumps over the lazy dog, again and again.</p>\n", 300) + "</body></html>")
	for i := range n {
		_, _, err := w.WriteExchange(&Exchange{
			TargetURI:      fmt.Sprintf("https://example.com/%d", i),
			IPAddress:      "192.0.2.1",
			Date:           time.Date(2024, 1, 1, 0, 0, i%60, 0, time.UTC),
			Request:        []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"),
			Payload:        page,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	plain, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), plain
}

// BenchmarkReader reads every record and every HTTP payload; MB/s counts
// the uncompressed WARC bytes.
func BenchmarkReader(b *testing.B) {
	gz, plain := benchWARC(b, 500)
	for _, c := range []struct {
		name string
		data []byte
	}{{"gzip", gz}, {"plain", plain}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(c.data), "bench")
				for {
					rec, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if rec.IsHTTPResponse() {
						resp, err := ReadHTTPResponse(rec.Body)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := io.Copy(io.Discard, resp.Body); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// BenchmarkWriter writes request and response records of a 21 KB page;
// MB/s counts the blocks.
func BenchmarkWriter(b *testing.B) {
	page := []byte("<html><body>" + strings.Repeat("<p>The quick brown fox jumps over the lazy dog, again and again.</p>\n", 300) + "</body></html>")
	ex := &Exchange{
		TargetURI:      "https://example.com/",
		IPAddress:      "192.0.2.1",
		Request:        []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		ResponseHeader: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"),
		Payload:        page,
	}
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(ex.Request) + len(ex.ResponseHeader) + len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := w.WriteExchange(ex); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
