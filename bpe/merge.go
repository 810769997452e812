package bpe

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// noRank marks a pair of parts whose concatenation is not a token.
const noRank = ^uint32(0)

// mergeSimple is the reference byte pair merge, written for clarity; the
// fast merges below must return the same ids (tests hold them equal).
//
// The piece starts as one part per byte. While some pair of adjacent parts
// concatenates to a token, the pair with the lowest rank is merged into one
// part, the leftmost such pair when the same token occurs twice. The ids of
// the final parts are the result. With the ranks
//
//	a=0 b=1 c=2 ab=3 bc=4 abc=5 aa=6
//
// "abcab" goes [a b c a b] -> [ab c a b] (ab=3 is the lowest, leftmost)
// -> [ab c ab] -> [abc ab] (abc=5; "cab" and "ca" are not tokens) and
// encodes to [5 3]; "aaa" goes [a a a] -> [aa a] and encodes to [6 0].
//
// It panics if a single byte of piece is not a token, as tiktoken does;
// NewTokenizer refuses such vocabularies.
func mergeSimple(ranks map[string]uint32, piece []byte) []uint32 {
	parts := make([][]byte, len(piece))
	for i := range piece {
		parts[i] = piece[i : i+1]
	}
	for {
		best, at := noRank, -1
		for i := 0; i+1 < len(parts); i++ {
			pair := piece[offset(piece, parts[i]) : offset(piece, parts[i+1])+len(parts[i+1])]
			if r, ok := ranks[string(pair)]; ok && r < best {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		merged := piece[offset(piece, parts[at]) : offset(piece, parts[at+1])+len(parts[at+1])]
		parts = append(parts[:at], append([][]byte{merged}, parts[at+2:]...)...)
	}
	ids := make([]uint32, len(parts))
	for i, p := range parts {
		id, ok := ranks[string(p)]
		if !ok {
			panic("bpe: byte " + string(p) + " is not a token")
		}
		ids[i] = id
	}
	return ids
}

// offset is the position of the subslice sub inside s.
func offset(s, sub []byte) int { return cap(s) - cap(sub) }

// rankTable finds the rank of a byte string. It is an open-addressing hash
// table (linear probing) tuned for the short keys that dominate encoding:
// keys of up to 8 bytes are stored inline (little-endian, zero padded) and
// compare as one word; longer keys store their hash and are checked against
// the token bytes in the decode arena. A byte of hash bits per slot, in an
// array of its own that stays in cache, answers most failed lookups (the
// bulk of the merge steps) without touching the slots. Two-byte keys, the
// first step of every merge, also have a direct table.
type rankTable struct {
	tags  []uint8 // per slot: 0 if empty, else tagOf(hash)
	slots []slot
	shift uint     // 64 - log2(len(slots)): slot index is the hash's top bits
	pair  []uint32 // (b0<<8 | b1) -> rank of the two-byte token, or noRank
	byte1 [256]uint32
	dec   *decoder // token bytes of long keys
}

type slot struct {
	word uint64 // the key's bytes (len <= 8) or its hash (len > 8)
	id   uint32
	n    uint32 // key length; 0 in an empty slot
}

const (
	mulA = 0x9e3779b97f4a7c15
	mulB = 0xd6e8feb86659fd93
)

// hashKey returns the word stored for b and the hash that places it (its
// top bits index the table).
func hashKey(b []byte) (word, h uint64) {
	if n := len(b); n <= 8 && cap(b) >= 8 {
		w := loadWord(b)
		return w, shortHash(w, n)
	}
	return hashKeySlow(b)
}

// loadWord returns the bytes of b (len(b) <= 8 <= cap(b)) as a little-endian
// word, zero padded: it reads 8 bytes, which b's capacity allows, and masks
// off those past len(b). Encoding clips the text's capacity, so that these
// bytes are the text's own.
func loadWord(b []byte) uint64 {
	return binary.LittleEndian.Uint64(b[:8]) & (^uint64(0) >> (64 - 8*len(b)))
}

// shortHash is the hash of a key of n <= 8 bytes whose word is w.
func shortHash(w uint64, n int) uint64 { return (w ^ uint64(n)*mulB) * mulA }

func hashKeySlow(b []byte) (word, h uint64) {
	n := len(b)
	if n <= 8 {
		// Near the end of the text: gather the bytes one way or another.
		var w uint64
		switch {
		case n >= 4:
			// Two overlapping 4-byte reads; the shared bytes OR onto themselves.
			lo := uint64(binary.LittleEndian.Uint32(b))
			hi := uint64(binary.LittleEndian.Uint32(b[n-4:]))
			w = lo | hi<<(8*(n-4))
		case n > 0:
			w = uint64(b[0]) | uint64(b[n/2])<<(8*(n/2)) | uint64(b[n-1])<<(8*(n-1))
		}
		return w, shortHash(w, n)
	}
	h = uint64(n) * mulB
	for i := 0; i+8 < n; i += 8 {
		hi, lo := bits.Mul64(binary.LittleEndian.Uint64(b[i:])^mulA, h^mulB)
		h = hi ^ lo
	}
	// The last 8 bytes, overlapping the last full word read.
	hi, lo := bits.Mul64(binary.LittleEndian.Uint64(b[n-8:])^mulB, h^mulA)
	h = (hi ^ lo) * mulA
	return h, h
}

// newRankTable builds the table of the tokens of l. It returns the index in
// l of a token that an earlier one already is, or -1.
func newRankTable(l *rankList, dec *decoder) (*rankTable, int) {
	size := 1
	for size < 2*len(l.id) {
		size <<= 1
	}
	size = max(size, 16)
	t := &rankTable{
		tags:  make([]uint8, size),
		slots: make([]slot, size),
		shift: uint(64 - bits.TrailingZeros(uint(size))),
		pair:  make([]uint32, 1<<16),
		dec:   dec,
	}
	for i := range t.pair {
		t.pair[i] = noRank
	}
	for i := range t.byte1 {
		t.byte1[i] = noRank
	}
	// Insert in rank order: low ranks are the frequent tokens (BPE learns
	// them first), and the first inserted get the first slot they probe.
	mask := uint64(size - 1)
	for k, id := range l.id {
		s := l.token(k)
		switch len(s) {
		case 1:
			t.byte1[s[0]] = id
		case 2:
			t.pair[uint16(s[0])<<8|uint16(s[1])] = id
		}
		w, h := hashKey(s)
		tag := t.tagOf(h)
		i := h >> t.shift
		for ; t.tags[i] != 0; i = (i + 1) & mask {
			if o := &t.slots[i]; t.tags[i] == tag && o.word == w && o.n == uint32(len(s)) &&
				(len(s) <= 8 || bytes.Equal(dec.token(o.id), s)) {
				return nil, k
			}
		}
		t.tags[i] = tag
		t.slots[i] = slot{word: w, id: id, n: uint32(len(s))}
	}
	return t, -1
}

// rank returns the id of the token b, or noRank.
func (t *rankTable) rank(b []byte) uint32 {
	w, h := hashKey(b)
	return t.find(b, w, h)
}

// tagOf is the tag of hash h: the 7 bits below those that index the table,
// and a set top bit to tell it from an empty slot.
func (t *rankTable) tagOf(h uint64) uint8 { return uint8(h>>(t.shift-7)) | 0x80 }

// find is rank with the key's hashKey already computed.
func (t *rankTable) find(b []byte, w, h uint64) uint32 {
	n := uint32(len(b))
	tag := t.tagOf(h)
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		switch g := t.tags[i]; g {
		case 0:
			return noRank
		case tag:
			s := &t.slots[i]
			if s.word == w && s.n == n && (n <= 8 || bytes.Equal(t.dec.token(s.id), b)) {
				return s.id
			}
		}
	}
}

// maxShort is the longest piece merged by the linear scan; longer pieces use
// the heap, whose O(n log n) beats the scan's O(n^2) there.
const maxShort = 32

// shortMerge holds the parts of mergeShort, reused across pieces.
type shortMerge struct {
	parts [maxShort + 1]shortPart // parts[m].start = len(piece)
}

// shortPart is one part of a piece being merged. The three fields of a part
// move together when a merge closes the gap: one copy, not three.
type shortPart struct {
	start int32  // its first byte
	rank  uint32 // the rank of it and the next part merged, or noRank
	id    uint32 // its token
}

// mergeShort appends the ids of piece (2 <= len <= maxShort) to dst. It is
// tiktoken's byte_pair_merge: parts live in a small array, each step scans
// for the lowest pair rank (leftmost on ties) and closes the gap. A part's id
// is the rank of the pair that formed it, so no lookups are needed at the
// end.
func (t *rankTable) mergeShort(s *shortMerge, dst []uint32, piece []byte) []uint32 {
	p := s.parts[:]
	m := len(piece)
	for i := 0; i+1 < m; i++ {
		p[i] = shortPart{int32(i), t.pair[uint16(piece[i])<<8|uint16(piece[i+1])], t.byte1[piece[i]]}
	}
	p[m-1] = shortPart{int32(m - 1), noRank, t.byte1[piece[m-1]]}
	p[m].start = int32(m)
	for {
		best, i := noRank, -1
		for k := range m - 1 {
			if r := p[k].rank; r < best {
				best, i = r, k
			}
		}
		if i < 0 {
			break
		}
		// Merge parts i and i+1 into part i.
		p[i].id = best
		copy(p[i+1:m], p[i+2:m+1])
		m--
		p[m-1].rank = noRank
		if i+1 < m {
			p[i].rank = t.rank(piece[p[i].start:p[i+2].start])
		}
		if i > 0 {
			p[i-1].rank = t.rank(piece[p[i-1].start:p[i+1].start])
		}
	}
	for _, q := range p[:m] {
		dst = append(dst, q.id)
	}
	return dst
}

// heapMerge holds the scratch of mergeLong, reused across pieces.
type heapMerge struct {
	next, prev []int32  // linked list of live parts, indexed by start byte
	rank, id   []uint32 // rank of the pair starting at a part; the part's id
	heap       []uint64 // (rank<<32 | start) of candidate pairs, a min-heap
}

// mergeLong appends the ids of piece to dst, with the same result as
// mergeShort. Parts form a linked list keyed by their start byte; candidate
// pairs wait in a min-heap ordered by (rank, start), which is tiktoken's
// "lowest rank, then leftmost" order. A popped entry is stale when its part
// has been merged away or its pair changed (a changed pair is a longer byte
// string, so it has a different rank).
func (t *rankTable) mergeLong(h *heapMerge, dst []uint32, piece []byte) []uint32 {
	n := len(piece)
	h.next = resize(h.next, n)
	h.prev = resize(h.prev, n)
	h.rank = resize(h.rank, n)
	h.id = resize(h.id, n)
	h.heap = h.heap[:0]
	for i := 0; i < n; i++ {
		h.next[i] = int32(i + 1)
		h.prev[i] = int32(i - 1)
		h.id[i] = t.byte1[piece[i]]
		h.rank[i] = noRank
		if i+1 < n {
			h.rank[i] = t.pair[uint16(piece[i])<<8|uint16(piece[i+1])]
			if h.rank[i] != noRank {
				h.heap = append(h.heap, uint64(h.rank[i])<<32|uint64(i))
			}
		}
	}
	heapify(h.heap)
	// pairRank is the rank of part i merged with its successor.
	pairRank := func(i int32) uint32 {
		j := h.next[i]
		if j >= int32(n) {
			return noRank
		}
		end := int32(n)
		if h.next[j] < int32(n) {
			end = h.next[j]
		}
		return t.rank(piece[i:end])
	}
	for len(h.heap) > 0 {
		e := h.heap[0]
		h.heap = popMin(h.heap)
		r, i := uint32(e>>32), int32(uint32(e))
		if h.rank[i] != r {
			continue // stale
		}
		j := h.next[i]
		h.id[i] = r
		h.next[i] = h.next[j]
		if h.next[j] < int32(n) {
			h.prev[h.next[j]] = i
		}
		h.rank[j] = noRank // j is gone
		if h.rank[i] = pairRank(i); h.rank[i] != noRank {
			h.heap = push(h.heap, uint64(h.rank[i])<<32|uint64(i))
		}
		if p := h.prev[i]; p >= 0 {
			if h.rank[p] = pairRank(p); h.rank[p] != noRank {
				h.heap = push(h.heap, uint64(h.rank[p])<<32|uint64(p))
			}
		}
	}
	for i := int32(0); i < int32(n); i = h.next[i] {
		dst = append(dst, h.id[i])
	}
	return dst
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func heapify(h []uint64) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
}

func push(h []uint64, x uint64) []uint64 {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func popMin(h []uint64) []uint64 {
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	down(h, 0)
	return h
}

func down(h []uint64, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if h[i] <= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
