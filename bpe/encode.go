package bpe

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// Encoder holds the scratch state of encoding, so that encoding many texts
// allocates nothing beyond the growth of the caller's id slices. An Encoder
// is not safe for concurrent use: give each goroutine its own.
type Encoder struct {
	t       *Tokenizer
	out     []uint32           // ids of the text being encoded
	piece   func(piece []byte) // e.encodePiece, bound once
	short   shortMerge
	heap    heapMerge
	cache   *[cacheSize]cacheEntry // made on first use
	allowed []bool                 // per t.specials: allowed by the current call
}

// NewEncoder returns an Encoder for t.
func (t *Tokenizer) NewEncoder() *Encoder {
	e := &Encoder{t: t}
	e.piece = e.encodePiece
	return e
}

// encodePiece appends the ids of one piece to e.out: the piece's own id when
// it is a token, else the result of the byte pair merge.
func (e *Encoder) encodePiece(p []byte) {
	tab := e.t.table
	n := len(p)
	var w, h uint64
	switch {
	case n == 1:
		e.out = append(e.out, tab.byte1[p[0]])
		return
	case n <= 8 && cap(p) >= 8:
		// hashKey and find's first probe, inlined for the common case: a
		// short piece that is a token found in its home slot.
		w = loadWord(p)
		h = shortHash(w, n)
		if s := &tab.slots[h>>tab.shift]; s.word == w && s.n == uint32(n) {
			e.out = append(e.out, s.id)
			return
		}
	case n == 0:
		return
	default:
		w, h = hashKey(p)
	}
	if id := tab.find(p, w, h); id != noRank {
		e.out = append(e.out, id)
		return
	}
	if len(p) > maxShort {
		e.out = tab.mergeLong(&e.heap, e.out, p)
		return
	}
	if len(p) > cacheKey {
		e.out = tab.mergeShort(&e.short, e.out, p)
		return
	}
	if e.cache == nil {
		e.cache = new([cacheSize]cacheEntry)
	}
	c := &e.cache[h>>(64-cacheBits)]
	if int(c.n) == len(p) && string(c.key[:c.n]) == string(p) {
		e.out = append(e.out, c.ids[:c.m]...)
		return
	}
	k := len(e.out)
	e.out = tab.mergeShort(&e.short, e.out, p)
	if ids := e.out[k:]; len(ids) <= cacheIDs {
		c.n, c.m = uint8(len(p)), uint8(len(ids))
		copy(c.key[:], p)
		copy(c.ids[:], ids)
	}
}

// The piece cache of an Encoder remembers the ids of recently merged pieces
// (pieces that are not a token themselves: about one in six in text, often
// the same few words), so that a frequent one is merged once. It is direct
// mapped by the piece's hash; a newer piece replaces an older one. Merging
// is over half of encoding's time, and on the 26-language test corpus
// 32,768 entries (2.2 MB) merge a fifth fewer pieces under o200k than 8,192.
const (
	cacheBits = 15
	cacheSize = 1 << cacheBits
	cacheKey  = 32 // longest piece cached
	cacheIDs  = 8  // most ids cached for one piece
)

type cacheEntry struct {
	key  [cacheKey]byte
	n, m uint8 // piece length (0: empty entry) and number of ids
	ids  [cacheIDs]uint32
}

// AppendEncodeOrdinary appends the ids of text to dst, treating the text of
// special tokens as ordinary text (tiktoken's encode_ordinary, or encode with
// disallowed_special=()).
func (e *Encoder) AppendEncodeOrdinary(dst []uint32, text []byte) []uint32 {
	e.out = dst
	// Clip the capacity: hashing reads up to 8 bytes from a piece's start,
	// masking off those past its end, and these must be the text's. The
	// scanners of the named patterns hand out pieces with the rest of this
	// capacity, so that a short piece hashes with one load (loadWord).
	text = text[:len(text):len(text)]
	if sc, ok := e.t.splitter.(scanner); ok {
		sc.splitOpen(text, e.piece)
	} else {
		e.t.splitter.Split(text, e.piece)
	}
	dst, e.out = e.out, nil
	return dst
}

// AppendEncode appends the ids of text to dst, as tiktoken's
// encode(text, allowed_special=allowed, disallowed_special="all"): the text of
// an allowed special token becomes its id (the leftmost occurrence first; the
// longest token where several start at the same byte), and the ordinary text
// between special tokens is split and merged on its own. If the text of any
// special token outside allowed occurs anywhere in text, nothing is appended
// and the error is a *SpecialError (errors.Is ErrDisallowedSpecial) naming
// the first such token and its byte offset. Naming a token in allowed that t
// does not have is an error too.
func (e *Encoder) AppendEncode(dst []uint32, text []byte, allowed SpecialSet) ([]uint32, error) {
	t := e.t
	var err error
	if e.allowed, err = t.resolve(e.allowed, allowed); err != nil {
		return dst, err
	}
	anyAllowed := slices.Contains(e.allowed, true)
	if slices.Contains(e.allowed, false) {
		if at, i := t.findSpecial(text, 0, e.allowed, false); i >= 0 {
			return dst, &SpecialError{Token: t.specials[i].text, Offset: at}
		}
	}
	if !anyAllowed {
		return e.AppendEncodeOrdinary(dst, text), nil
	}
	for start := 0; ; {
		at, i := t.findSpecial(text, start, e.allowed, true)
		if i < 0 {
			return e.AppendEncodeOrdinary(dst, text[start:]), nil
		}
		dst = e.AppendEncodeOrdinary(dst, text[start:at])
		dst = append(dst, t.specials[i].id)
		start = at + len(t.specials[i].text)
	}
}

