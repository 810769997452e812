package warc

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestReadHTTPResponse(t *testing.T) {
	page := "<html><body>Grüße</body></html>"
	enc := func(f func(io.Writer) io.WriteCloser) string {
		var b bytes.Buffer
		w := f(&b)
		w.Write([]byte(page))
		w.Close()
		return b.String()
	}
	gz := enc(func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
	zl := enc(func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
	raw := enc(func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, 5); return fw })
	zs := enc(func(w io.Writer) io.WriteCloser { zw, _ := zstd.NewWriter(w); return zw })
	chunked := func(s string, n int) string {
		var b strings.Builder
		for len(s) > 0 {
			k := min(n, len(s))
			b.WriteString(strconv.FormatInt(int64(k), 16) + ";ext=1\r\n" + s[:k] + "\r\n")
			s = s[k:]
		}
		return b.String() + "0\r\nTrailer: x\r\n\r\n"
	}
	for _, c := range []struct {
		name, head, payload string
		want                string
		decoded             []string
		encoding            string
	}{
		{"identity", "Content-Type: text/html", page, page, nil, ""},
		{"chunked", "Transfer-Encoding: chunked", chunked(page, 5), page, []string{"chunked"}, ""},
		{"chunked stored unchunked", "Transfer-Encoding: chunked", page, page, nil, ""},
		{"gzip", "Content-Encoding: gzip", gz, page, []string{"gzip"}, ""},
		{"x-gzip in chunks", "Content-Encoding: x-gzip\r\nTransfer-Encoding: chunked", chunked(gz, 10), page, []string{"chunked", "x-gzip"}, ""},
		{"gzip stored decoded", "Content-Encoding: gzip", page, page, nil, ""},
		{"deflate zlib", "Content-Encoding: deflate", zl, page, []string{"deflate"}, ""},
		{"deflate raw", "Content-Encoding: deflate", raw, page, []string{"deflate"}, ""},
		{"zstd", "Content-Encoding: zstd", zs, page, []string{"zstd"}, ""},
		{"br left on", "Content-Encoding: br", "\x0b\x02\x80hi\x03", "\x0b\x02\x80hi\x03", nil, "br"},
		{"gzip then br", "Content-Encoding: gzip, br", "xx", "xx", nil, "gzip, br"},
		{"identity coding", "Content-Encoding: identity", page, page, nil, ""},
		{"CC renamed", "X-Crawler-Content-Encoding: gzip\r\nX-Crawler-Transfer-Encoding: chunked", page, page, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			block := "HTTP/1.1 200 OK\r\n" + c.head + "\r\n\r\n" + c.payload
			resp, err := ReadHTTPResponse(strings.NewReader(block))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != c.want || !reflect.DeepEqual(resp.Decoded, c.decoded) || resp.Encoding != c.encoding {
				t.Errorf("got %q %q %q", body, resp.Decoded, resp.Encoding)
			}
		})
	}
}

func TestHTTPStatusAndType(t *testing.T) {
	for _, c := range []struct {
		block                              string
		code                               int
		reason, mediaType, charset, header string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n", 200, "OK", "text/html", "utf-8", "text/html; charset=UTF-8"},
		{"HTTP/1.0 404 Not Found\nContent-Type: Text/HTML;charset=\"ISO-8859-1\"\n\n", 404, "Not Found", "text/html", "iso-8859-1", "Text/HTML;charset=\"ISO-8859-1\""},
		{"HTTP/1.1 200\r\nContent-Type: text/html; charset=utf-8; charset=latin1\r\n\r\n", 200, "", "text/html", "utf-8", "text/html; charset=utf-8; charset=latin1"},
		{"HTTP/1.1 301 Moved\r\nbroken line\r\nContent-Type:\r\n  text/plain\r\n\r\n", 301, "Moved", "text/plain", "", "text/plain"},
		{"HTTP/2 200 \r\n\r\n", 200, "", "", "", ""},
	} {
		resp, err := ReadHTTPResponse(strings.NewReader(c.block))
		if err != nil {
			t.Errorf("%q: %v", c.block, err)
			continue
		}
		if resp.StatusCode != c.code || resp.Reason != c.reason || resp.MediaType != c.mediaType || resp.Charset != c.charset || resp.Header.Get("content-type") != c.header {
			t.Errorf("%q: got %d %q %q %q %q", c.block, resp.StatusCode, resp.Reason, resp.MediaType, resp.Charset, resp.Header.Get("content-type"))
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	for _, block := range []string{
		"",
		"GET / HTTP/1.1\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b", // no end of header
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("x", DefaultMaxHeaderBytes) + "\r\n\r\n",
	} {
		if _, err := ReadHTTPResponse(strings.NewReader(block)); !errors.Is(err, ErrBadHTTP) {
			t.Errorf("%.40q: want ErrBadHTTP, got %v", block, err)
		}
	}
	// A payload that breaks off: the bytes that decoded, then an error.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Repeat("some text ", 1000)))
	zw.Close()
	block := "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gz.String()[:gz.Len()/2]
	resp, err := ReadHTTPResponse(strings.NewReader(block))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, ErrBadHTTP) || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) == 0 {
		t.Errorf("cut gzip payload: %d bytes, %v", len(body), err)
	}
	// A bad record's error passes through as it is.
	data := rawRecord("response", "http://x/", "HTTP/1.1 200 OK\r\n\r\n"+strings.Repeat("x", 100))
	r := NewReader(bytes.NewReader(data[:len(data)-50]), "f")
	rec, _ := r.Next()
	resp, err = ReadHTTPResponse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrBadRecord) || errors.Is(err, ErrBadHTTP) {
		t.Errorf("truncated record: %v", err)
	}
}
