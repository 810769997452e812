package docio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"unicode/utf8"
)

// ErrBadRecord is wrapped by every *ParseError: a line that is not a
// document.
var ErrBadRecord = errors.New("bad record")

// Reasons a line is not a document: ParseError.Reason, and the keys of
// Reader.Skipped.
const (
	ReasonInvalidJSON = "invalid_json"  // not one JSON object
	ReasonMissingText = "missing_text"  // no "text", or "text" is not a string
	ReasonBadField    = "bad_field"     // "id", "url", "date" or "metadata" of the wrong type
	ReasonInvalidUTF8 = "invalid_utf8"  // JSON must be UTF-8; we refuse rather than replace
	ReasonLineTooLong = "line_too_long" // longer than Reader.MaxLineBytes
)

// ParseError is a line that is not a document. It wraps ErrBadRecord and
// the underlying cause, so errors.Is(err, ErrBadRecord) holds.
type ParseError struct {
	File   string // the name given to NewReader
	Line   int    // 1-based
	Reason string // one of the Reason constants
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, ErrBadRecord, e.Err)
}

func (e *ParseError) Unwrap() []error { return []error{ErrBadRecord, e.Err} }

// DefaultMaxLineBytes is the longest line a Reader accepts unless told
// otherwise.
const DefaultMaxLineBytes = 256 << 20

// Reader reads documents from JSON Lines: one object per line, blank lines
// ignored, a trailing "\r" and a leading byte-order mark tolerated. Lines
// may be any length up to MaxLineBytes.
//
// A line needs a string "text"; "id", "url" and "date" are strings (an "id"
// may also be a number, kept as its JSON text), "metadata" an object; any
// may be null or absent. A document without an id gets "NAME:LINE". Other
// top-level keys go into Metadata (see Document).
type Reader struct {
	// SkipBad makes Next skip lines that are not documents, counting each
	// under its reason in Skipped, instead of returning a *ParseError.
	SkipBad bool
	// MaxLineBytes bounds a line; a longer one is a bad record
	// (line_too_long), passed over without being held in memory.
	// Zero means DefaultMaxLineBytes.
	MaxLineBytes int

	name    string
	br      *bufio.Reader
	line    int    // number of the last line read
	buf     []byte // a line longer than br's buffer
	scratch []byte // parseFast's unescaped strings
	skipped map[string]int64
	err     error // read error, returned from then on
}

// NewReader returns a Reader of r; name is used in errors and default ids.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, bufLen), skipped: map[string]int64{}}
}

// Line is the line number of the document that Next returned last.
func (r *Reader) Line() int { return r.line }

// Skipped returns how many lines SkipBad passed over, by reason.
func (r *Reader) Skipped() map[string]int64 { return maps.Clone(r.skipped) }

// Next returns the next document, io.EOF after the last one, a *ParseError
// for a bad line (unless SkipBad), or the error of the underlying reader.
// After a *ParseError, Next may be called again to continue with the next
// line.
func (r *Reader) Next() (Document, error) {
	for r.err == nil {
		line, tooLong, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("read %s after line %d: %w", r.name, r.line, err)
			}
			r.err = err
			break
		}
		var doc Document
		var perr *ParseError
		if tooLong {
			perr = r.bad(ReasonLineTooLong, fmt.Errorf("line longer than %d bytes", r.maxLine()))
		} else {
			line = trimLine(line, r.line == 1)
			if len(line) == 0 {
				continue
			}
			doc, perr = r.parse(line)
		}
		if perr == nil {
			return doc, nil
		}
		if !r.SkipBad {
			return Document{}, perr
		}
		r.skipped[perr.Reason]++
	}
	return Document{}, r.err
}

