package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/tokstream"
)

// Documents are encoded in batches of this many documents or bytes, whichever
// comes first; a batch is spread over the threads and written in order.
const (
	batchDocs  = 1024
	batchBytes = 8 << 20
)

// encodeDocs encodes the documents of inputs with tok and writes them to w in
// input order: as lines of ids with ef.ids, else as the Arrow token stream.
func encodeDocs(w io.Writer, tok *bpe.Tokenizer, inputs []string, df *docFlags, ef *encodeFlags) error {
	if df.threads < 1 {
		return usagef("--threads %d: want at least 1", df.threads)
	}
	allowed, err := bpe.ParseSpecialSet(ef.allowSpecial)
	if err != nil {
		return usageError{err}
	}
	if _, err := tok.Encode(nil, allowed); err != nil {
		return usageError{err} // a token the tokenizer lacks, refused before any input is read
	}
	var sink docSink
	if ef.ids {
		sink = &idLines{w: bufio.NewWriterSize(w, 1<<20)}
	} else {
		sink, err = newTokenStream(w, tok)
		if err != nil {
			return err
		}
	}
	start := time.Now()
	var (
		ids          []string
		texts        [][]byte
		size         int
		ndocs, nbyte int64
		ntok         int64
	)
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		var (
			out [][]uint32
			err error
		)
		if ef.specialText {
			out = tok.EncodeOrdinaryBatch(texts, df.threads)
		} else if out, err = tok.EncodeBatch(texts, allowed, df.threads); err != nil {
			var de *bpe.DocError
			if errors.As(err, &de) {
				return fmt.Errorf("document %q: %w (see --allow-special and --special-as-text)", ids[de.Doc], de.Err)
			}
			return err
		}
		for i, toks := range out {
			if err := sink.write(ids[i], toks); err != nil {
				return err
			}
			ntok += int64(len(toks))
		}
		ids, texts, size = ids[:0], texts[:0], 0
		return nil
	}
	err = forEachDoc(inputs, df, func(id string, text []byte) error {
		ids = append(ids, id)
		texts = append(texts, text)
		size += len(text)
		ndocs++
		nbyte += int64(len(text))
		if len(texts) >= batchDocs || size >= batchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if err := sink.close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	slog.Info("encoded", "documents", ndocs, "bytes", nbyte, "tokens", ntok, "seconds", secs, "mb_per_s", float64(nbyte)/secs/1e6)
	return nil
}

// docSink receives encoded documents in order.
type docSink interface {
	write(id string, tokens []uint32) error
	close() error
}

// idLines writes one line of decimal ids per document.
type idLines struct {
	w   *bufio.Writer
	buf []byte
}

func (s *idLines) write(_ string, tokens []uint32) error {
	s.buf = s.buf[:0]
	for i, t := range tokens {
		if i > 0 {
			s.buf = append(s.buf, ' ')
		}
		s.buf = strconv.AppendUint(s.buf, uint64(t), 10)
	}
	s.buf = append(s.buf, '\n')
	_, err := s.w.Write(s.buf)
	return err
}

func (s *idLines) close() error { return s.w.Flush() }

// tokenStream writes the Arrow IPC token stream.
type tokenStream struct{ w *tokstream.Writer }

func newTokenStream(w io.Writer, tok *bpe.Tokenizer) (*tokenStream, error) {
	sum, err := tok.Fingerprint()
	if err != nil {
		return nil, err
	}
	meta := tokstream.Meta{TokenizerSHA256: sum, VocabSize: tok.VocabSize(), EOT: tokstream.NoEOT}
	if id, ok := tok.SpecialID("<|endoftext|>"); ok {
		meta.EOT = int(id)
	}
	sw, err := tokstream.NewWriter(w, meta)
	if err != nil {
		return nil, err
	}
	return &tokenStream{sw}, nil
}

func (s *tokenStream) write(id string, tokens []uint32) error { return s.w.Write(id, tokens) }
func (s *tokenStream) close() error                           { return s.w.Close() }
