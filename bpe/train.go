package bpe

// Training: learn merges from piece counts.
//
// Every piece starts as its bytes, one symbol each, and symbols 0..255 are the
// bytes. Each step finds the most frequent pair of adjacent symbols, counted
// over the distinct pieces weighted by how often each occurred, and replaces
// it everywhere by a new symbol, the next id. This is the greedy BPE of
// Sennrich et al., HF tokenizers' BpeTrainer and minbpe. The resulting ranks
// (bytes of each symbol -> id) encode with tiktoken's rule, lowest rank first
// inside each piece, which replays the training merges on the training pieces.
//
// Two trainers share that definition. trainSimple recounts every pair after
// every merge: short, obviously right, slow; it is the oracle. trainFast keeps
// the pair counts up to date by touching only the pieces that contain the
// merged pair, and finds the most frequent pair with a heap whose entries may
// be stale; tests hold its merges equal to trainSimple's.

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// TrainOptions are the optional settings of Train; the zero value is the
// default.
type TrainOptions struct {
	// MinCount stops training when the most frequent pair occurs fewer times
	// than this (HF's min_frequency). 0 or 1 merges any pair that occurs.
	MinCount int64
}

// TrainStats tell what Train did.
type TrainStats struct {
	Pieces     int    // distinct pieces trained on
	Merges     int    // merges made, each a new symbol
	Duplicates int    // merges whose bytes were already a token, so no new rank
	Stopped    string // why the vocabulary is smaller than asked; "" if it is not
}

// ErrVocabSize is returned when the vocabulary asked for cannot even hold the
// 256 bytes and the special tokens.
var ErrVocabSize = errors.New("vocab size too small")

