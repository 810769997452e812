package warc

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Version is the WARC version the Writer writes.
const Version = "WARC/1.1"

// Writer writes WARC 1.1 records, each as its own gzip member, so that a
// record can be read from its offset alone (Common Crawl's layout).
//
// For every record it writes WARC-Record-ID (a random UUID URN) and
// WARC-Date (now) unless the header has them, and always Content-Length
// and WARC-Block-Digest; for an HTTP request or response block, also
// WARC-Payload-Digest (of the bytes after the HTTP header); after
// WriteWarcinfo, WARC-Warcinfo-ID. Digests are SHA-1 in base 32, as
// Common Crawl and warcio write them.
//
// Like csv.Writer it buffers: call Flush (or Close) at the end. An error of
// the underlying writer is kept, and returned by every later call. A record
// that cannot be written (no WARC-Type, a field with a line break) is
// refused with an error and nothing of it is written; the Writer stays
// usable.
type Writer struct {
	// Level is the gzip level of each record's member (the levels of
	// compress/gzip); set it before the first record. Zero means
	// gzip.DefaultCompression.
	Level int

	bw         *bufio.Writer
	gz         *gzip.Writer
	head       bytes.Buffer // the record header being written
	warcinfoID string
	closed     bool
	err        error
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, rawBufLen)}
}

// WriteRecord writes a record whose header has the fields of h (WARC-Type
// among them) and whose block is the concatenation of block's pieces, and
// returns its WARC-Record-ID. Fields the Writer adds are listed on Writer;
// h must not have Content-Length or WARC-Block-Digest.
func (w *Writer) WriteRecord(h Header, block ...[]byte) (string, error) {
	if w.err != nil {
		return "", w.err
	}
	if w.closed {
		return "", errors.New("warc: write after Close")
	}
	typ := h.Get("WARC-Type")
	if err := checkHeader(h); err != nil {
		return "", fmt.Errorf("write %s record: %w", typ, err)
	}
	id := h.Get("WARC-Record-ID")
	if id == "" {
		id = NewRecordID()
	}
	date := h.Get("WARC-Date")
	if date == "" {
		date = formatDate(time.Now())
	}

	var n int64
	blockHash := sha1.New()
	for _, p := range block {
		n += int64(len(p))
		blockHash.Write(p)
	}
	var payloadDigest string
	if typ != TypeRevisit && !h.Has("WARC-Payload-Digest") && strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "application/http") {
		if payload, ok := httpPayload(block); ok {
			ph := sha1.New()
			for _, p := range payload {
				ph.Write(p)
			}
			payloadDigest = digest(ph)
		}
	}

	head := &w.head
	head.Reset()
	head.WriteString(Version + "\r\n")
	field := func(name, value string) { head.WriteString(name + ": " + value + "\r\n") }
	field("WARC-Type", typ)
	field("WARC-Record-ID", id)
	field("WARC-Date", date)
	for _, f := range h {
		switch strings.ToLower(f.Name) {
		case "warc-type", "warc-record-id", "warc-date":
		default:
			field(f.Name, f.Value)
		}
	}
	if w.warcinfoID != "" && typ != TypeWarcinfo && !h.Has("WARC-Warcinfo-ID") {
		field("WARC-Warcinfo-ID", w.warcinfoID)
	}
	field("WARC-Block-Digest", digest(blockHash))
	if payloadDigest != "" {
		field("WARC-Payload-Digest", payloadDigest)
	}
	field("Content-Length", strconv.FormatInt(n, 10))
	head.WriteString("\r\n")

	if w.gz == nil {
		level := w.Level
		if level == 0 {
			level = gzip.DefaultCompression
		}
		gz, err := gzip.NewWriterLevel(w.bw, level)
		if err != nil {
			return "", fmt.Errorf("write %s record: %w", typ, err)
		}
		w.gz = gz
	} else {
		w.gz.Reset(w.bw)
	}
	w.gz.Write(head.Bytes())
	for _, p := range block {
		w.gz.Write(p)
	}
	w.gz.Write([]byte("\r\n\r\n"))
	if err := w.gz.Close(); err != nil { // ends the member; the underlying writer stays open
		w.err = fmt.Errorf("write: %w", err)
		return "", w.err
	}
	return id, nil
}

