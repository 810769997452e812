package bpe

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EndOfText is the special token that separates documents in OpenAI's
// encodings; look its id up with SpecialID.
const EndOfText = "<|endoftext|>"

// Tokenizer encodes text to token ids and decodes ids to bytes. It is
// immutable once built and safe for concurrent use.
type Tokenizer struct {
	pattern  string            // pattern name (gpt2, cl100k, o200k) or regex
	splitter Splitter          // cuts ordinary text into pieces
	special  map[string]uint32 // special token text -> id

	table    *rankTable     // fast rank lookup for encoding
	dec      *decoder       // id -> bytes, ordinary and special tokens
	nranks   int            // number of ordinary tokens
	rankIDs  []uint32       // their ids in increasing order; nil when they are 0..nranks-1
	specials []specialToken // sorted by text; Encoder masks index this
	// byFirst[c] lists the indexes into specials of the tokens starting
	// with byte c, longest first.
	byFirst [256][]int
	// firstByte is the only first byte of all special tokens, or -1 when
	// they start with different bytes (or there are none).
	firstByte int
	pool      encoderPool

	ranksOnce sync.Once
	ranks     map[string]uint32 // token bytes -> rank (= id), made by Ranks
	fpOnce    sync.Once
	fp        string // Fingerprint's result, made on first use
	fpErr     error
}

type specialToken struct {
	text string
	id   uint32
}

// NewTokenizer builds a tokenizer from mergeable ranks (token bytes to id),
// special tokens (text to id) and a pre-split pattern name or regex.
//
// Every single byte must be an ordinary token, so that any byte string can be
// encoded; ids must be unique across ordinary and special tokens, and no token
// may be empty or both ordinary and special.
func NewTokenizer(ranks map[string]uint32, special map[string]uint32, pattern string) (*Tokenizer, error) {
	type entry struct {
		tok string
		id  uint32
	}
	es := make([]entry, 0, len(ranks))
	size := 0
	for s, id := range ranks {
		es = append(es, entry{s, id})
		size += len(s)
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Or(cmp.Compare(a.id, b.id), strings.Compare(a.tok, b.tok)) })
	l := &rankList{arena: make([]byte, 0, size), start: make([]uint32, 1, len(es)+1), id: make([]uint32, 0, len(es))}
	for i, e := range es {
		if e.tok == "" {
			return nil, fmt.Errorf("empty token (id %d)", e.id)
		}
		if i > 0 && es[i-1].id == e.id {
			return nil, fmt.Errorf("tokens %q and %q share id %d", es[i-1].tok, e.tok, e.id)
		}
		l.arena = append(l.arena, e.tok...)
		l.start = append(l.start, uint32(len(l.arena)))
		l.id = append(l.id, e.id)
	}
	t, err := newTokenizer(l, special, pattern)
	if err != nil {
		return nil, err
	}
	t.ranksOnce.Do(func() { t.ranks = ranks })
	return t, nil
}

