// Package tokstream is the stream of tokenized documents that `pipe bpe
// encode` writes and `pipe shard` reads: an Apache Arrow IPC stream (the
// streaming format, not the file format, so it can flow through a pipe) with
// one row per document,
//
//	id      utf8                     not null
//	tokens  large_list<uint16>       not null   (large_list<uint32> when the vocabulary exceeds 65,536 ids)
//
// and the tokenizer described in the schema's metadata:
//
//	pipe.format            "pipe-tokens"
//	pipe.version           "1"
//	pipe.tokenizer_sha256  SHA-256 of the tokenizer file, 64 lower-case hex digits
//	pipe.vocab_size        every token id is below it, e.g. "50257"
//	pipe.eot_id            the end-of-text id, e.g. "50256"; absent when the tokenizer has none
//	pipe.dtype             "uint16" or "uint32", the type of the token values
//
// Rows come in record batches of about 4 MiB of tokens. Any Arrow reader
// reads the stream, for instance pyarrow:
//
//	with pa.ipc.open_stream(sys.stdin.buffer) as r:
//	    for batch in r: ...
//
// The stream must end with Arrow's end-of-stream marker: one without it is
// taken to be cut short (its writer died) and is an error wrapping
// ErrTruncated, never a silent end. Streams may be concatenated (`cat a.arrow
// b.arrow`): the Reader reads them one after the other provided they describe
// the same tokenizer (equal Meta); otherwise it stops with an error wrapping
// ErrFormat.
package tokstream

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// Format name and version, written to and required in the schema metadata.
const (
	FormatName = "pipe-tokens"
	Version    = 1
)

// Schema metadata keys.
const (
	keyFormat    = "pipe.format"
	keyVersion   = "pipe.version"
	keyTokenizer = "pipe.tokenizer_sha256"
	keyVocab     = "pipe.vocab_size"
	keyEOT       = "pipe.eot_id"
	keyDType     = "pipe.dtype"
)

// Token value types.
const (
	Uint16 = "uint16"
	Uint32 = "uint32"
)

// NoEOT is Meta.EOT for a tokenizer without an end-of-text token.
const NoEOT = -1

// Errors wrapped by what the Reader returns.
var (
	ErrFormat    = errors.New("not a valid pipe-tokens stream")
	ErrTruncated = errors.New("token stream cut short")
)

// Meta describes the tokenizer that made the tokens.
type Meta struct {
	TokenizerSHA256 string // 64 lower-case hex digits
	VocabSize       int    // number of token ids, 1 to 1<<32
	EOT             int    // the end-of-text id, or NoEOT; note that 0 is a token id
	DType           string // Uint16 or Uint32; the Writer fills in "" from VocabSize
}

// dtypeFor is the narrowest type that holds ids below vocab.
func dtypeFor(vocab int) string {
	if vocab <= 1<<16 {
		return Uint16
	}
	return Uint32
}

// check reports what is wrong with m, a complete Meta.
func (m Meta) check() error {
	if len(m.TokenizerSHA256) != 64 || !isLowerHex(m.TokenizerSHA256) {
		return fmt.Errorf("tokenizer sha256 %q: want 64 lower-case hex digits", m.TokenizerSHA256)
	}
	if m.VocabSize < 1 || m.VocabSize > 1<<32 {
		return fmt.Errorf("vocab size %d: want 1 to 2^32", m.VocabSize)
	}
	if m.EOT != NoEOT && (m.EOT < 0 || m.EOT >= m.VocabSize) {
		return fmt.Errorf("end-of-text id %d: want NoEOT or an id below the vocab size %d", m.EOT, m.VocabSize)
	}
	switch m.DType {
	case Uint32:
	case Uint16:
		if m.VocabSize > 1<<16 {
			return fmt.Errorf("dtype uint16 cannot hold a vocab of %d ids", m.VocabSize)
		}
	default:
		return fmt.Errorf("dtype %q: want %s or %s", m.DType, Uint16, Uint32)
	}
	return nil
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func valueType(dtype string) arrow.DataType {
	if dtype == Uint16 {
		return arrow.PrimitiveTypes.Uint16
	}
	return arrow.PrimitiveTypes.Uint32
}

// schema is the Arrow schema of a stream with metadata m (checked).
func schema(m Meta) *arrow.Schema {
	keys := []string{keyFormat, keyVersion, keyTokenizer, keyVocab}
	vals := []string{FormatName, strconv.Itoa(Version), m.TokenizerSHA256, strconv.Itoa(m.VocabSize)}
	if m.EOT != NoEOT {
		keys, vals = append(keys, keyEOT), append(vals, strconv.Itoa(m.EOT))
	}
	keys, vals = append(keys, keyDType), append(vals, m.DType)
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "tokens", Type: arrow.LargeListOfNonNullable(valueType(m.DType))},
	}, &md)
}

// parseSchema reads Meta from a stream's schema and finds its columns.
func parseSchema(s *arrow.Schema) (m Meta, idCol, tokCol int, err error) {
	md := s.Metadata()
	get := func(key string) (string, bool) {
		i := md.FindKey(key)
		if i < 0 {
			return "", false
		}
		return md.Values()[i], true
	}
	bad := func(format string, args ...any) (Meta, int, int, error) {
		return Meta{}, 0, 0, fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	switch f, ok := get(keyFormat); {
	case !ok:
		return bad("schema metadata has no %s", keyFormat)
	case f != FormatName:
		return bad("%s is %q, want %q", keyFormat, f, FormatName)
	}
	if v, _ := get(keyVersion); v != strconv.Itoa(Version) {
		return bad("%s version %q is not supported (this build reads version %d)", FormatName, v, Version)
	}
	m.TokenizerSHA256, _ = get(keyTokenizer)
	vocab, _ := get(keyVocab)
	if m.VocabSize, err = strconv.Atoi(vocab); err != nil {
		return bad("%s %q is not a number", keyVocab, vocab)
	}
	m.EOT = NoEOT
	if eot, ok := get(keyEOT); ok {
		if m.EOT, err = strconv.Atoi(eot); err != nil {
			return bad("%s %q is not a number", keyEOT, eot)
		}
	}
	m.DType, _ = get(keyDType)
	if err := m.check(); err != nil {
		return bad("%v", err)
	}

	idCol, tokCol = -1, -1
	for i, f := range s.Fields() {
		switch f.Name {
		case "id":
			idCol = i
		case "tokens":
			tokCol = i
		}
	}
	if idCol < 0 || tokCol < 0 {
		return bad("schema %v lacks an id or a tokens column", s)
	}
	if t := s.Field(idCol).Type; t.ID() != arrow.STRING {
		return bad("column id is %v, want utf8", t)
	}
	want := arrow.LargeListOf(valueType(m.DType))
	if t, ok := s.Field(tokCol).Type.(*arrow.LargeListType); !ok || !arrow.TypeEqual(t.Elem(), want.Elem()) {
		return bad("column tokens is %v, want %v (dtype %s)", s.Field(tokCol).Type, want, m.DType)
	}
	return m, idCol, tokCol, nil
}
