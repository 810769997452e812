package docio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// Writer writes documents as JSON Lines, keys in the order id, text, url,
// date, metadata (the keys of metadata sorted); url, date and metadata are
// left out when empty. Text is written as is: no HTML escaping of <, >, &.
//
// Like csv.Writer it buffers: call Flush at the end. An error of the
// underlying writer is kept, and returned by every later Write and by Flush.
// A document that cannot be written (a string field that is not UTF-8, a
// metadata value JSON cannot hold) is refused with an error and nothing of
// it is written; the Writer stays usable.
type Writer struct {
	bw  *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{bw: bufio.NewWriterSize(w, bufLen)}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(false)
	return wr
}

// Write writes one document as one line.
func (w *Writer) Write(d Document) error {
	if w.err != nil {
		return w.err
	}
	for _, f := range [...]struct{ key, s string }{{"id", d.ID}, {"text", d.Text}, {"url", d.URL}, {"date", d.Date}} {
		if !utf8.ValidString(f.s) {
			return fmt.Errorf("write document %q: %s: invalid UTF-8 at byte %d", d.ID, f.key, invalidAt([]byte(f.s)))
		}
	}
	w.buf.Reset()
	if err := w.enc.Encode(&d); err != nil { // Encode ends the line with "\n"
		return fmt.Errorf("write document %q: %w", d.ID, err)
	}
	if _, err := w.bw.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write: %w", err)
	}
	return w.err
}

// Flush writes buffered documents to the underlying writer and returns the
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

// Error returns the first error of the underlying writer, if any.
func (w *Writer) Error() error { return w.err }
