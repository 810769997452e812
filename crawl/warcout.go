package crawl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipe-dev/pipe/warc"
)

// openSuffix marks a WARC file being written. It is renamed to its final
// name when complete, so a file named *.warc.gz is always whole.
const openSuffix = ".open"

// warcOut writes the crawl's WARC records: to a stream (stdout), or to
// files prefix-NNNNN.warc.gz in a directory, a new file begun when one
// passes maxSize. Every file starts with a warcinfo record.
type warcOut struct {
	fields warc.Header // the warcinfo block

	// a stream
	stream io.Writer

	// files
	dir, prefix string
	maxSize     int64
	seq         int      // number of the file being written
	records     int64    // exchanges in it
	f           *os.File // nil when no file is open
	cw          *countingWriter
	files       []string // completed files

	w      *warc.Writer
	infoID string
}

// outState is how far the WARC output is written, as the store keeps it.
type outState struct {
	Prefix  string
	Seq     int
	Offset  int64
	Records int64
	InfoID  string
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newStreamOut(w io.Writer, fields warc.Header) (*warcOut, error) {
	o := &warcOut{fields: fields, stream: w, w: warc.NewWriter(w)}
	id, err := o.w.WriteWarcinfo("", fields)
	if err == nil {
		err = o.w.Flush() // records are appended after it, past the Writer
	}
	if err != nil {
		return nil, err
	}
	o.infoID = id
	return o, nil
}

// openDirOut opens the WARC output in dir where st left it: the open file
// is cut back to the committed offset (dropping records written after the
// last commit, whose pages are still queued) and written on; open files
// of later numbers (begun after the last commit) are removed. With no
// open file, a new one is begun.
func openDirOut(dir string, maxSize int64, st outState, fields warc.Header) (*warcOut, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	o := &warcOut{fields: fields, dir: dir, prefix: st.Prefix, maxSize: maxSize, seq: st.Seq}
	stray, _ := filepath.Glob(filepath.Join(dir, globEscape(st.Prefix)+"-*.warc.gz"+openSuffix))
	for _, p := range stray {
		if p != o.path()+openSuffix {
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("out: %w", err)
			}
		}
	}
	if st.Offset > 0 {
		f, err := os.OpenFile(o.path()+openSuffix, os.O_RDWR, 0)
		switch {
		case err == nil:
			if err := f.Truncate(st.Offset); err != nil {
				f.Close()
				return nil, fmt.Errorf("out: %w", err)
			}
			if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("out: %w", err)
			}
			o.f, o.cw = f, &countingWriter{w: f, n: st.Offset}
			o.w, o.infoID, o.records = warc.NewWriter(o.cw), st.InfoID, st.Records
			return o, nil
		case errors.Is(err, os.ErrNotExist):
			o.seq++ // completed (renamed) just before the crash that left the state behind
		default:
			return nil, fmt.Errorf("out: %w", err)
		}
	}
	if err := o.begin(); err != nil {
		return nil, err
	}
	return o, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func (o *warcOut) path() string {
	return filepath.Join(o.dir, o.prefix+"-"+fmt.Sprintf("%05d", o.seq)+".warc.gz")
}

// begin starts file number o.seq (or the first free number after it).
func (o *warcOut) begin() error {
	for {
		if _, err := os.Stat(o.path()); errors.Is(err, os.ErrNotExist) {
			break
		}
		o.seq++
	}
	f, err := os.OpenFile(o.path()+openSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	o.f, o.cw, o.records = f, &countingWriter{w: f}, 0
	o.w = warc.NewWriter(o.cw)
	id, err := o.w.WriteWarcinfo(filepath.Base(o.path()), o.fields)
	if err != nil {
		return err
	}
	o.infoID = id
	return o.w.Flush()
}

// state returns how far the output is written; call sync first.
func (o *warcOut) state() outState {
	st := outState{Prefix: o.prefix, Seq: o.seq, InfoID: o.infoID, Records: o.records}
	if o.cw != nil {
		st.Offset = o.cw.n
	}
	return st
}

// sync writes out what is buffered and, for a file, makes it durable.
func (o *warcOut) sync() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if o.f != nil {
		if err := o.f.Sync(); err != nil {
			return fmt.Errorf("out: %w", err)
		}
	}
	return nil
}

