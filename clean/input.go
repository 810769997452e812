package clean

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/warc"
)

// The inputs of clean: WARC files (ours and Common Crawl's, WARC 1.0 and
// 1.1, plain, one gzip member per record or gzipped whole) and JSONL
// documents (plain, .gz or .zst). Which one a stream holds is told by its
// first bytes, not its name, so stdin works too:
//
//   - a WARC `response` record with an HTTP block becomes a page: a Doc with
//     its url, date and id, and the HTML payload for the extract step;
//   - a WARC `conversion` record (a WET file) becomes a text document;
//   - other WARC records (warcinfo, request, metadata, ...) are passed over;
//   - a JSONL line becomes a document as docio reads it.
//
// A record or line that cannot be read is returned as a Doc with Skip set
// to a reason (warc's and docio's Reason names), so that the pipeline
// counts it and reading goes on; input that is neither WARC nor JSONL is an
// error naming it.

// ErrUnknownFormat is wrapped by the error for an input that is neither
// WARC nor JSONL documents.
var ErrUnknownFormat = errors.New("not a WARC file or JSONL documents")

// Formats of an input, as Source.Format names them.
const (
	FormatWARC  = "warc"
	FormatJSONL = "jsonl"
	FormatEmpty = "empty"
)

// Reasons a WARC page is not extracted, beside the Extract reasons.
const (
	ReasonNotHTML    = "not_html"    // the payload's media type is not HTML (or XHTML)
	ReasonHTTPStatus = "http_status" // a status other than 2xx: redirects, errors
	ReasonBadPayload = "bad_payload" // the HTTP block or its content coding cannot be read
	ReasonEncoded    = "encoded"     // a content coding we cannot undo (br, compress)
)

// Doc is a document on its way through the pipeline: the document itself,
// and for a page from a WARC response record, the HTML that the extract
// step turns into its text.
type Doc struct {
	docio.Document
	// HTML is the page's payload (at most Source.MaxHTMLBytes; longer
	// pages carry Skip instead); nil once extracted, and for documents
	// that came as text.
	HTML []byte
	// ContentType is the page's HTTP Content-Type header.
	ContentType string
	// Skip, when set, says why this input was not read into a document:
	// a bad WARC record or JSONL line, or a page that cannot be extracted
	// (not HTML, an HTTP error, too large). The pipeline counts it.
	Skip string
	// SkipStep is the step that Skip is counted under: "read" for a bad
	// record, "extract" for a page refused before extraction.
	SkipStep string
	// SkipErr is the error behind Skip when there is one: for a record or
	// line that could not be read, a *warc.RecordError or
	// *docio.ParseError, whose message names the input and the record's
	// offset or the line.
	SkipErr error

	keys []uint64 // the dedup keys, computed ahead of the dedup step
}

// Source reads the documents of one input stream.
type Source struct {
	// MaxHTMLBytes bounds the payload of a page that is held in memory;
	// a longer one is skipped as html_too_large without being read whole.
	// Zero means DefaultMaxHTMLBytes.
	MaxHTMLBytes int

	name   string
	format string
	warc   *warc.Reader
	jsonl  *docio.Reader
	close  func() error
	err    error
}

// sniffLen is how many bytes of an input are looked at to tell its format.
const sniffLen = 64 << 10

// NewSource reads r, an input called name in errors and document ids. The
// format is told by the first bytes, decompressed when they are gzip or
// zstd.
func NewSource(r io.Reader, name string) (*Source, error) {
	br := bufio.NewReaderSize(r, sniffLen)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	s := &Source{name: name, close: func() error { return nil }}
	content, compression := decompressHead(head)
	switch {
	case len(head) == 0:
		s.format = FormatEmpty
	case compression != "" && len(content) == 0 && decompressesToNothing(head, len(head) < sniffLen):
		s.format = FormatEmpty // a compressed empty file (a rank whose documents were all dropped)
	case bytes.HasPrefix(content, []byte("WARC/")):
		if compression == "zstd" {
			return nil, fmt.Errorf("%s: a zstd-compressed WARC file: only plain and gzipped WARC files are read", name)
		}
		s.format = FormatWARC
		s.warc = warc.NewReader(br, name)
	case looksJSONL(content):
		rc, err := docio.Decompress(br, name)
		if err != nil {
			return nil, err
		}
		s.format = FormatJSONL
		s.jsonl = docio.NewReader(rc, name)
		s.jsonl.SkipBad = false
		s.close = rc.Close
	default:
		return nil, fmt.Errorf("%s: %w (it starts %q)", name, ErrUnknownFormat, clipBytes(content, 24))
	}
	return s, nil
}

// decompressHead returns the first decompressed bytes of head when it
// starts as gzip or zstd does (as far as they decode), and head otherwise.
func decompressHead(head []byte) ([]byte, string) {
	var rd io.Reader
	comp := ""
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return head, ""
		}
		rd, comp = zr, "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(head), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return head, ""
		}
		defer zr.Close()
		rd, comp = zr, "zstd"
	default:
		return head, ""
	}
	buf := make([]byte, 256)
	n, _ := io.ReadFull(rd, buf)
	return buf[:n], comp
}

// decompressesToNothing reports whether head, the whole input when whole is
// true, is a gzip or zstd stream that decodes, without error, to no bytes.
func decompressesToNothing(head []byte, whole bool) bool {
	if !whole {
		return false
	}
	rc, err := docio.Decompress(bytes.NewReader(head), "")
	if err != nil {
		return false
	}
	defer rc.Close()
	n, err := rc.Read(make([]byte, 1))
	for n == 0 && err == nil {
		n, err = rc.Read(make([]byte, 1))
	}
	return n == 0 && err == io.EOF
}