// newTokenizer is NewTokenizer for ordinary tokens given as a rankList. A
// token given twice in a list from a file is reported as duplicateError
// reports it, naming the line.
func newTokenizer(l *rankList, special map[string]uint32, pattern string) (*Tokenizer, error) {
	sp, err := NewSplitter(pattern)
	if err != nil {
		return nil, err
	}
	n := len(l.id)
	if n > 0 && l.id[n-1] == noRank {
		return nil, fmt.Errorf("token %q: id %d is reserved", l.token(n-1), noRank)
	}
	if special == nil {
		special = map[string]uint32{}
	}
	t := &Tokenizer{pattern: pattern, splitter: sp, special: special, nranks: n, firstByte: -1}
	if n > 0 && int(l.id[n-1]) != n-1 {
		t.rankIDs = l.id // ids with gaps
	}
	for s, id := range special {
		if s == "" {
			return nil, fmt.Errorf("empty special token (id %d)", id)
		}
		if id == noRank {
			return nil, fmt.Errorf("special token %q: id %d is reserved", s, id)
		}
		t.specials = append(t.specials, specialToken{s, id})
	}
	slices.SortFunc(t.specials, func(a, b specialToken) int { return strings.Compare(a.text, b.text) })
	if t.dec, err = newDecoder(l, t.specials); err != nil {
		return nil, err
	}
	table, dup := newRankTable(l, t.dec)
	if dup >= 0 {
		if l.line != nil {
			if err := l.duplicateError(); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("token %q given twice", l.token(dup))
	}
	t.table = table
	for c := 0; c < 256; c++ {
		if table.byte1[c] == noRank {
			return nil, fmt.Errorf("byte 0x%02x is not a token", c)
		}
	}
	for i, s := range t.specials {
		if table.rank([]byte(s.text)) != noRank {
			return nil, fmt.Errorf("special token %q is also an ordinary token", s.text)
		}
		c := s.text[0]
		t.byFirst[c] = append(t.byFirst[c], i)
		if i == 0 {
			t.firstByte = int(c)
		} else if t.firstByte != int(c) {
			t.firstByte = -1
		}
	}
	for c := range t.byFirst {
		slices.SortStableFunc(t.byFirst[c], func(i, j int) int {
			return len(t.specials[j].text) - len(t.specials[i].text)
		})
	}
	return t, nil
}

// withPattern returns a tokenizer with t's tokens and another pattern,
// sharing t's tables.
func (t *Tokenizer) withPattern(pattern string) (*Tokenizer, error) {
	sp, err := NewSplitter(pattern)
	if err != nil {
		return nil, err
	}
	return &Tokenizer{
		pattern: pattern, splitter: sp, special: t.special,
		table: t.table, dec: t.dec, nranks: t.nranks, rankIDs: t.rankIDs,
		specials: t.specials, byFirst: t.byFirst, firstByte: t.firstByte,
	}, nil
}

// eachRank calls fn with the id and bytes of every ordinary token, in rank
// order.
func (t *Tokenizer) eachRank(fn func(id uint32, tok []byte)) {
	if t.rankIDs == nil {
		for id := range uint32(t.nranks) {
			fn(id, t.dec.token(id))
		}
		return
	}
	for _, id := range t.rankIDs {
		fn(id, t.dec.token(id))
	}
}

// Pattern returns the pre-split pattern name or regex.
func (t *Tokenizer) Pattern() string { return t.pattern }

// Ranks returns the mergeable ranks; callers must not modify the map. The
// map is made on the first call (encoding needs none).
func (t *Tokenizer) Ranks() map[string]uint32 {
	t.ranksOnce.Do(func() {
		m := make(map[string]uint32, t.nranks)
		t.eachRank(func(id uint32, tok []byte) { m[string(tok)] = id })
		t.ranks = m
	})
	return t.ranks
}

// Special returns the special tokens; callers must not modify the map.
func (t *Tokenizer) Special() map[string]uint32 { return t.special }

// VocabSize returns the largest id, ordinary or special, plus one: the size
// of an embedding table indexed by these ids.
func (t *Tokenizer) VocabSize() int { return len(t.dec.start) - 1 }

// SpecialID returns the id of a special token, e.g. EndOfText.
func (t *Tokenizer) SpecialID(name string) (uint32, bool) {
	id, ok := t.special[name]
	return id, ok
}

// ErrUnknownID is matched (errors.Is) by decode errors about an id that is
// neither an ordinary nor a special token.
var ErrUnknownID = errors.New("unknown token id")

// DecodeToken returns the bytes of one token, ordinary or special (its text).
// The slice is shared: callers must not modify it.
func (t *Tokenizer) DecodeToken(id uint32) ([]byte, error) {
	b := t.dec.token(id)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w %d", ErrUnknownID, id)
	}
	return b, nil
}

// Decode returns the bytes of ids concatenated; special tokens decode to
// their text. Decode(EncodeOrdinary(x)) == x for every byte string x.
func (t *Tokenizer) Decode(ids []uint32) ([]byte, error) {
	return t.AppendDecode(nil, ids)
}

// AppendDecode appends the bytes of ids to dst. On an unknown id it returns
// dst with the tokens before it appended, and an error naming the id and its
// position.
func (t *Tokenizer) AppendDecode(dst []byte, ids []uint32) ([]byte, error) {
	for i, id := range ids {
		b := t.dec.token(id)
		if len(b) == 0 {
			return dst, fmt.Errorf("%w %d at position %d", ErrUnknownID, id, i)
		}
		dst = append(dst, b...)
	}
	return dst, nil
}

// decoder maps ids to token bytes: token id is arena[start[id]:start[id+1]],
// empty for an id that no token has.
type decoder struct {
	arena []byte
	start []uint32
}

