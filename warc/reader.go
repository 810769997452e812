package warc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// DefaultMaxHeaderBytes bounds a record's header (and an HTTP header in
// ReadHTTPResponse) unless told otherwise. Common Crawl's are under 2 KiB.
const DefaultMaxHeaderBytes = 256 << 10

const (
	rawBufLen   = 256 << 10 // read buffer of the file
	blockBufLen = 64 << 10  // read buffer of a gzip member's contents
	maxKept     = 16 << 20  // compressed bytes of one member kept to resync after it breaks
)

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08} // ID1, ID2, CM=deflate
	warcMagic = []byte("WARC/")
)

// Reader reads the records of a WARC file: plain, one gzip member per
// record (Common Crawl's layout), or gzipped whole; which one is told by
// the first bytes.
//
// A record that cannot be read (see the Reason constants) is a
// *RecordError, returned by Next or, when the problem lies in the block,
// by the record's Body; either way Next then goes on with the next record:
// the next gzip member that starts with a record, or the next line that
// starts with "WARC/". Input that is not WARC at all is an error wrapping
// ErrNotWARC and naming the file.
//
// A record may not span gzip members.
type Reader struct {
	// SkipBad makes Next pass over bad records instead of returning a
	// *RecordError. Either way they are counted in Skipped.
	SkipBad bool
	// MaxHeaderBytes bounds a record's header; a longer one is a bad record
	// (header_too_long), passed over without being held in memory. Zero
	// means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	name    string
	src     *source
	br      *bufio.Reader // the file's bytes
	gz      *gzip.Reader  // the current member; nil for a plain file
	dr      *bufio.Reader // the records' bytes: the current member's contents, or br
	member  int64         // offset of the current gzip member
	started bool
	body    *body  // of the record that Next returned last
	line    []byte // a header line longer than dr's buffer
	skipped map[string]int64
	err     error // io.EOF or an error that cannot be skipped, returned from then on

	// Where the bytes of a bad record end, for skipBad.
	inMember    bool // they are the rest of a broken gzip member: look for the next member in the file's bytes
	atLineStart bool // the bad record's bytes read so far end a line
}

// NewReader returns a Reader of r; name is used in errors.
func NewReader(r io.Reader, name string) *Reader {
	src := &source{r: r}
	return &Reader{name: name, src: src, br: bufio.NewReaderSize(src, rawBufLen), skipped: map[string]int64{}}
}

// Skipped returns how many bad records were found, by reason: those
// returned as errors (by Next or by a Body) and those SkipBad passed over.
func (r *Reader) Skipped() map[string]int64 { return maps.Clone(r.skipped) }

// Next returns the next record, io.EOF after the last one, a *RecordError
// for a bad record (unless SkipBad), or an error that ends reading: input
// that is not WARC, or an error of the underlying reader.
//
// The previous record's Body is read to its end first (and is no longer
// usable); a problem found there that its Body did not already return is
// returned now, as the *RecordError of that record.
func (r *Reader) Next() (*Record, error) {
	for {
		rec, err := r.next()
		var re *RecordError
		if err != nil && r.SkipBad && errors.As(err, &re) {
			continue
		}
		return rec, err
	}
}