// looksJSONL reports whether b starts as a JSON object does, after an
// optional byte-order mark and white space (blank lines included).
func looksJSONL(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Format names the input's format: FormatWARC, FormatJSONL or FormatEmpty.
func (s *Source) Format() string { return s.format }

// Close releases the decompressor of a JSONL input; it does not close the
// reader given to NewSource.
func (s *Source) Close() error { return s.close() }

// Next returns the next document, io.EOF after the last one, or an error
// that ends the input (a read error of the underlying stream). A record or
// line that cannot be read comes back as a Doc with Skip set.
func (s *Source) Next() (*Doc, error) {
	if s.err != nil {
		return nil, s.err
	}
	var d *Doc
	var err error
	switch s.format {
	case FormatWARC:
		d, err = s.nextWARC()
	case FormatJSONL:
		d, err = s.nextJSONL()
	default:
		err = io.EOF
	}
	if err != nil {
		s.err = err
	}
	return d, err
}

func (s *Source) nextJSONL() (*Doc, error) {
	doc, err := s.jsonl.Next()
	var pe *docio.ParseError
	if errors.As(err, &pe) {
		return &Doc{Skip: pe.Reason, SkipStep: StepRead, SkipErr: err}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Doc{Document: doc}, nil
}

func (s *Source) nextWARC() (*Doc, error) {
	for {
		rec, err := s.warc.Next()
		var re *warc.RecordError
		if errors.As(err, &re) {
			return &Doc{Skip: re.Reason, SkipStep: StepRead, SkipErr: err}, nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case rec.Type == warc.TypeConversion:
			return s.conversion(rec), nil
		case rec.IsHTTPResponse():
			return s.response(rec), nil
		}
		// warcinfo, request, metadata, revisit, resource: not documents.
	}
}

// recordDoc is the document of a record: its id, url and date.
func recordDoc(rec *warc.Record) docio.Document {
	d := docio.Document{ID: rec.RecordID, URL: rec.TargetURI}
	if !rec.Date.IsZero() {
		d.Date = rec.Date.Format(time.RFC3339)
	}
	return d
}

// conversion reads a WET record: the text of a page.
func (s *Source) conversion(rec *warc.Record) *Doc {
	d := &Doc{Document: recordDoc(rec)}
	text, err := io.ReadAll(io.LimitReader(rec.Body, int64(s.maxHTML())+1))
	if reason := bodyErr(err); reason != "" {
		d.Skip, d.SkipStep, d.SkipErr = reason, StepRead, err
		return d
	}
	if len(text) > s.maxHTML() {
		d.Skip, d.SkipStep = ReasonHTMLTooLarge, StepRead
		return d
	}
	if !utf8.Valid(text) {
		text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
	}
	d.Text = strings.TrimSpace(string(text))
	return d
}

// response reads a response record: an HTML page to extract, or a skip.
func (s *Source) response(rec *warc.Record) *Doc {
	d := &Doc{Document: recordDoc(rec), SkipStep: StepExtract}
	resp, err := warc.ReadHTTPResponse(rec.Body)
	if err != nil {
		d.Skip, d.SkipStep = payloadErr(err)
		d.SkipErr = err
		return d
	}
	d.ContentType = resp.Header.Get("Content-Type")
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		d.Skip = ReasonHTTPStatus
		return d
	case !isHTML(resp.MediaType):
		d.Skip = ReasonNotHTML
		return d
	case resp.Encoding != "":
		d.Skip = ReasonEncoded
		return d
	}
	page, err := readSized(io.LimitReader(resp.Body, int64(s.maxHTML())+1), min(rec.ContentLength, int64(s.maxHTML())+1))
	if err != nil {
		d.Skip, d.SkipStep = payloadErr(err)
		d.SkipErr = err
		return d
	}
	if len(page) > s.maxHTML() {
		d.Skip = ReasonHTMLTooLarge // the rest is passed over by the next Next
		return d
	}
	d.HTML = page
	d.SkipStep = ""
	return d
}

// readSized reads r to its end, as io.ReadAll does, into a buffer made for
// size bytes, the record's block, which holds the payload unless a
// content coding was undone: io.ReadAll's growing buffer allocates about
// twice a page and copies it as often.
func readSized(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, 0, max(size, 0)+1) // + 1: the read that meets EOF needs room
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// payloadErr names the reason and step of an error from reading a page: a
// broken record is the reader's (read), a payload that does not decode is
// the page's (extract).
func payloadErr(err error) (reason, step string) {
	var re *warc.RecordError
	if errors.As(err, &re) {
		return re.Reason, StepRead
	}
	return ReasonBadPayload, StepExtract
}

// bodyErr names the reason of an error from reading a record's block.
func bodyErr(err error) string {
	if err == nil {
		return ""
	}
	var re *warc.RecordError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ReasonBadPayload
}

func (s *Source) maxHTML() int {
	if s.MaxHTMLBytes > 0 {
		return s.MaxHTMLBytes
	}
	return DefaultMaxHTMLBytes
}

// isHTML reports whether a media type is one that extraction reads. An
// absent type counts as HTML, as browsers sniff it.
func isHTML(mediaType string) bool {
	switch mediaType {
	case "", "text/html", "application/xhtml+xml":
		return true
	}
	return false
}
