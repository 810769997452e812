// Package warc reads and writes WARC files (ISO 28500: WARC 1.0 and 1.1),
// the format of web crawls: `pipe crawl` writes them and `pipe clean`
// reads them, ours and Common Crawl's (WARC and WET files).
//
// A WARC file is a sequence of records. Each record is a version line, a
// header of named fields, a blank line, a block of Content-Length bytes,
// and two line breaks:
//
//	WARC/1.1\r\n
//	WARC-Type: response\r\n
//	WARC-Target-URI: https://example.com/\r\n
//	Content-Length: 38\r\n
//	\r\n
//	HTTP/1.1 200 OK\r\n\r\n<p>hello</p>\r\n\r\n
//
// Files are stored plain or, as Common Crawl does, with each record its own
// gzip member, so that a record can be read from its offset alone. The
// Reader reads both (and a file gzipped whole); the Writer writes one gzip
// member per record.
//
// The package is ours rather than gowarc (nlnwa or internetarchive) because
// clean must go on past a broken record: the Reader resyncs after a
// truncated or corrupt gzip member (backing up into the bytes the broken
// member's deflate stream ran on into), reads files gzipped whole, counts
// bad records by reason, and streams blocks without copying them whole.
package warc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Record types (WARC-Type).
const (
	TypeWarcinfo   = "warcinfo"
	TypeResponse   = "response"
	TypeResource   = "resource"
	TypeRequest    = "request"
	TypeMetadata   = "metadata"
	TypeRevisit    = "revisit"
	TypeConversion = "conversion" // WET: the text of a response
	TypeContinue   = "continuation"
)

// Content types of HTTP blocks and warcinfo blocks.
const (
	ContentTypeHTTPRequest  = "application/http; msgtype=request"
	ContentTypeHTTPResponse = "application/http; msgtype=response"
	ContentTypeWarcFields   = "application/warc-fields"
)

// ErrBadRecord is wrapped by every *RecordError: a record that cannot be
// read and is skipped, after which reading goes on with the next record.
var ErrBadRecord = errors.New("bad WARC record")

// ErrNotWARC is wrapped by the error for input that is not a WARC file at
// all. It is not skippable: Next returns it from then on.
var ErrNotWARC = errors.New("not a WARC file")

// Reasons a record is bad: RecordError.Reason, and the keys of
// Reader.Skipped.
const (
	ReasonBadHeader     = "bad_header"      // no WARC/ version line, a field line without a colon, no WARC-Type, no valid Content-Length
	ReasonBadVersion    = "bad_version"     // a version other than WARC/1.0 and WARC/1.1
	ReasonHeaderTooLong = "header_too_long" // a header longer than Reader.MaxHeaderBytes
	ReasonTruncated     = "truncated"       // the file or gzip member ended inside the header or before Content-Length bytes of block
	ReasonBadLength     = "bad_length"      // the block is not followed by the end of the record: Content-Length is wrong
	ReasonBadGzip       = "bad_gzip"        // a gzip member that is corrupt or cut short, or bytes between members that are not gzip
)

// RecordError is a record that cannot be read. It wraps ErrBadRecord and
// the cause, so errors.Is(err, ErrBadRecord) holds.
type RecordError struct {
	File   string // the name given to NewReader
	Offset int64  // where the record starts: its gzip member in a gzipped file, its version line in a plain one
	Reason string // one of the Reason constants
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record at offset %d: %s: %v", e.File, e.Offset, e.Reason, e.Err)
}

func (e *RecordError) Unwrap() []error { return []error{ErrBadRecord, e.Err} }

// Field is one named field of a header.
type Field struct {
	Name, Value string
}

// Header is the fields of a WARC (or HTTP) header, in the order they were
// read or are to be written. Names compare without regard to case.
type Header []Field

// Get returns the value of the first field called name, or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns the values of every field called name, in order.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Has reports whether a field called name is present.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// Set replaces the value of the first field called name and removes any
// others, or appends the field when there is none.
func (h *Header) Set(name, value string) {
	out, set := (*h)[:0], false
	for _, f := range *h {
		if strings.EqualFold(f.Name, name) {
			if set {
				continue
			}
			f.Value, set = value, true
		}
		out = append(out, f)
	}
	if !set {
		out = append(out, Field{name, value})
	}
	*h = out
}

// Del removes every field called name.
func (h *Header) Del(name string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	*h = out
}

// Record is one WARC record. Header holds every field as read; the other
// fields are the common ones, parsed. Body reads the block: Content-Length
// bytes, streamed from the file (it is valid until the next call of Next).
type Record struct {
	Version       string // "WARC/1.0" or "WARC/1.1"
	Header        Header
	Type          string    // WARC-Type, e.g. "response"
	TargetURI     string    // WARC-Target-URI, without the <> that some writers put around it
	Date          time.Time // WARC-Date; zero when absent or not a W3C-DTF date
	RecordID      string    // WARC-Record-ID, e.g. "<urn:uuid:...>"
	ContentLength int64     // of the block
	Offset        int64     // where the record starts: its gzip member in a gzipped file, its version line in a plain one
	Body          io.Reader
}

// ContentType returns the record's Content-Type field.
func (r *Record) ContentType() string { return r.Header.Get("Content-Type") }

// IsHTTPResponse reports whether the record is a response whose block is
// an HTTP response (application/http), to be read with ReadHTTPResponse.
func (r *Record) IsHTTPResponse() bool {
	return r.Type == TypeResponse && strings.HasPrefix(strings.ToLower(r.ContentType()), "application/http")
}

// parseDate parses a WARC-Date: W3C-DTF in UTC, "2006-01-02T15:04:05Z",
// with or without a fraction of a second.
func parseDate(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// formatDate formats t as a WARC-Date: seconds, or microseconds when t has
// a fraction of a second (WARC 1.1 allows it; warcio writes the same).
func formatDate(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}