// checkHeader refuses a header the Writer cannot write as given.
func checkHeader(h Header) error {
	if h.Get("WARC-Type") == "" {
		return errors.New("no WARC-Type")
	}
	for _, f := range h {
		if !isToken([]byte(f.Name)) {
			return fmt.Errorf("field name %q is not a token", f.Name)
		}
		if strings.ContainsAny(f.Value, "\r\n") {
			return fmt.Errorf("field %s: value has a line break", f.Name)
		}
		switch strings.ToLower(f.Name) {
		case "content-length", "warc-block-digest":
			return fmt.Errorf("field %s is the Writer's to write", f.Name)
		}
	}
	return nil
}

// httpPayload returns the pieces of block after the HTTP header (the first
// blank line), or false when the block has no complete header.
func httpPayload(block [][]byte) ([][]byte, bool) {
	state := 0 // how much of "\r\n\r\n" (or "\n\n") has been seen
	for i, p := range block {
		for j, c := range p {
			switch {
			case c == '\n' && (state == 1 || state == 3):
				state++
			case c == '\n' && state == 2:
				state = 4 // a bare LF after a line's LF: "\n\n"
			case c == '\n':
				state = 2
			case c == '\r' && (state == 0 || state == 2):
				state++
			default:
				state = 0
			}
			if state == 4 {
				return append([][]byte{p[j+1:]}, block[i+1:]...), true
			}
		}
	}
	return nil, false
}

func digest(h hash.Hash) string {
	return "sha1:" + base32.StdEncoding.EncodeToString(h.Sum(nil))
}

// NewRecordID returns a new WARC-Record-ID: a random (version 4) UUID URN
// in angle brackets.
func NewRecordID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("<urn:uuid:%x-%x-%x-%x-%x>", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// WriteWarcinfo writes a warcinfo record describing the file, whose block
// holds fields such as "software" and "format", and returns its ID. Every
// later record names it in WARC-Warcinfo-ID. filename, when not empty, is
// written as WARC-Filename.
func (w *Writer) WriteWarcinfo(filename string, fields Header) (string, error) {
	var block bytes.Buffer
	for _, f := range fields {
		if !isToken([]byte(f.Name)) || strings.ContainsAny(f.Value, "\r\n") {
			return "", fmt.Errorf("write warcinfo record: field %q cannot be written", f.Name)
		}
		block.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	h := Header{{"WARC-Type", TypeWarcinfo}}
	if filename != "" {
		h.Add("WARC-Filename", filename)
	}
	h.Add("Content-Type", ContentTypeWarcFields)
	id, err := w.WriteRecord(h, block.Bytes())
	if err == nil {
		w.warcinfoID = id
	}
	return id, err
}

// Exchange is one HTTP fetch as a crawler records it.
type Exchange struct {
	TargetURI string
	IPAddress string    // the server's, "" when unknown
	Date      time.Time // when the request was sent; zero means now
	// Request is the request as sent: request line, header, blank line,
	// body.
	Request []byte
	// ResponseHeader is the status line and header as received, through
	// the blank line that ends it.
	ResponseHeader []byte
	// Payload is the response body as stored. When it is not the bytes as
	// received (a client that took off chunking or gzip), the header
	// fields that say otherwise should be renamed, as Common Crawl does
	// (X-Crawler-Transfer-Encoding, X-Crawler-Content-Encoding,
	// X-Crawler-Content-Length), so that readers do not decode it again.
	Payload []byte
}

// WriteExchange writes a request record and then a response record for
// ex, the response naming the request in WARC-Concurrent-To (Common
// Crawl's order), and returns their IDs.
func (w *Writer) WriteExchange(ex *Exchange) (requestID, responseID string, err error) {
	date := ex.Date
	if date.IsZero() {
		date = time.Now()
	}
	h := Header{
		{"WARC-Type", TypeRequest},
		{"WARC-Date", formatDate(date)},
		{"WARC-Target-URI", ex.TargetURI},
		{"Content-Type", ContentTypeHTTPRequest},
	}
	if ex.IPAddress != "" {
		h.Add("WARC-IP-Address", ex.IPAddress)
	}
	requestID, err = w.WriteRecord(h, ex.Request)
	if err != nil {
		return "", "", err
	}
	h[0].Value = TypeResponse
	h[3].Value = ContentTypeHTTPResponse
	h.Add("WARC-Concurrent-To", requestID)
	responseID, err = w.WriteRecord(h, ex.ResponseHeader, ex.Payload)
	return requestID, responseID, err
}

// Flush writes buffered records to the underlying writer and returns the
// first error the Writer met.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write: %w", err)
	}
	return w.err
}

// Close flushes the Writer; later writes fail. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	w.closed = true
	return w.Flush()
}

// Error returns the first error of the underlying writer, if any.
func (w *Writer) Error() error { return w.err }