// findSpecial returns the leftmost occurrence at or after from of a special
// token whose mask entry equals want, preferring the longest token at the
// same byte: its byte offset and index in t.specials, or -1, -1.
func (t *Tokenizer) findSpecial(text []byte, from int, mask []bool, want bool) (at, index int) {
	for p := from; p < len(text); p++ {
		if t.firstByte >= 0 {
			// All special tokens start with the same byte: jump to it.
			k := bytes.IndexByte(text[p:], byte(t.firstByte))
			if k < 0 {
				break
			}
			p += k
		}
		for _, i := range t.byFirst[text[p]] {
			s := t.specials[i].text
			if mask[i] == want && len(text)-p >= len(s) && string(text[p:p+len(s)]) == s {
				return p, i
			}
		}
	}
	return -1, -1
}

// EncodeOrdinary returns the ids of text, special token text included as
// ordinary text. It is safe for concurrent use; loops over many texts should
// use an Encoder.
func (t *Tokenizer) EncodeOrdinary(text []byte) []uint32 {
	e := t.pool.get(t)
	defer t.pool.put(e)
	return e.AppendEncodeOrdinary(nil, text)
}

// Encode returns the ids of text with the special tokens in allowed encoded
// as their ids; see Encoder.AppendEncode. It is safe for concurrent use.
func (t *Tokenizer) Encode(text []byte, allowed SpecialSet) ([]uint32, error) {
	e := t.pool.get(t)
	defer t.pool.put(e)
	return e.AppendEncode(nil, text, allowed)
}

// EncodeBatch encodes docs with Encode on up to threads goroutines (at least
// one) and returns their ids in the order of docs. If a document fails, it
// returns no ids and a *DocError for the first failing document.
func (t *Tokenizer) EncodeBatch(docs [][]byte, allowed SpecialSet, threads int) ([][]uint32, error) {
	return t.batch(docs, threads, func(e *Encoder, dst []uint32, doc []byte) ([]uint32, error) {
		return e.AppendEncode(dst, doc, allowed)
	})
}

// EncodeOrdinaryBatch is EncodeBatch with EncodeOrdinary, which cannot fail.
func (t *Tokenizer) EncodeOrdinaryBatch(docs [][]byte, threads int) [][]uint32 {
	out, _ := t.batch(docs, threads, func(e *Encoder, dst []uint32, doc []byte) ([]uint32, error) {
		return e.AppendEncodeOrdinary(dst, doc), nil
	})
	return out
}

// DocError is the error of one document of a batch.
type DocError struct {
	Doc int // index of the document in the batch
	Err error
}

func (e *DocError) Error() string { return "doc " + strconv.Itoa(e.Doc) + ": " + e.Err.Error() }
func (e *DocError) Unwrap() error { return e.Err }

// batch runs encode over docs on up to threads goroutines, each with its own
// Encoder, and returns the ids in the order of docs, or the error of the
// first failing document.
func (t *Tokenizer) batch(docs [][]byte, threads int, encode func(e *Encoder, dst []uint32, doc []byte) ([]uint32, error)) ([][]uint32, error) {
	out := make([][]uint32, len(docs))
	var (
		next   atomic.Int64 // next document to take
		failed atomic.Bool  // stop taking documents
		mu     sync.Mutex
		first  *DocError
		wg     sync.WaitGroup
	)
	for range min(max(threads, 1), len(docs)) {
		wg.Go(func() {
			e := t.pool.get(t)
			defer t.pool.put(e)
			var buf []uint32
			for !failed.Load() {
				// Documents are taken in index order, so when one fails all
				// before it have been taken and finish: the first failure
				// by index is always found.
				i := int(next.Add(1) - 1)
				if i >= len(docs) {
					return
				}
				var err error
				if buf, err = encode(e, buf[:0], docs[i]); err != nil {
					mu.Lock()
					if first == nil || i < first.Doc {
						first = &DocError{Doc: i, Err: err}
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
				out[i] = slices.Clone(buf)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// encoderPool keeps Encoders for the Tokenizer's own methods.
type encoderPool struct{ p sync.Pool }

func (p *encoderPool) get(t *Tokenizer) *Encoder {
	if e, ok := p.p.Get().(*Encoder); ok {
		return e
	}
	return t.NewEncoder()
}

func (p *encoderPool) put(e *Encoder) { p.p.Put(e) }
