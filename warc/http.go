package warc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// ErrBadHTTP is wrapped by the errors of ReadHTTPResponse and of its
// Body for a block that is not an HTTP response, or a payload that does
// not decode as its header says.
var ErrBadHTTP = errors.New("bad HTTP response")

// HTTPResponse is the HTTP response in the block of a response record.
type HTTPResponse struct {
	Proto      string // "HTTP/1.1"
	StatusCode int    // 200
	Reason     string // "OK"
	Header     Header
	MediaType  string // of Content-Type, lower-case, "text/html"; "" when there is none
	Charset    string // Content-Type's charset parameter, lower-case; "" when there is none

	// Body reads the payload, with the transfer coding and the content
	// codings that the header names taken off, as far as they apply:
	//
	//   - Transfer-Encoding: chunked is undone when the payload is chunked.
	//     Common Crawl stores payloads unchunked and renames the field
	//     X-Crawler-Transfer-Encoding; others (warcio, wget) store the
	//     bytes as sent.
	//   - Content-Encoding gzip (x-gzip), deflate (zlib or raw) and zstd
	//     are decoded when the payload starts as that coding does; one that
	//     does not is taken to be stored decoded already.
	//   - br, compress and unknown codings are left on: Encoding names them.
	//
	// A payload that breaks off (Common Crawl truncates large ones, saying
	// so in WARC-Truncated) ends in an error wrapping ErrBadHTTP and
	// io.ErrUnexpectedEOF after the bytes that did decode.
	Body io.Reader
	// Decoded lists the codings taken off, in order ("chunked", "gzip").
	Decoded []string
	// Encoding is the content coding still on Body, "" for none.
	Encoding string
}

// ReadHTTPResponse reads the status line and header of the HTTP response
// in r, a response record's Body, and returns it with a Body reading the
// payload. The header is bounded by DefaultMaxHeaderBytes.
func ReadHTTPResponse(r io.Reader) (*HTTPResponse, error) {
	br := bufio.NewReaderSize(r, 4<<10)
	budget := DefaultMaxHeaderBytes
	line, err := readHTTPLine(br, &budget)
	if err != nil {
		return nil, httpError("status line", err)
	}
	proto, rest, _ := strings.Cut(string(line), " ")
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/") || err != nil || len(code) != 3 || status < 100 {
		return nil, fmt.Errorf("%w: status line %q", ErrBadHTTP, clip(line, 60))
	}
	resp := &HTTPResponse{Proto: proto, StatusCode: status, Reason: strings.TrimSpace(reason)}
	for {
		line, err := readHTTPLine(br, &budget)
		if err != nil {
			return nil, httpError("header", err)
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(resp.Header); n > 0 {
				resp.Header[n-1].Value = unfold(resp.Header[n-1].Value, line)
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		name = bytes.TrimRight(name, " \t")
		if !ok || !isToken(name) {
			continue // as browsers do: a broken header line is passed over
		}
		resp.Header.Add(string(name), string(bytes.TrimSpace(value)))
	}
	resp.MediaType, resp.Charset = parseContentType(resp.Header.Get("Content-Type"))

	var payload io.Reader = br
	peek := br // payload, where a decoder can peek at its start; nil when it needs a buffer first
	if hasToken(resp.Header.Values("Transfer-Encoding"), "chunked") && looksChunked(br) {
		payload, peek = httputil.NewChunkedReader(br), nil
		resp.Decoded = append(resp.Decoded, "chunked")
	}
	codings := splitList(resp.Header.Values("Content-Encoding"))
	for i := len(codings) - 1; i >= 0; i-- { // the last coding applied comes off first
		if peek == nil {
			peek = bufio.NewReaderSize(payload, 4<<10)
			payload = peek
		}
		dec, err := decoder(codings[i], peek)
		if err != nil {
			return nil, httpError("content-encoding "+codings[i], err)
		}
		if dec == nil {
			if !knownCoding(codings[i]) {
				resp.Encoding = strings.Join(codings[:i+1], ", ")
				break
			}
			continue // stored decoded already
		}
		resp.Decoded = append(resp.Decoded, codings[i])
		payload, peek = dec, nil
	}
	resp.Body = &httpBody{r: payload}
	return resp, nil
}

// readHTTPLine reads a line of an HTTP header, taking its length from
// *budget.
func readHTTPLine(br *bufio.Reader, budget *int) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if *budget -= len(frag); *budget < 0 {
			return nil, fmt.Errorf("longer than %d bytes", DefaultMaxHeaderBytes)
		}
		if err == bufio.ErrBufferFull {
			long = append(long, frag...)
			continue
		}
		if long != nil {
			frag = append(long, frag...)
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return bytes.TrimRight(frag, "\r\n"), nil
	}
}

func httpError(what string, err error) error {
	if errors.Is(err, ErrBadRecord) || errors.Is(err, errStale) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrBadHTTP, what, err)
}

// looksChunked reports whether the payload starts with a chunk-size line:
// hex digits, then an optional extension, then a line break.
func looksChunked(br *bufio.Reader) bool {
	head, _ := br.Peek(64)
	i := 0
	for i < len(head) && strings.IndexByte("0123456789abcdefABCDEF", head[i]) >= 0 {
		i++
	}
	if i == 0 || i > 16 {
		return false
	}
	rest := head[i:]
	j := bytes.IndexByte(rest, '\n')
	if j < 0 {
		return false
	}
	ext := bytes.TrimRight(rest[:j], "\r \t")
	return len(ext) == 0 || ext[0] == ';' || ext[0] == ' ' || ext[0] == '\t'
}

// decoder returns a reader taking content coding c off br, or nil when the
// payload does not start as c does (or c is one we leave on).
func decoder(c string, br *bufio.Reader) (io.Reader, error) {
	head, _ := br.Peek(4)
	switch c {
	case "gzip", "x-gzip":
		if !bytes.HasPrefix(head, gzipMagic[:2]) {
			return nil, nil
		}
		return gzip.NewReader(br)
	case "deflate":
		if len(head) == 0 {
			return nil, nil
		}
		if len(head) >= 2 && head[0]&0x0f == 8 && (uint(head[0])<<8|uint(head[1]))%31 == 0 {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	case "zstd":
		if !bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			return nil, nil
		}
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(32<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, nil
}

func knownCoding(c string) bool {
	switch c {
	case "gzip", "x-gzip", "deflate", "zstd", "identity", "":
		return true
	}
	return false
}

// httpBody marks the errors of decoding the payload with ErrBadHTTP,
// leaving those of the record (a *RecordError) as they are.
type httpBody struct{ r io.Reader }

func (b *httpBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = httpError("payload", err)
	}
	return n, err
}

// parseContentType returns the media type and charset of a Content-Type
// value, lower-case, tolerating the malformed values found on the web.
func parseContentType(v string) (mediaType, charset string) {
	if v == "" {
		return "", ""
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		return mt, strings.ToLower(strings.Trim(params["charset"], `"' `))
	}
	mt, rest, _ := strings.Cut(v, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	for p := range strings.SplitSeq(rest, ";") {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "charset") {
			return mt, strings.ToLower(strings.Trim(val, `"' `)) // the first, as browsers take
		}
	}
	return mt, charset
}

// splitList splits comma-separated field values into lower-case tokens.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func hasToken(values []string, token string) bool {
	for _, t := range splitList(values) {
		if t == token {
			return true
		}
	}
	return false
}
