package crawl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// acceptEncoding is what the crawler asks servers for. It decodes these
// itself (the payload is stored decoded, see fetched.responseHeader).
const acceptEncoding = "gzip, deflate"

// accept prefers the types the crawler keeps.
const accept = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"

// fetcher makes the crawler's HTTP requests: HTTP/1.1, no proxy, no
// automatic redirects or decompression, the dialer of newDialer.
type fetcher struct {
	client    *http.Client
	userAgent string
	timeout   time.Duration
}

func newFetcher(cfg *Config) *fetcher {
	dialer := newDialer(cfg.AllowPrivate, cfg.Timeout)
	tr := &http.Transport{
		Proxy:                  nil, // never through a proxy: the address check must see the real peer
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		DisableCompression:     true,
		MaxIdleConns:           cfg.Concurrency * 2,
		MaxIdleConnsPerHost:    cfg.PerHostConnections,
		MaxConnsPerHost:        cfg.PerHostConnections,
		IdleConnTimeout:        30 * time.Second,
		TLSClientConfig:        cfg.TLSConfig,
	}
	return &fetcher{
		client: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: cfg.UserAgent,
		timeout:   cfg.Timeout,
	}
}

// maxHeaderBytes bounds a response's header.
const maxHeaderBytes = 256 << 10

// fetched is one HTTP exchange as the crawler records it.
type fetched struct {
	url        *url.URL
	date       time.Time // when the request was sent
	elapsed    time.Duration
	ip         string // the server's address
	status     int
	header     http.Header
	request    []byte // the request as sent, for the request record
	respHead   []byte // status line and header, as stored (see responseHeader)
	payload    []byte // decoded, at most the body limit
	truncated  bool   // the body was longer than the limit
	mediaType  string // lower-case, "" when none
	coding     string // a content coding left on the payload (one we cannot take off), "" for none
	retryAfter time.Duration
	hasRetry   bool
}

// errBadEncoding is a body whose content coding does not decode.
var errBadEncoding = errors.New("content coding does not decode")

// get fetches u. body says, from the status and media type, whether to
// read the body, and up to how many bytes (0: not at all); a body not read
// is not stored.
func (f *fetcher) get(ctx context.Context, u *url.URL, body func(status int, mediaType string) int64) (*fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res := &fetched{url: u}
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if a, ok := info.Conn.RemoteAddr().(*net.TCPAddr); ok {
			res.ip = a.IP.String()
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", acceptEncoding)
	res.request = requestBytes(req)
	res.date = time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	res.header = resp.Header
	res.mediaType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	res.mediaType = strings.ToLower(res.mediaType)
	res.retryAfter, res.hasRetry = parseRetryAfter(resp.Header.Get("Retry-After"), res.date)

	limit := body(res.status, res.mediaType)
	coding := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if limit > 0 {
		res.payload, res.truncated, _, err = readBody(resp.Body, coding, limit)
		if err != nil {
			return nil, err
		}
	}
	// The payload is stored without a gzip or deflate coding: taken off,
	// or never on though the header said so.
	plain := true
	switch coding {
	case "", "identity", "gzip", "x-gzip", "deflate":
	default:
		plain, res.coding = false, coding
	}
	res.elapsed = time.Since(res.date)
	res.respHead = responseHeader(resp, plain && coding != "", len(res.payload))
	return res, nil
}

// readBody reads up to limit bytes of body, taking off a gzip or deflate
// content coding (decoded reports whether it did). truncated says the
// body, or what it decodes to, was longer than limit: the payload is its
// first limit bytes (or what decoded of the first limit bytes received).
func readBody(body io.Reader, coding string, limit int64) (payload []byte, truncated, decoded bool, err error) {
	raw := &countingReader{r: io.LimitReader(body, limit+1)}
	var r io.Reader = raw
	br := bufio.NewReaderSize(raw, 512)
	head, _ := br.Peek(2)
	switch {
	case (coding == "gzip" || coding == "x-gzip") && bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		gz, gerr := gzip.NewReader(br)
		if gerr != nil {
			return nil, false, false, classifyRead(raw, gerr)
		}
		r, decoded = gz, true
	case coding == "deflate" && len(head) == 2:
		if head[0]&0x0f == 8 && (uint(head[0])<<8|uint(head[1]))%31 == 0 {
			zr, zerr := zlib.NewReader(br)
			if zerr != nil {
				return nil, false, false, classifyRead(raw, zerr)
			}
			r = zr
		} else {
			r = flate.NewReader(br)
		}
		decoded = true
	default:
		r = br // identity, an unknown coding kept as is, or a coding the bytes do not start as
	}
	payload, err = io.ReadAll(io.LimitReader(r, limit+1))
	truncated = int64(len(payload)) > limit || raw.n > limit
	if int64(len(payload)) > limit {
		payload = payload[:limit]
	}
	if err != nil {
		if truncated && (raw.err == nil || raw.err == io.EOF) {
			err = nil // the coding broke off where the raw body was cut
		} else {
			return nil, false, false, classifyRead(raw, err)
		}
	}
	return payload, truncated, decoded, nil
}

// classifyRead tells a failure of the connection (retried) from a body
// that does not decode (not retried).
func classifyRead(raw *countingReader, err error) error {
	if raw.err != nil && raw.err != io.EOF {
		return raw.err
	}
	return fmt.Errorf("%w: %v", errBadEncoding, err)
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// requestBytes renders the request as the client sends it (HTTP/1.1).
func requestBytes(req *http.Request) []byte {
	var b bytes.Buffer
	b.WriteString("GET " + req.URL.RequestURI() + " HTTP/1.1\r\n")
	b.WriteString("Host: " + req.URL.Host + "\r\n")
	req.Header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// responseHeader renders the status line and header of resp as stored. Go
// takes chunking off and the crawler takes a content coding off
// (decoded), so, as
// Common Crawl does, the fields that would make a reader decode the stored
// payload again are renamed X-Crawler-Transfer-Encoding,
// X-Crawler-Content-Encoding and X-Crawler-Content-Length, and
// Content-Length is the stored payload's.
func responseHeader(resp *http.Response, decoded bool, n int) []byte {
	h := resp.Header.Clone()
	if len(resp.TransferEncoding) > 0 {
		h["X-Crawler-Transfer-Encoding"] = resp.TransferEncoding
	}
	h.Del("Transfer-Encoding")
	if decoded {
		h["X-Crawler-Content-Encoding"] = h["Content-Encoding"]
		h.Del("Content-Encoding")
	}
	if v, ok := h["Content-Length"]; ok {
		h["X-Crawler-Content-Length"] = v
	}
	h.Set("Content-Length", strconv.Itoa(n))
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/%d.%d %s\r\n", resp.ProtoMajor, resp.ProtoMinor, statusText(resp))
	h.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
}

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date
// (relative to now).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > 1<<31 {
			secs = 1 << 31
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// textual reports whether the crawler keeps pages of a media type: HTML
// and plain text. A response with no Content-Type is kept when its start
// sniffs as one of them (see sniffText).
func textual(mediaType string) bool {
	switch mediaType {
	case "text/html", "application/xhtml+xml", "text/plain":
		return true
	}
	return false
}

// sniffText reports whether a payload with no Content-Type looks like HTML
// or text, by the WHATWG sniffing rules that net/http implements.
func sniffText(payload []byte) string {
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(payload))
	return mt
}