// full reports whether the file being written has reached maxSize.
func (o *warcOut) full() bool { return o.f != nil && o.maxSize > 0 && o.cw.n >= o.maxSize }

// finish completes the open file: flushed, synced, renamed to its final
// name (or removed when it holds no exchange).
func (o *warcOut) finish() error {
	if o.f == nil {
		return nil
	}
	err := o.w.Close()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	o.f = nil
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if o.records == 0 {
		return os.Remove(o.path() + openSuffix)
	}
	if err := os.Rename(o.path()+openSuffix, o.path()); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	o.files = append(o.files, o.path())
	return nil
}

// roll completes the open file and begins the next.
func (o *warcOut) roll() error {
	if err := o.finish(); err != nil {
		return err
	}
	o.seq++
	return o.begin()
}

// close completes the output.
func (o *warcOut) close() error {
	if o.f != nil {
		return o.finish()
	}
	return o.w.Close()
}

// append writes the records of one fetch, as encode made them.
func (o *warcOut) append(records []byte) error {
	var err error
	if o.f != nil {
		_, err = o.cw.Write(records)
	} else {
		_, err = o.stream.Write(records)
	}
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	o.records++
	return nil
}

// encoder turns a fetch into its WARC records, compressed: a request
// record, a response record and a metadata record (Common Crawl's
// fetchTimeMs and charset-detected, and the page's canonical URL and robots
// meta tag). Each worker has one, so that compressing and digesting run in
// parallel; the records name the warcinfo record of the file they are
// meant for.
type encoder struct {
	buf bytes.Buffer
	w   *warc.Writer
}

func newEncoder() *encoder {
	e := &encoder{}
	e.w = warc.NewWriter(&e.buf)
	return e
}

func (e *encoder) encode(f *fetched, info *pageInfo, infoID string) ([]byte, error) {
	e.buf.Reset()
	date := f.date.UTC().Format("2006-01-02T15:04:05.000000Z")
	target := f.url.String()
	h := warc.Header{
		{Name: "WARC-Type", Value: warc.TypeRequest},
		{Name: "WARC-Date", Value: date},
		{Name: "WARC-Target-URI", Value: target},
		{Name: "WARC-Warcinfo-ID", Value: infoID},
		{Name: "Content-Type", Value: warc.ContentTypeHTTPRequest},
	}
	if f.ip != "" {
		h.Add("WARC-IP-Address", f.ip)
	}
	reqID, err := e.w.WriteRecord(h, f.request)
	if err != nil {
		return nil, err
	}
	h[0].Value = warc.TypeResponse
	h[4].Value = warc.ContentTypeHTTPResponse
	h.Add("WARC-Concurrent-To", reqID)
	if f.truncated {
		h.Add("WARC-Truncated", "length")
	}
	respID, err := e.w.WriteRecord(h, f.respHead, f.payload)
	if err != nil {
		return nil, err
	}
	var block strings.Builder
	block.WriteString("fetchTimeMs: " + strconv.FormatInt(f.elapsed.Milliseconds(), 10) + "\r\n")
	if info != nil {
		if info.charset != "" {
			block.WriteString("charset-detected: " + info.charset + "\r\n")
		}
		if info.canonical != "" {
			block.WriteString("canonical: " + info.canonical + "\r\n")
		}
		if info.robots != "" && !strings.ContainsAny(info.robots, "\r\n") {
			block.WriteString("robots-meta: " + info.robots + "\r\n")
		}
	}
	mh := warc.Header{
		{Name: "WARC-Type", Value: warc.TypeMetadata},
		{Name: "WARC-Date", Value: date},
		{Name: "WARC-Target-URI", Value: target},
		{Name: "WARC-Warcinfo-ID", Value: infoID},
		{Name: "WARC-Concurrent-To", Value: respID},
		{Name: "Content-Type", Value: warc.ContentTypeWarcFields},
	}
	if _, err := e.w.WriteRecord(mh, []byte(block.String())); err != nil {
		return nil, err
	}
	if err := e.w.Flush(); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}
