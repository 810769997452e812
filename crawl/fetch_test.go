package crawl

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"120":                           2 * time.Minute,
		"0":                             0,
		" 5 ":                           5 * time.Second,
		"Thu, 02 Jan 2025 03:05:05 GMT": time.Minute,
		"Thu, 02 Jan 2025 03:00:00 GMT": 0, // in the past
	} {
		if got, ok := parseRetryAfter(v, now); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := parseRetryAfter(bad, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", bad)
		}
	}
}

func TestReadBody(t *testing.T) {
	text := strings.Repeat("hello, world. ", 100)
	var zl, raw bytes.Buffer
	zw := zlib.NewWriter(&zl)
	zw.Write([]byte(text))
	zw.Close()
	fw, _ := flate.NewWriter(&raw, 5)
	fw.Write([]byte(text))
	fw.Close()
	for _, c := range []struct {
		name, coding string
		body         []byte
		limit        int64
		want         string
		truncated    bool
		decoded      bool
	}{
		{"identity", "", []byte(text), 1 << 20, text, false, false},
		{"cut", "", []byte(text), 10, text[:10], true, false},
		{"deflate as zlib", "deflate", zl.Bytes(), 1 << 20, text, false, true},
		{"deflate raw", "deflate", raw.Bytes(), 1 << 20, text, false, true},
		{"deflate decoded past the limit", "deflate", zl.Bytes(), 100, text[:100], true, true},
		{"gzip label on plain bytes", "gzip", []byte(text), 1 << 20, text, false, false},
		{"unknown coding kept", "br", []byte("\x0b\x02\x80"), 1 << 20, "\x0b\x02\x80", false, false},
	} {
		got, truncated, decoded, err := readBody(bytes.NewReader(c.body), c.coding, c.limit)
		if err != nil || string(got) != c.want || truncated != c.truncated || decoded != c.decoded {
			t.Errorf("%s: %q truncated %v decoded %v err %v", c.name, clip(got), truncated, decoded, err)
		}
	}
	if _, _, _, err := readBody(bytes.NewReader([]byte("\x1f\x8b\x08\x00garbage")), "gzip", 1<<20); err == nil {
		t.Error("corrupt gzip read without error")
	}
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func TestResponseHeader(t *testing.T) {
	resp := &http.Response{
		Status: "200 OK", StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1,
		Header:           http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}, "Content-Length": {"42"}},
		TransferEncoding: []string{"chunked"},
	}
	got := string(responseHeader(resp, true, 1000))
	want := "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\nX-Crawler-Content-Encoding: gzip\r\nX-Crawler-Content-Length: 42\r\nX-Crawler-Transfer-Encoding: chunked\r\n\r\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
