package tokstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Helpers for other formats that hold token documents the way the stream
// does, under a format name of their own: the shard files of package shard
// are Arrow IPC files with this schema and these metadata keys, whose
// pipe.format is "pipe-shard". Sharing the code keeps the two readable the
// same way and checked by the same rules.

// Validate reports what is wrong with m, whose DType must be filled in.
func (m Meta) Validate() error { return m.check() }

// DTypeFor is the narrowest token type that holds every id below vocab:
// Uint16 up to 65,536 ids, else Uint32.
func DTypeFor(vocab int) string { return dtypeFor(vocab) }

// SchemaFor is the schema of a stream described by m (checked with
// Validate), with format and version in place of FormatName and Version.
func SchemaFor(format string, version int, m Meta) (*arrow.Schema, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	s := schema(m)
	return arrow.NewSchema(s.Fields(), ptr(renamed(s.Metadata(), format, strconv.Itoa(version)))), nil
}

// ParseSchemaFor reads Meta from a schema whose pipe.format is format and
// whose pipe.version is version, and finds its id and tokens columns, by the
// rules of the stream's reader. Its errors do not wrap ErrFormat, which
// names the stream: the caller says what the schema is of.
func ParseSchemaFor(s *arrow.Schema, format string, version int) (m Meta, idCol, tokCol int, err error) {
	md := s.Metadata()
	switch i := md.FindKey(keyFormat); {
	case i < 0:
		return Meta{}, 0, 0, fmt.Errorf("schema metadata has no %s", keyFormat)
	case md.Values()[i] != format:
		return Meta{}, 0, 0, fmt.Errorf("%s is %q, want %q", keyFormat, md.Values()[i], format)
	}
	if i := md.FindKey(keyVersion); i < 0 || md.Values()[i] != strconv.Itoa(version) {
		v := ""
		if i >= 0 {
			v = md.Values()[i]
		}
		return Meta{}, 0, 0, fmt.Errorf("%s version %q is not supported (this build reads version %d)", format, v, version)
	}
	as := arrow.NewSchema(s.Fields(), ptr(renamed(md, FormatName, strconv.Itoa(Version))))
	m, idCol, tokCol, err = parseSchema(as)
	return m, idCol, tokCol, detail(err)
}

// CheckBatch views the columns of rec, a record batch of a schema that
// ParseSchemaFor read as m with columns idCol and tokCol, as a Batch, after
// the checks the stream's reader makes: no nulls, offsets in range and
// non-decreasing, every token below the vocab size. The Batch views rec's
// buffers.
func CheckBatch(rec arrow.RecordBatch, m Meta, idCol, tokCol int) (Batch, error) {
	r := &Reader{meta: m, idCol: idCol, tokCol: tokCol}
	if err := r.view(rec); err != nil {
		return Batch{}, detail(err)
	}
	return r.batch, nil
}

// renamed is md with the values of pipe.format and pipe.version replaced.
func renamed(md arrow.Metadata, format, version string) arrow.Metadata {
	keys, vals := md.Keys(), append([]string(nil), md.Values()...)
	for i, k := range keys {
		switch k {
		case keyFormat:
			vals[i] = format
		case keyVersion:
			vals[i] = version
		}
	}
	return arrow.NewMetadata(keys, vals)
}

func ptr[T any](v T) *T { return &v }

// detail drops the ErrFormat prefix from an error of parseSchema or view.
func detail(err error) error {
	if err == nil || !errors.Is(err, ErrFormat) {
		return err
	}
	return errors.New(strings.TrimPrefix(err.Error(), ErrFormat.Error()+": "))
}