// newDecoder builds the decoder of the ordinary tokens of l and the special
// tokens, refusing an id given to two of them. When the ordinary ids are
// 0..n-1 and the special ids follow, l's arena and offsets become the
// decoder's as they are.
func newDecoder(l *rankList, specials []specialToken) (*decoder, error) {
	sp := slices.Clone(specials)
	slices.SortFunc(sp, func(a, b specialToken) int { return cmp.Or(cmp.Compare(a.id, b.id), strings.Compare(a.text, b.text)) })
	for i := 1; i < len(sp); i++ {
		if sp[i].id == sp[i-1].id {
			return nil, fmt.Errorf("special token %q has id %d, already the id of %q", sp[i].text, sp[i].id, sp[i-1].text)
		}
	}
	n := len(l.id)
	if (n == 0 || int(l.id[n-1]) == n-1) && (len(sp) == 0 || int(sp[0].id) >= n) {
		d := &decoder{arena: l.arena, start: l.start[:n+1]}
		for _, s := range sp {
			for uint32(len(d.start)-1) < s.id {
				d.start = append(d.start, uint32(len(d.arena))) // an id without a token
			}
			d.arena = append(d.arena, s.text...)
			d.start = append(d.start, uint32(len(d.arena)))
		}
		return d, nil
	}
	size := 0
	if n > 0 {
		size = int(l.id[n-1]) + 1
	}
	if len(sp) > 0 {
		size = max(size, int(sp[len(sp)-1].id)+1)
	}
	d := &decoder{arena: make([]byte, 0, len(l.arena)), start: make([]uint32, size+1)}
	i, j := 0, 0 // next ordinary, next special
	for id := 0; id < size; id++ {
		d.start[id] = uint32(len(d.arena))
		if i < n && int(l.id[i]) == id {
			if j < len(sp) && int(sp[j].id) == id {
				return nil, fmt.Errorf("special token %q has id %d, already the id of %q", sp[j].text, id, l.token(i))
			}
			d.arena = append(d.arena, l.token(i)...)
			i++
		} else if j < len(sp) && int(sp[j].id) == id {
			d.arena = append(d.arena, sp[j].text...)
			j++
		}
	}
	d.start[size] = uint32(len(d.arena))
	return d, nil
}

func (d *decoder) token(id uint32) []byte {
	if int(id)+1 >= len(d.start) {
		return nil
	}
	return d.arena[d.start[id]:d.start[id+1]]
}

// SpecialSet says which special tokens Encode turns into their ids: all of
// them, none, or the named ones. The zero value is none.
type SpecialSet struct {
	all   bool
	names []string // sorted, without duplicates; ignored when all
}

// AllSpecial allows every special token of the tokenizer.
func AllSpecial() SpecialSet { return SpecialSet{all: true} }

// NoSpecial allows no special token; it is the zero SpecialSet.
func NoSpecial() SpecialSet { return SpecialSet{} }

// SpecialTokens allows the named special tokens.
func SpecialTokens(names ...string) SpecialSet {
	s := slices.Clone(names)
	slices.Sort(s)
	return SpecialSet{names: slices.Compact(s)}
}

// ParseSpecialSet parses the command-line syntax: "all", "none", or a
// comma-separated list of special tokens such as "<|endoftext|>,<|fim_prefix|>".
// Tokens containing a comma cannot be named this way.
func ParseSpecialSet(s string) (SpecialSet, error) {
	switch s {
	case "all":
		return AllSpecial(), nil
	case "none":
		return NoSpecial(), nil
	case "":
		return SpecialSet{}, errors.New(`empty special token set (want "all", "none" or TOK1,TOK2)`)
	}
	names := strings.Split(s, ",")
	if slices.Contains(names, "") {
		return SpecialSet{}, fmt.Errorf("special token set %q: empty token name", s)
	}
	return SpecialTokens(names...), nil
}

// Allows reports whether the set contains the special token name.
func (s SpecialSet) Allows(name string) bool {
	if s.all {
		return true
	}
	_, ok := slices.BinarySearch(s.names, name)
	return ok
}

// String returns the set in ParseSpecialSet's syntax.
func (s SpecialSet) String() string {
	switch {
	case s.all:
		return "all"
	case len(s.names) == 0:
		return "none"
	}
	return strings.Join(s.names, ",")
}

// ErrDisallowedSpecial is matched (errors.Is) by a *SpecialError.
var ErrDisallowedSpecial = errors.New("disallowed special token")

// SpecialError is the text of a special token found in input where that
// token is not allowed (tiktoken's disallowed_special check).
type SpecialError struct {
	Token  string // the special token
	Offset int    // byte offset of its text in the input
}

func (e *SpecialError) Error() string {
	return "disallowed special token " + strconv.Quote(e.Token) + " at byte " + strconv.Itoa(e.Offset)
}

// Is makes errors.Is(err, ErrDisallowedSpecial) true for a *SpecialError.
func (e *SpecialError) Is(target error) bool { return target == ErrDisallowedSpecial }

// resolve returns, per index of t.specials, whether s allows that token. A
// name in s that is not a special token of t is an error: a typo there would
// otherwise let the token's text through as plain text.
func (t *Tokenizer) resolve(dst []bool, s SpecialSet) ([]bool, error) {
	dst = resize(dst, len(t.specials))
	for i := range dst {
		dst[i] = s.all
	}
	for _, name := range s.names {
		if s.all {
			break
		}
		i, ok := slices.BinarySearchFunc(t.specials, name, func(st specialToken, n string) int {
			return strings.Compare(st.text, n)
		})
		if !ok {
			return dst, fmt.Errorf("unknown special token %q", name)
		}
		dst[i] = true
	}
	return dst, nil
}