func (r *Reader) next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		r.started = true
		if err := r.start(); err != nil {
			return nil, r.fail(err)
		}
	}
	if b := r.body; b != nil {
		r.body = nil
		err := b.drain()
		b.err, b.seen = errStale, true
		if err != nil {
			return nil, err
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	return r.readRecord()
}

// start tells plain from gzipped input, and refuses input that is not WARC.
func (r *Reader) start() error {
	head, err := r.br.Peek(2)
	if len(head) == 0 && err == io.EOF {
		return io.EOF // an empty file has no records
	}
	if r.src.err != nil {
		return r.src.fatal(r.name)
	}
	if bytes.HasPrefix(head, gzipMagic[:2]) {
		r.gz = new(gzip.Reader)
		r.dr = bufio.NewReaderSize(nil, blockBufLen)
		if err := r.openMember(); err != nil {
			if r.src.err != nil {
				return r.src.fatal(r.name)
			}
			return fmt.Errorf("%s: %w: gzip data: %v", r.name, ErrNotWARC, err)
		}
	} else {
		r.dr = r.br
	}
	head, _ = r.dr.Peek(512)
	if !bytes.HasPrefix(bytes.TrimLeft(head, "\r\n"), warcMagic) {
		if r.src.err != nil {
			return r.src.fatal(r.name)
		}
		what := "it"
		if r.gz != nil {
			what = "its gzip data"
		}
		return fmt.Errorf("%s: %w: %s starts with %q, not %q", r.name, ErrNotWARC, what, clip(head, 24), warcMagic)
	}
	return nil
}

// readRecord reads a record's header and returns the record, its Body
// ready to read the block.
func (r *Reader) readRecord() (*Record, error) {
	// Pass over the line breaks that end the previous record; in a gzipped
	// file, the member usually ends there too.
	for {
		c, err := r.dr.ReadByte()
		if err == nil {
			if c != '\r' && c != '\n' {
				r.dr.UnreadByte()
				break
			}
			continue
		}
		if err != io.EOF {
			return nil, r.readError(r.member, err)
		}
		if r.gz == nil {
			return nil, r.fail(io.EOF)
		}
		if err := r.nextMember(); err != nil {
			return nil, err
		}
	}

	off := r.member
	if r.gz == nil {
		off = r.offset()
	}
	maxHeader := r.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	budget := maxHeader
	bad := func(reason string, atLineStart bool, err error) error {
		r.atLineStart = atLineStart
		return r.bad(off, reason, err)
	}
	lineErr := func(err error) error {
		if err == errHeaderTooLong {
			return bad(ReasonHeaderTooLong, false, fmt.Errorf("header longer than %d bytes", maxHeader))
		}
		if err == io.EOF {
			return bad(ReasonTruncated, false, errors.New("input ends inside the header"))
		}
		return r.readError(off, err)
	}

	line, err := r.readLine(&budget)
	if err != nil {
		return nil, lineErr(err)
	}
	if !bytes.HasPrefix(line, warcMagic) {
		return nil, bad(ReasonBadHeader, true, fmt.Errorf("want a WARC/ version line, have %q", clip(line, 40)))
	}
	version := string(bytes.TrimRight(line, " \t"))
	var h Header
	for {
		line, err := r.readLine(&budget)
		if err != nil {
			return nil, lineErr(err)
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' { // a folded line continues the field before it (WARC 1.0)
			if len(h) == 0 {
				return nil, bad(ReasonBadHeader, true, fmt.Errorf("continuation line before any field: %q", clip(line, 40)))
			}
			h[len(h)-1].Value = unfold(h[len(h)-1].Value, line)
			continue
		}
		i := bytes.IndexByte(line, ':')
		name := bytes.TrimRight(line[:max(i, 0)], " \t")
		if i <= 0 || !isToken(name) {
			return nil, bad(ReasonBadHeader, true, fmt.Errorf("not a field line: %q", clip(line, 40)))
		}
		h = append(h, Field{string(name), string(bytes.TrimSpace(line[i+1:]))})
	}
	if version != "WARC/1.0" && version != "WARC/1.1" {
		return nil, bad(ReasonBadVersion, true, fmt.Errorf("version %q", clip([]byte(version), 40)))
	}
	typ := h.Get("WARC-Type")
	if typ == "" {
		return nil, bad(ReasonBadHeader, true, errors.New("no WARC-Type"))
	}
	cl := h.Get("Content-Length")
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || n < 0 {
		return nil, bad(ReasonBadHeader, true, fmt.Errorf("Content-Length %q", clip([]byte(cl), 40)))
	}
	b := &body{r: r, n: n, off: off}
	r.body = b
	return &Record{
		Version:       version,
		Header:        h,
		Type:          typ,
		TargetURI:     strings.TrimSuffix(strings.TrimPrefix(h.Get("WARC-Target-URI"), "<"), ">"),
		Date:          parseDate(h.Get("WARC-Date")),
		RecordID:      h.Get("WARC-Record-ID"),
		ContentLength: n,
		Offset:        off,
		Body:          b,
	}, nil
}

var errHeaderTooLong = errors.New("header too long")

// readLine reads a line of a header, without its line break (CRLF, or LF
// alone), taking its length from *budget.
func (r *Reader) readLine(budget *int) ([]byte, error) {
	r.line = r.line[:0]
	for {
		frag, err := r.dr.ReadSlice('\n')
		if *budget -= len(frag); *budget < 0 {
			return nil, errHeaderTooLong
		}
		if err == bufio.ErrBufferFull {
			r.line = append(r.line, frag...)
			continue
		}
		if len(r.line) > 0 {
			r.line = append(r.line, frag...)
			frag = r.line
		}
		if err != nil {
			return nil, err
		}
		frag = frag[:len(frag)-1]
		if n := len(frag); n > 0 && frag[n-1] == '\r' {
			frag = frag[:n-1]
		}
		return frag, nil
	}
}

// unfold joins a folded line to the value it continues, with one space.
func unfold(value string, line []byte) string {
	more := string(bytes.TrimSpace(line))
	if value == "" || more == "" {
		return value + more
	}
	return value + " " + more
}

// isToken reports whether a field name is an RFC 9110 token.
func isToken(s []byte) bool {
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return len(s) > 0
}

// bad passes over the rest of a bad record, counts it, and returns its
// error. A header that does not parse may be the first sign of a broken
// gzip member: when passing over the rest of the record breaks on the
// gzip data, the record is bad_gzip.
func (r *Reader) bad(off int64, reason string, err error) error {
	gzErr, skipErr := r.skipBad()
	if gzErr != nil {
		reason, err = ReasonBadGzip, fmt.Errorf("%w (after %v)", gzErr, err)
	}
	r.skipped[reason]++
	if skipErr != nil {
		if r.fail(skipErr) != io.EOF {
			return skipErr
		}
	}
	return &RecordError{File: r.name, Offset: off, Reason: reason, Err: err}
}

// readError turns an error of reading the records' bytes into a bad record
// (a broken gzip member, or input that ends too soon) or, for an error of
// the underlying reader, an error that ends reading.
func (r *Reader) readError(off int64, err error) error {
	switch {
	case r.src.err != nil:
		return r.fail(r.src.fatal(r.name))
	case err == errNoRecordEnd:
		r.atLineStart = false
		return r.bad(off, ReasonBadLength, err)
	case err == io.EOF:
		r.atLineStart = false
		return r.bad(off, ReasonTruncated, errors.New("input ends inside the block"))
	case r.gz != nil:
		r.inMember = true
		return r.bad(r.member, ReasonBadGzip, err)
	}
	return r.fail(fmt.Errorf("read %s: %w", r.name, err))
}

// fail makes err the error of every later call of Next.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// offset is the offset in the file of the next byte of br.
func (r *Reader) offset() int64 { return r.src.off - int64(r.br.Buffered()) }

// openMember starts reading the gzip member at the current offset.
func (r *Reader) openMember() error {
	r.member = r.offset()
	r.src.mark(r.member, r.br)
	if err := r.gz.Reset(r.br); err != nil {
		return err
	}
	r.gz.Multistream(false)
	r.dr.Reset(r.gz)
	return nil
}

// nextMember goes on to the next gzip member after the current one ended,
// or returns io.EOF at the end of the file.
func (r *Reader) nextMember() error {
	if _, err := r.br.Peek(1); err != nil {
		if r.src.err != nil {
			return r.fail(r.src.fatal(r.name))
		}
		return r.fail(io.EOF)
	}
	if err := r.openMember(); err != nil {
		if r.src.err != nil {
			return r.fail(r.src.fatal(r.name))
		}
		r.inMember = true
		return r.bad(r.member, ReasonBadGzip, fmt.Errorf("between gzip members: %w", err))
	}
	return nil
}

// skipBad passes over the rest of a bad record: to the next gzip member
// that starts with a record, after a broken member; otherwise to the next
// line that starts with "WARC/", or the end of the member or file, where
// readRecord goes on. gzErr is the error of a gzip member found broken on
// the way; err is io.EOF at the end of the file, or an error that ends
// reading.
func (r *Reader) skipBad() (gzErr, err error) {
	if r.inMember {
		r.inMember = false
		return nil, r.findMember()
	}
	for atStart := r.atLineStart; ; atStart = true {
		if atStart {
			if p, _ := r.dr.Peek(len(warcMagic)); bytes.Equal(p, warcMagic) {
				return nil, nil
			}
		}
		err := r.skipLine()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			if r.src.err != nil || r.gz == nil {
				return nil, r.src.fatal(r.name)
			}
			return err, r.findMember()
		}
	}
}