// Train learns a byte-level BPE tokenizer of vocabSize tokens from piece
// counts: 256 byte tokens (rank = byte value), then one token per merge with
// the next rank, until there are vocabSize-len(specials) of them, then the
// special tokens with the ids that follow, in order. The tokenizer uses the
// pattern of the counts.
//
// A merge joins the most frequent pair of adjacent tokens. On equal counts
// the pair (left id, right id) that is smallest wins, so the result depends
// only on the counts. For example, the counts
//
//	"hug" 10, "pug" 5, "pun" 12, "bun" 4, "hugs" 5
//
// have the pairs ug 20, pu 17, un 16, hu 15, gs 5, bu 4, so "ug" becomes 256:
// [h ug] 10, [p ug] 5, [p u n] 12, [b u n] 4, [h ug s] 5. Now un 16 is the
// most frequent: "un" is 257, and next h+ug 15 gives "hug" 258. A vocabSize of
// 260 with specials ["<|endoftext|>"] stops there and gives the special id 259.
//
// When no pair is left to merge (or the best occurs fewer than
// opt.MinCount times) Train stops early and returns the smaller tokenizer;
// stats.Stopped says why. A merge that makes the bytes of an existing token
// adds no rank and is counted in stats.Duplicates (not seen on any corpus
// tried, but nothing rules out the same bytes being split differently in two
// pieces). opt may be nil.
func Train(counts *Counts, vocabSize int, specials []string, opt *TrainOptions) (*Tokenizer, *TrainStats, error) {
	if opt == nil {
		opt = &TrainOptions{}
	}
	if vocabSize < 256+len(specials) {
		return nil, nil, fmt.Errorf("train: %w: %d < 256 bytes + %d special tokens", ErrVocabSize, vocabSize, len(specials))
	}
	c, err := newCorpus(counts)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	v := newVocab(vocabSize - len(specials))
	stopped := trainFast(c, v, opt.MinCount)
	stats := &TrainStats{
		Pieces:     counts.Len(),
		Merges:     len(v.tok) - 256,
		Duplicates: len(v.tok) - len(v.ranks),
		Stopped:    stopped,
	}
	special := make(map[string]uint32, len(specials))
	for i, s := range specials {
		if s == "" {
			return nil, nil, fmt.Errorf("train: empty special token")
		}
		if _, dup := special[s]; dup {
			return nil, nil, fmt.Errorf("train: special token %q given twice", s)
		}
		special[s] = uint32(len(v.ranks) + i)
	}
	tok, err := NewTokenizer(v.ranks, special, counts.Pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return tok, stats, nil
}

// vocab grows the token table as merges are made. Symbol ids are 0..255 for
// the bytes and 256+i for merge i. Ranks are the same numbers unless a merge
// makes bytes that are already a token: that symbol keeps its own id while
// training, but gets no rank of its own.
type vocab struct {
	tok   [][]byte          // symbol id -> its bytes
	ranks map[string]uint32 // bytes -> rank
	want  int               // ranks wanted
}

func newVocab(want int) *vocab {
	v := &vocab{ranks: make(map[string]uint32, want), want: want}
	for b := range 256 {
		v.tok = append(v.tok, []byte{byte(b)})
		v.ranks[string([]byte{byte(b)})] = uint32(b)
	}
	return v
}

// add records the merge of symbols a and b and returns the new symbol.
func (v *vocab) add(a, b int32) int32 {
	t := slices.Concat(v.tok[a], v.tok[b])
	z := int32(len(v.tok))
	v.tok = append(v.tok, t)
	if _, dup := v.ranks[string(t)]; !dup {
		v.ranks[string(t)] = uint32(len(v.ranks))
	}
	return z
}

func (v *vocab) full() bool { return len(v.ranks) >= v.want }

// corpus holds the distinct pieces as symbol sequences in one flat array:
// piece w is sym[start[w] : start[w]+size[w]] and occurred n[w] times.
// Merging shortens a piece in place. Pieces of one byte have no pairs and are
// left out.
type corpus struct {
	sym   []int32
	start []int32
	size  []int32
	n     []int64
}

func newCorpus(counts *Counts) (*corpus, error) {
	c := &corpus{}
	nsym := 0
	for _, p := range counts.piece {
		if len(p) > 1 {
			nsym += len(p)
		}
	}
	if nsym > math.MaxInt32 {
		return nil, fmt.Errorf("distinct pieces hold %d bytes, more than %d", nsym, math.MaxInt32)
	}
	c.sym = make([]int32, 0, nsym)
	for i, p := range counts.piece {
		if len(p) < 2 {
			continue
		}
		c.start = append(c.start, int32(len(c.sym)))
		c.size = append(c.size, int32(len(p)))
		c.n = append(c.n, counts.n[i])
		for j := 0; j < len(p); j++ {
			c.sym = append(c.sym, int32(p[j]))
		}
	}
	return c, nil
}

func (c *corpus) word(w int32) []int32 { return c.sym[c.start[w] : c.start[w]+c.size[w]] }

// pairKey packs the pair (a, b) into one map key that orders like (a, b).
func pairKey(a, b int32) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

func pairOf(k uint64) (a, b int32) { return int32(k >> 32), int32(uint32(k)) }

// countPairs adds n for every adjacent pair of ids to counts. Overlapping
// pairs all count: [1 2 3 1 2] with n=10 adds (1,2) 20, (2,3) 10, (3,1) 10,
// and [7 7 7] with n=1 adds (7,7) 2.
func countPairs(counts map[uint64]int64, ids []int32, n int64) {
	for i := 0; i+1 < len(ids); i++ {
		counts[pairKey(ids[i], ids[i+1])] += n
	}
}

// mergePair replaces every (a, b) in ids by z, left to right, in place, and
// returns the shortened slice: [1 2 3 1 2] with (1,2)->4 gives [4 3 4], and
// [7 7 7] with (7,7)->8 gives [8 7].
func mergePair(ids []int32, a, b, z int32) []int32 {
	j := 0
	for i := 0; i < len(ids); i++ {
		if ids[i] == a && i+1 < len(ids) && ids[i+1] == b {
			ids[j] = z
			i++
		} else {
			ids[j] = ids[i]
		}
		j++
	}
	return ids[:j]
}

// bestPair returns the most frequent pair, the smallest (a, b) on equal counts.
func bestPair(counts map[uint64]int64) (key uint64, n int64) {
	for k, c := range counts {
		if c > n || c == n && k < key {
			key, n = k, c
		}
	}
	return key, n
}

// stopReason says why training ends with the best pair counted n times, or ""
// if it goes on.
func stopReason(n, minCount int64) string {
	switch {
	case n == 0:
		return "no pair left to merge: every piece is a single token"
	case n < minCount:
		return fmt.Sprintf("the most frequent pair occurs %d times, fewer than the minimum %d", n, minCount)
	}
	return ""
}

// trainSimple is the oracle: recount all pairs, merge the best, repeat. It
// merges until v is full and returns why it stopped short, or "".
func trainSimple(c *corpus, v *vocab, minCount int64) string {
	for !v.full() {
		counts := make(map[uint64]int64)
		for w := range c.n {
			countPairs(counts, c.word(int32(w)), c.n[w])
		}
		k, n := bestPair(counts)
		if why := stopReason(n, minCount); why != "" {
			return why
		}
		a, b := pairOf(k)
		z := v.add(a, b)
		for w := range c.n {
			c.size[w] = int32(len(mergePair(c.word(int32(w)), a, b, z)))
		}
	}
	return ""
}

// pairStats are trainFast's incremental pair counts.
//
// Every pair seen gets an entry in pairs, found through index: one hash
// lookup per update of a count and its list. An entry's count is the exact
// count of its pair, zero once the pair is gone. where lists, for each pair,
// the pieces that contained it when it appeared in them: a superset of the
// pieces that contain it now (a merge may have used it up since), so merging
// walks the list and skips pieces where the pair is gone. A pair is only ever
// created in the step that creates the larger of its two symbols, so a list
// is only appended to during one step, piece by piece, and checking its last
// entry is enough to keep it free of repeats.
//
// queue holds (count, pair) entries ordered most frequent first, smallest pair
// first on equal counts. An entry's count may be stale, but never below the
// pair's current count: counts of existing pairs only fall, and new pairs are
// pushed at the end of the step that made them. So when the top entry's count
// is current it is the best pair; otherwise it is fixed and sunk back.
type pairStats struct {
	index pairIndex // pair -> its entry in pairs
	pairs []pairInfo
	queue pairQueue
	fresh []int32 // entries of pairs that appeared during this step, to push at its end
}

type pairInfo struct {
	key   uint64 // pairKey(a, b)
	count int64
	where []int32 // pieces, in order, that held the pair when it appeared in them
}

// trainFast makes the same merges as trainSimple, updating pair counts only
// in the pieces that contain the merged pair.
func trainFast(c *corpus, v *vocab, minCount int64) string {
	s := &pairStats{}
	for w := range c.n {
		ids := c.word(int32(w))
		for i := 0; i+1 < len(ids); i++ {
			p := &s.pairs[s.entry(pairKey(ids[i], ids[i+1]))]
			p.count += c.n[w]
			if len(p.where) == 0 || p.where[len(p.where)-1] != int32(w) {
				p.where = append(p.where, int32(w))
			}
		}
	}
	s.queue = make(pairQueue, len(s.pairs))
	for i, p := range s.pairs {
		s.queue[i] = pairEntry{p.count, p.key, int32(i)}
	}
	s.queue.init()

	for !v.full() {
		i, n := s.best()
		if why := stopReason(n, minCount); why != "" {
			return why
		}
		k := s.pairs[i].key
		a, b := pairOf(k)
		z := v.add(a, b)
		for _, w := range s.pairs[i].where {
			s.merge(c, w, k, a, b, z)
		}
		s.pairs[i].count, s.pairs[i].where = 0, nil
		for _, j := range s.fresh {
			// A pair may be in fresh twice (it fell to 0 and came back); its
			// second entry is dropped when popped after the pair is merged.
			if p := &s.pairs[j]; p.count > 0 {
				s.queue.push(pairEntry{p.count, p.key, j})
			}
		}
		s.fresh = s.fresh[:0]
	}
	return ""
}

// entry returns the index in s.pairs of pair key, adding a zero entry for a
// pair never seen.
func (s *pairStats) entry(key uint64) int32 {
	slot := s.index.slot(key)
	if slot.key != 0 {
		return slot.val
	}
	i := int32(len(s.pairs))
	*slot = indexSlot{key + 1, i}
	s.index.added() // may move the slots
	s.pairs = append(s.pairs, pairInfo{key: key})
	return i
}

// best pops the most frequent pair, 0 counts when none is left.
func (s *pairStats) best() (int32, int64) {
	for len(s.queue) > 0 {
		top := s.queue[0]
		n := s.pairs[top.i].count
		switch {
		case n == top.n:
			s.queue.pop()
			return top.i, n
		case n == 0:
			s.queue.pop()
		default:
			s.queue[0].n = n
			s.queue.down(0)
		}
	}
	return -1, 0
}

// merge replaces (a, b) by z in piece w, as mergePair does, and moves the
// counts of the neighbouring pairs: in [p a b q] the pairs (p,a) and (b,q)
// lose the piece's count and (p,z) and (z,q) gain it. The left neighbour is
// read after its own merge, so [a b a b] goes through (z,a) to (z,z). The
// merged pair k itself is not counted down: it is cleared after the step.
func (s *pairStats) merge(c *corpus, w int32, k uint64, a, b, z int32) {
	ids := c.word(w)
	n := c.n[w]
	j := 0
	for i := 0; i < len(ids); i++ {
		if ids[i] != a || i+1 == len(ids) || ids[i+1] != b {
			ids[j] = ids[i]
			j++
			continue
		}
		if j > 0 {
			p := ids[j-1]
			s.sub(pairKey(p, a), k, n)
			s.add(pairKey(p, z), n, w)
		}
		if i+2 < len(ids) {
			q := ids[i+2]
			s.sub(pairKey(b, q), k, n)
			s.add(pairKey(z, q), n, w)
		}
		ids[j] = z
		j++
		i++
	}
	c.size[w] = int32(j)
}

func (s *pairStats) sub(key, merged uint64, n int64) {
	if key == merged {
		return
	}
	p := &s.pairs[s.index.slot(key).val]
	if p.count -= n; p.count <= 0 {
		p.count, p.where = 0, nil
	}
}

func (s *pairStats) add(key uint64, n int64, w int32) {
	i := s.entry(key)
	p := &s.pairs[i]
	p.count += n
	if len(p.where) == 0 {
		s.fresh = append(s.fresh, i)
	}
	if len(p.where) == 0 || p.where[len(p.where)-1] != w {
		p.where = append(p.where, w)
	}
}

// pairIndex maps pairs to their entries: an open-addressing hash table
// (linear probing) that never deletes. With it in place of a Go map the
// training loop takes about 15% less time.
type pairIndex struct {
	slots []indexSlot
	shift uint // 64 - log2(len(slots))
	n     int  // keys held
}

type indexSlot struct {
	key uint64 // pair key + 1; 0 is an empty slot
	val int32
}

// slot returns the slot of key: the one that holds it, or the empty slot
// where it goes (which added must follow once it is filled).
func (x *pairIndex) slot(key uint64) *indexSlot {
	if x.slots == nil {
		x.slots, x.shift = make([]indexSlot, 1<<10), 64-10
	}
	mask := uint64(len(x.slots) - 1)
	for i := (key * mulA) >> x.shift; ; i = (i + 1) & mask {
		if s := &x.slots[i]; s.key == key+1 || s.key == 0 {
			return s
		}
	}
}

// added counts a key put in a slot, and grows the table past three
// quarters full.
func (x *pairIndex) added() {
	if x.n++; 4*x.n <= 3*len(x.slots) {
		return
	}
	old := x.slots
	x.slots, x.shift = make([]indexSlot, 2*len(old)), x.shift-1
	for _, s := range old {
		if s.key != 0 {
			*x.slot(s.key - 1) = s
		}
	}
}

type pairEntry struct {
	n   int64
	key uint64
	i   int32 // the pair's entry in pairStats.pairs
}

// pairQueue is a binary heap of pairs, most frequent first, the smallest
// pair first on equal counts.
type pairQueue []pairEntry

func (q pairQueue) less(i, j int) bool {
	return q[i].n > q[j].n || q[i].n == q[j].n && q[i].key < q[j].key
}

func (q pairQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (q *pairQueue) push(e pairEntry) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *pairQueue) pop() {
	h := *q
	last := len(h) - 1
	h[0] = h[last]
	*q = h[:last]
	q.down(0)
}

// down sinks entry i to its place.
func (q pairQueue) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(q) {
			return
		}
		if c+1 < len(q) && q.less(c+1, c) {
			c++
		}
		if !q.less(c, i) {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}
