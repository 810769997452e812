package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/tokstream"
)

// encodeStats count what encodeDocs read and wrote.
type encodeStats struct {
	docStats
	Tokens int64 `json:"tokens"`
}

// encodeDocs encodes the documents of inputs with tok and writes them to w in
// input order: as lines of ids with ef.ids, else as the Arrow token stream.
func encodeDocs(w io.Writer, tok *bpe.Tokenizer, inputs []string, df *docFlags, ef *encodeFlags) (encodeStats, error) {
	var es encodeStats
	if df.threads < 1 {
		return es, usagef("--threads %d: want at least 1", df.threads)
	}
	allowed, err := bpe.ParseSpecialSet(ef.allowSpecial)
	if err != nil {
		return es, usageError{err}
	}
	if _, err := tok.Encode(nil, allowed); err != nil {
		return es, usageError{err} // a token the tokenizer lacks, refused before any input is read
	}
	var sink docSink
	if ef.ids {
		sink = &idLines{w: bufio.NewWriterSize(w, 1<<20)}
	} else {
		sink, err = newTokenStream(w, tok)
		if err != nil {
			return es, err
		}
	}
	start := time.Now()
	ntok, err := encodePipeline(sink, tok, inputs, df, func(e *bpe.Encoder, dst []uint32, text []byte) ([]uint32, error) {
		if ef.specialText {
			return e.AppendEncodeOrdinary(dst, text), nil
		}
		return e.AppendEncode(dst, text, allowed)
	}, &es.docStats)
	if err != nil {
		return es, err
	}
	if err := sink.close(); err != nil {
		return es, err
	}
	es.Tokens = ntok
	es.Seconds = time.Since(start).Seconds()
	slog.Info("encoded", "documents", es.Documents, "bytes", es.Bytes, "tokens", ntok, "seconds", es.Seconds, "mb_per_s", float64(es.Bytes)/es.Seconds/1e6)
	return es, nil
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

// encodePipeline reads the documents of inputs, encodes each with encode on
// df.threads goroutines, and writes their tokens to sink in input order. It
// returns the number of tokens written, and sets *rs to what was read.
//
// Reading, encoding and writing overlap: one goroutine reads and parses
// documents into batches, the encoders take batches as they come, and the
// calling goroutine writes finished batches in order. A fixed set of
// batches circulates (free, filled, encoded, written, free again), which
// bounds the memory in flight and lets each batch keep its token buffer, so
// that encoding allocates nothing per document. The threads are cores:
// GOMAXPROCS is df.threads while it runs, so that --threads 1 does all of
// it on one core.
func encodePipeline(sink docSink, tok *bpe.Tokenizer, inputs []string, df *docFlags,
	encode func(e *bpe.Encoder, dst []uint32, text []byte) ([]uint32, error), rs *docStats) (int64, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(df.threads))
	n := 2*df.threads + 2
	free := make(chan *docBatch, n)
	for range n {
		free <- &docBatch{}
	}
	var (
		filled  = make(chan *docBatch, n)
		encoded = make(chan *docBatch, n)
		stop    = make(chan struct{})
		readErr error
	)
	go func() {
		defer close(filled)
		*rs, readErr = readBatches(inputs, df, free, filled, stop)
	}()
	var wg sync.WaitGroup
	for range df.threads {
		wg.Go(func() {
			e := tok.NewEncoder()
			for b := range filled {
				select {
				case <-stop:
					continue // drain
				default:
				}
				b.encode(e, encode)
				encoded <- b // never blocks: it has room for every batch
			}
		})
	}
	go func() {
		wg.Wait()
		close(encoded)
	}()

	var (
		ntok    int64
		err     error
		next    int
		pending = map[int]*docBatch{}
	)
	for b := range encoded {
		if err != nil {
			continue // stopped: drain until the encoders are done
		}
		pending[b.seq] = b
		for b := pending[next]; b != nil && err == nil; b = pending[next] {
			delete(pending, next)
			next++
			if err = b.write(sink); err == nil {
				ntok += int64(len(b.toks))
				b.reset()
				free <- b
			}
		}
		if err != nil {
			close(stop)
		}
	}
	// The reader is done: it closed filled before the encoders finished.
	if err == nil && readErr != nil {
		err = readErr
	}
	return ntok, err
}

// Batches of the pipeline hold this many documents or bytes of text,
// whichever comes first (a longer document makes a batch of its own).
const (
	batchDocs  = 1024
	batchBytes = 1 << 20
)

// errStopped ends the reader of a pipeline that stopped on an error.
var errStopped = errors.New("stopped")

// docBatch is a run of documents on its way through encodePipeline.
type docBatch struct {
	seq    int // its place in input order
	ids    []string
	texts  [][]byte
	size   int      // bytes of texts
	toks   []uint32 // the tokens of the documents, end to end
	ends   []int    // document i's tokens end at toks[ends[i]]
	errDoc int      // the first document that failed to encode
	err    error    // its error
}

// readBatches reads the documents of inputs into batches taken from free
// and sends them, numbered in order, to filled, until the inputs end or
// stop is closed.
func readBatches(inputs []string, df *docFlags, free <-chan *docBatch, filled chan<- *docBatch, stop <-chan struct{}) (docStats, error) {
	var (
		b   *docBatch
		seq int
	)
	send := func() error {
		if b == nil {
			return nil
		}
		b.seq, seq = seq, seq+1
		select {
		case filled <- b:
			b = nil
			return nil
		case <-stop:
			return errStopped
		}
	}
	rs, err := forEachDoc(inputs, df, func(id string, text []byte) error {
		if b == nil {
			select {
			case b = <-free:
			case <-stop:
				return errStopped
			}
		}
		b.ids = append(b.ids, id)
		b.texts = append(b.texts, text)
		b.size += len(text)
		if len(b.texts) >= batchDocs || b.size >= batchBytes {
			return send()
		}
		return nil
	})
	if err == nil {
		err = send()
	}
	return rs, err
}

// encode encodes the documents of b with e, stopping at the first that
// fails.
func (b *docBatch) encode(e *bpe.Encoder, encode func(e *bpe.Encoder, dst []uint32, text []byte) ([]uint32, error)) {
	b.errDoc, b.err = -1, nil
	for i, text := range b.texts {
		var err error
		if b.toks, err = encode(e, b.toks, text); err != nil {
			b.errDoc, b.err = i, err
			return
		}
		b.ends = append(b.ends, len(b.toks))
	}
}

// write writes the documents of b to sink, or returns the error of the
// document that failed to encode.
func (b *docBatch) write(sink docSink) error {
	if b.err != nil {
		return fmt.Errorf("document %q: %w (see --allow-special and --special-as-text)", b.ids[b.errDoc], b.err)
	}
	from := 0
	for i, end := range b.ends {
		if err := sink.write(b.ids[i], b.toks[from:end]); err != nil {
			return err
		}
		from = end
	}
	return nil
}

// reset empties b for reuse, keeping its buffers but not its texts.
func (b *docBatch) reset() {
	clear(b.texts)
	clear(b.ids)
	b.ids, b.texts, b.size = b.ids[:0], b.texts[:0], 0
	b.toks, b.ends = b.toks[:0], b.ends[:0]
}
