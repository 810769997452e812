package docio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const (
	stdio  = "-"       // the path of stdin and stdout
	bufLen = 256 << 10 // read buffer
)

// Compression formats.
const (
	plain    = ""
	gzipData = "gzip"
	zstdData = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// compressionOf names the compression that a path's suffix announces.
func compressionOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".gzip":
		return gzipData
	case ".zst", ".zstd":
		return zstdData
	}
	return plain
}

// sniff names the compression whose magic bytes start head.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return gzipData
	case bytes.HasPrefix(head, zstdMagic):
		return zstdData
	}
	return plain
}

// Open opens path for reading. "-" or "" is stdin (which Close leaves
// open). gzip (multi-member too) and zstd data are decompressed, recognised
// by their magic bytes whatever the name, so a compressed stdin works; see
// Decompress.
func Open(path string) (io.ReadCloser, error) {
	if path == "" || path == stdio {
		return Decompress(os.Stdin, "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rc, err := Decompress(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: rc, close: func() error {
		return errors.Join(rc.Close(), f.Close())
	}}, nil
}

// Decompress returns a reader of the decompressed content of r. The format
// is told by the first bytes of r: gzip (1f 8b) and zstd (28 b5 2f fd) are
// decompressed, anything else passes through. A name ending in ".gz" or
// ".zst" whose data does not start with that format's magic is an error
// rather than a silent pass-through. Close releases the decompressor; it
// does not close r.
func Decompress(r io.Reader, name string) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, bufLen)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	got, want := sniff(head), compressionOf(name)
	if want != plain && got != want {
		return nil, fmt.Errorf("read %s: name says %s but the data is not %s", name, want, want)
	}
	switch got {
	case gzipData:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read %s: gzip: %w", name, err)
		}
		return &readCloser{Reader: zr, close: zr.Close}, nil
	case zstdData:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read %s: zstd: %w", name, err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return nil }}, nil
	}
	return &readCloser{Reader: br, close: func() error { return nil }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// Output is a file being written: it appears under its name only when Close
// succeeds. Until then the bytes go to a temporary file beside it
// (".NAME.tmp-*"), which Abort, or Close after a failed Write, removes.
// The usual shape is
//
//	out, err := docio.Create(path)
//	if err != nil { return err }
//	defer out.Abort() // no-op once Close has succeeded
//	... write ...
//	return out.Close()
//
// Output keeps the first write error and returns it from every later Write
// and from Close.
type Output struct {
	name string
	f    *os.File       // the temporary file; nil for stdout
	w    io.Writer      // where Write goes: the compressor, the file or stdout
	comp io.WriteCloser // the compressor, if any
	err  error
	done bool
}

var _ io.WriteCloser = (*Output)(nil)

// Create starts writing path: "-" or "" is stdout (uncompressed, and Close
// does not close it); a name ending in ".gz" or ".zst" is gzip- or
// zstd-compressed. The file is created with mode 0644 on Close, replacing
// any file of that name.
func Create(path string) (*Output, error) {
	if path == "" || path == stdio {
		return &Output{name: stdio, w: os.Stdout}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	o := &Output{name: path, f: f, w: f}
	switch compressionOf(path) {
	case gzipData:
		o.comp = gzip.NewWriter(f)
	case zstdData:
		zw, err := zstd.NewWriter(f)
		if err != nil {
			o.Abort()
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		o.comp = zw
	}
	if o.comp != nil {
		o.w = o.comp
	}
	return o, nil
}

// Name is the path that the output will have ("-" for stdout).
func (o *Output) Name() string { return o.name }

func (o *Output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.done {
		return 0, fmt.Errorf("write %s: %w", o.name, os.ErrClosed)
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = fmt.Errorf("write %s: %w", o.name, err)
	}
	return n, o.err
}

// Close finishes the compressed stream, syncs the file and renames it into
// place. If a Write failed, or finishing fails, the temporary file is
// removed and the error returned. Close after Close or Abort returns nil.
func (o *Output) Close() error {
	if o.done {
		return nil
	}
	if o.err != nil {
		o.Abort()
		return o.err
	}
	if o.comp != nil {
		if err := o.comp.Close(); err != nil {
			o.err = fmt.Errorf("write %s: %w", o.name, err)
		}
	}
	if o.f == nil { // stdout
		o.done = true
		return o.err
	}
	if o.err == nil {
		if err := o.f.Chmod(0o644); err != nil {
			o.err = fmt.Errorf("write %s: %w", o.name, err)
		}
	}
	if o.err == nil {
		if err := o.f.Sync(); err != nil {
			o.err = fmt.Errorf("write %s: %w", o.name, err)
		}
	}
	if err := o.f.Close(); err != nil && o.err == nil {
		o.err = fmt.Errorf("write %s: %w", o.name, err)
	}
	if o.err == nil {
		if err := os.Rename(o.f.Name(), o.name); err != nil {
			o.err = fmt.Errorf("write %s: %w", o.name, err)
		}
	}
	o.done = true
	if o.err != nil {
		os.Remove(o.f.Name())
	}
	return o.err
}

// Abort discards the output: the temporary file is removed and nothing
// appears under the name. It is a no-op after Close.
func (o *Output) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	if o.err == nil {
		o.err = fmt.Errorf("write %s: aborted", o.name)
	}
	if o.f == nil {
		return nil
	}
	if o.comp != nil {
		o.comp.Close()
	}
	o.f.Close()
	return os.Remove(o.f.Name())
}