func (r *Reader) maxLine() int {
	if r.MaxLineBytes > 0 {
		return r.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

// readLine returns the next line without its "\n". The slice is valid until
// the next call. A line longer than maxLine is read to its end but not kept.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	n := 0 // bytes of this line seen so far
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += len(chunk)
		if n > r.maxLine()+1 { // +1: the newline
			tooLong = true
		}
		switch {
		case err == nil && len(r.buf) == 0 && !tooLong:
			line = chunk // the common case: no copy
		case !tooLong:
			r.buf = append(r.buf, chunk...)
			line = r.buf
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && n > 0 {
			err = nil // a last line without "\n"
		}
		if err != nil {
			return nil, false, err
		}
		r.line++
		return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
	}
}

// trimLine drops a trailing "\r", a byte-order mark on the first line, and
// a line of only white space.
func trimLine(line []byte, first bool) []byte {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if first {
		line = bytes.TrimPrefix(line, []byte("\ufeff"))
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	return line
}

func (r *Reader) bad(reason string, err error) *ParseError {
	return &ParseError{File: r.name, Line: r.line, Reason: reason, Err: err}
}

// parse decodes one line. A syntax error anywhere makes the line
// invalid_json; otherwise the first field of the wrong type decides.
func (r *Reader) parse(line []byte) (Document, *ParseError) {
	if !utf8.Valid(line) {
		return Document{}, r.bad(ReasonInvalidUTF8, fmt.Errorf("invalid UTF-8 at byte %d", invalidAt(line)))
	}
	if doc, ok := r.parseFast(line); ok {
		return doc, nil
	}
	return r.parseSlow(line)
}

// parseSlow is parse with encoding/json, for every line: parseFast's
// oracle, and the reader of the lines it passes on.
func (r *Reader) parseSlow(line []byte) (Document, *ParseError) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	syntax := func(err error) (Document, *ParseError) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Document{}, r.bad(ReasonInvalidJSON, err)
	}
	if tok, err := dec.Token(); err != nil {
		return syntax(err)
	} else if tok != json.Delim('{') {
		return syntax(fmt.Errorf("not a JSON object"))
	}

	var (
		doc           Document
		extra         map[string]any
		hasID, hasTxt bool
		first         *ParseError // the first field of the wrong type
	)
	wrong := func(reason, key string, err error) {
		if first == nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				err = fmt.Errorf("%q is a JSON %s", key, te.Value)
			}
			first = r.bad(reason, err)
		}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key := tok.(string) // the decoder guarantees a string key here
		var s *string
		switch key {
		case "text":
			if err := dec.Decode(&s); err != nil {
				if !isTypeError(err) {
					return syntax(err)
				}
				wrong(ReasonMissingText, key, err)
			}
			hasTxt = s != nil
			if s != nil {
				doc.Text = *s
			}
		case "id":
			var v any
			if err := dec.Decode(&v); err != nil {
				return syntax(err)
			}
			switch v := v.(type) {
			case string:
				doc.ID, hasID = v, true
			case json.Number:
				doc.ID, hasID = v.String(), true
			case nil:
				doc.ID, hasID = "", false
			default:
				wrong(ReasonBadField, key, fmt.Errorf("%q is not a string or number", key))
			}
		case "url", "date":
			if err := dec.Decode(&s); err != nil {
				if !isTypeError(err) {
					return syntax(err)
				}
				wrong(ReasonBadField, key, err)
			}
			if s != nil && key == "url" {
				doc.URL = *s
			} else if s != nil {
				doc.Date = *s
			}
		case "metadata":
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if !isTypeError(err) {
					return syntax(err)
				}
				wrong(ReasonBadField, key, err)
			}
			doc.Metadata = m
		default:
			var v any
			if err := dec.Decode(&v); err != nil {
				return syntax(err)
			}
			if extra == nil {
				extra = map[string]any{}
			}
			extra[key] = v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return syntax(err)
	}
	if first != nil {
		return Document{}, first
	}
	if !hasTxt {
		return Document{}, r.bad(ReasonMissingText, errors.New(`no string "text"`))
	}
	if !hasID {
		doc.ID = r.name + ":" + strconv.Itoa(r.line)
	}
	if extra != nil {
		if doc.Metadata == nil {
			doc.Metadata = extra
		} else {
			maps.Copy(doc.Metadata, extra)
		}
	}
	return doc, nil
}

func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// invalidAt is the offset of the first byte of b that is not valid UTF-8.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// ReadText reads all of r as one document whose id and text are name and
// the content. A leading byte-order mark is dropped; content that is not
// UTF-8 is a *ParseError (invalid_utf8) carrying the line of the first bad
// byte.
func ReadText(r io.Reader, name string) (Document, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Document{}, fmt.Errorf("read %s: %w", name, err)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if !utf8.Valid(b) {
		at := invalidAt(b)
		line := 1 + bytes.Count(b[:at], []byte("\n"))
		return Document{}, &ParseError{File: name, Line: line, Reason: ReasonInvalidUTF8,
			Err: fmt.Errorf("invalid UTF-8 at byte %d", at)}
	}
	return Document{ID: name, Text: string(b)}, nil
}