// skipLine passes over the rest of the current line.
func (r *Reader) skipLine() error {
	for {
		_, err := r.dr.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// findMember finds in the file's bytes the next gzip member that holds a
// record, after a broken one. It backs up to just after the start of the
// broken member (when the bytes read since are still kept: the member's
// deflate data may have run on into the next ones) and tries each gzip
// magic number from there in turn.
func (r *Reader) findMember() error {
	from := r.member + 1
	for {
		r.src.rewind(from, r.br)
		if err := r.scanMagic(); err != nil {
			return err
		}
		if r.openMember() == nil {
			if p, err := r.dr.Peek(len(warcMagic)); err == nil && bytes.Equal(p, warcMagic) {
				return nil
			}
		}
		if r.src.err != nil {
			return r.src.fatal(r.name)
		}
		from = r.member + 1
	}
}

// scanMagic passes over the file's bytes up to the next gzip magic number,
// or to the end (io.EOF).
func (r *Reader) scanMagic() error {
	for {
		if _, err := r.br.Peek(len(gzipMagic)); err != nil {
			r.br.Discard(r.br.Buffered())
			if r.src.err != nil {
				return r.src.fatal(r.name)
			}
			return io.EOF
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if i := bytes.Index(buf, gzipMagic); i >= 0 {
			r.br.Discard(i)
			return nil
		}
		r.br.Discard(len(buf) - len(gzipMagic) + 1)
	}
}

// body reads a record's block.
type body struct {
	r     *Reader
	n     int64 // bytes of the block left
	off   int64 // of the record
	ended bool  // the end of the record has been checked
	err   error // a *RecordError, or an error that ends reading, or errStale
	seen  bool  // err was returned to the caller
}

var errStale = errors.New("warc: record body read after Next")

// Read reads the block. It returns io.EOF only after the end of the
// record is checked too: in a gzipped file, up to the member's checksum.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		b.seen = true
		return 0, b.err
	}
	if b.n == 0 {
		if err := b.end(); err != nil {
			b.seen = true
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.dr.Read(p)
	b.n -= int64(n)
	if err == nil || err == io.EOF && b.n == 0 {
		if b.n == 0 {
			if err := b.end(); err != nil {
				b.seen = true
				return n, err
			}
		}
		return n, nil
	}
	b.err, b.seen = b.r.readError(b.off, err), true
	return n, b.err
}

// drain passes over the rest of the block and returns the error found, if
// the caller has not seen it.
func (b *body) drain() error {
	for b.err == nil && b.n > 0 {
		n, err := b.r.dr.Discard(int(min(b.n, 1<<30)))
		b.n -= int64(n)
		if err != nil {
			b.err = b.r.readError(b.off, err)
		}
	}
	if b.err == nil {
		b.end()
	}
	if b.err != nil && !b.seen {
		b.seen = true
		return b.err
	}
	return nil
}

// end checks once that the block is followed by the end of the record.
func (b *body) end() error {
	if b.ended {
		return nil
	}
	b.ended = true
	if err := b.r.endRecord(); err != nil {
		b.err = b.r.readError(b.off, err)
	}
	return b.err
}

var errNoRecordEnd = errors.New("the block is not followed by the end of the record (a wrong Content-Length?)")

// endRecord checks what follows a block: line breaks, then the end of the
// file or member (in a gzipped file: with the member's checksum right) or
// the next record. Anything else means the Content-Length is wrong, or the
// data is broken.
func (r *Reader) endRecord() error {
	p, err := r.dr.Peek(len("\r\n\r\n") + len(warcMagic))
	if err != nil && err != io.EOF {
		return err
	}
	rest := bytes.TrimLeft(p, "\r\n")
	if bytes.HasPrefix(rest, warcMagic) || bytes.HasPrefix(warcMagic, rest) {
		return nil
	}
	return errNoRecordEnd
}

// clip shortens b for an error message.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// source is the file being read. It counts offsets and, while a gzip
// member is read, keeps the bytes read since the member started (up to
// maxKept), so that after the member turns out broken reading can back up
// to just after its start.
type source struct {
	r      io.Reader
	off    int64  // offset of the next byte Read returns
	err    error  // the first error of r other than io.EOF
	keep   bool   // keeping bytes
	kept   []byte // the bytes from keptAt to off
	keptAt int64
	replay []byte // bytes to return again before reading r
}

func (s *source) Read(p []byte) (n int, err error) {
	if len(s.replay) > 0 {
		n = copy(p, s.replay)
		s.replay = s.replay[n:]
	} else {
		n, err = s.r.Read(p)
		if err != nil && err != io.EOF && s.err == nil {
			s.err = err
		}
	}
	if s.keep {
		if len(s.kept)+n > maxKept {
			s.keep, s.kept = false, nil
		} else {
			s.kept = append(s.kept, p[:n]...)
		}
	}
	s.off += int64(n)
	return n, err
}

// mark starts keeping bytes from offset at, the next byte of br.
func (s *source) mark(at int64, br *bufio.Reader) {
	buffered, _ := br.Peek(br.Buffered())
	s.keep, s.kept, s.keptAt = true, append(s.kept[:0], buffered...), at
}

// rewind makes br read again from offset to, if the bytes from there are
// kept; otherwise it leaves br where it is.
func (s *source) rewind(to int64, br *bufio.Reader) {
	if !s.keep || to < s.keptAt || to > s.off {
		return
	}
	rest := s.kept[to-s.keptAt:]
	replay := make([]byte, 0, len(rest)+len(s.replay))
	s.replay = append(append(replay, rest...), s.replay...)
	s.off, s.keep, s.kept = to, false, s.kept[:0]
	br.Reset(s)
}

// fatal is the error of the underlying reader, which ends reading.
func (s *source) fatal(name string) error {
	if s.err == nil {
		return fmt.Errorf("read %s: %w", name, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", name, s.err)
}
