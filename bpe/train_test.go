package bpe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func countsOf(pattern string, pieces map[string]int64) *Counts {
	c := NewCounts(pattern)
	for p, n := range pieces {
		c.AddPiece([]byte(p), n)
	}
	return c
}

func TestTrainWorkedExample(t *testing.T) {
	// The example of Train's doc comment.
	c := countsOf("gpt2", map[string]int64{"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5})
	tok, stats, err := Train(c, 260, []string{"<|endoftext|>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ranks := tok.Ranks()
	for s, want := range map[string]uint32{"a": 'a', "ug": 256, "un": 257, "hug": 258} {
		if got, ok := ranks[s]; !ok || got != want {
			t.Errorf("rank of %q = %d, %v; want %d", s, got, ok, want)
		}
	}
	if len(ranks) != 259 || tok.Special()["<|endoftext|>"] != 259 {
		t.Errorf("%d ranks, special %d; want 259, 259", len(ranks), tok.Special()["<|endoftext|>"])
	}
	if *stats != (TrainStats{Pieces: 5, Merges: 3}) {
		t.Errorf("stats %+v", *stats)
	}
}

func TestCountPairsMergePair(t *testing.T) {
	// The examples of the helpers' doc comments.
	counts := map[uint64]int64{}
	countPairs(counts, []int32{1, 2, 3, 1, 2}, 10)
	countPairs(counts, []int32{7, 7, 7}, 1)
	want := map[uint64]int64{pairKey(1, 2): 20, pairKey(2, 3): 10, pairKey(3, 1): 10, pairKey(7, 7): 2}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("countPairs: %v, want %v", counts, want)
	}
	if got := mergePair([]int32{1, 2, 3, 1, 2}, 1, 2, 4); !slices.Equal(got, []int32{4, 3, 4}) {
		t.Errorf("mergePair: %v", got)
	}
	if got := mergePair([]int32{7, 7, 7}, 7, 7, 8); !slices.Equal(got, []int32{8, 7}) {
		t.Errorf("mergePair: %v", got)
	}
}

// randomPieces returns pieces over a small alphabet, so that runs like
// "aaaa" and overlapping pairs abound, with random counts.
func randomPieces(seed uint64, alphabet string, n, maxLen int) *Counts {
	r := rand.New(rand.NewPCG(seed, 2))
	c := NewCounts("gpt2")
	for range n {
		b := make([]byte, 1+r.IntN(maxLen))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		c.AddPiece(b, 1+int64(r.IntN(20)))
	}
	return c
}

// trainBoth trains with both trainers and fails unless they agree on every
// merge and on the final state of every piece.
func trainBoth(t *testing.T, counts *Counts, want int, minCount int64) (*corpus, *vocab) {
	t.Helper()
	cs, _ := newCorpus(counts)
	cf, _ := newCorpus(counts)
	vs, vf := newVocab(want), newVocab(want)
	ws, wf := trainSimple(cs, vs, minCount), trainFast(cf, vf, minCount)
	if ws != wf {
		t.Fatalf("stopped: simple %q, fast %q", ws, wf)
	}
	if len(vs.tok) != len(vf.tok) {
		t.Fatalf("simple made %d merges, fast %d", len(vs.tok)-256, len(vf.tok)-256)
	}
	for i := range vs.tok {
		if string(vs.tok[i]) != string(vf.tok[i]) {
			t.Fatalf("merge %d: simple %q, fast %q", i-256, vs.tok[i], vf.tok[i])
		}
	}
	for w := range cs.n {
		if !slices.Equal(cs.word(int32(w)), cf.word(int32(w))) {
			t.Fatalf("piece %d: simple %v, fast %v", w, cs.word(int32(w)), cf.word(int32(w)))
		}
	}
	return cf, vf
}

func TestTrainFastMatchesSimple(t *testing.T) {
	text := countPiecesOf(t, "cl100k", trainZipfDocs(3, 60_000))
	tests := []struct {
		name   string
		counts *Counts
	}{
		{"ab", randomPieces(1, "ab", 300, 12)},
		{"aab", randomPieces(2, "aaab", 500, 20)},
		{"abc", randomPieces(3, "abc", 1000, 8)},
		{"a", randomPieces(4, "a", 40, 40)},
		{"text", text},
	}
	for _, tt := range tests {
		for _, size := range []int{257, 300, 600, 1500} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				_, v := trainBoth(t, tt.counts, size, 0)
				if d := len(v.tok) - len(v.ranks); d > 0 {
					t.Logf("%d duplicate merges", d)
				}
			})
		}
	}
	t.Run("mincount", func(t *testing.T) {
		trainBoth(t, text, 5000, 50)
	})
	t.Run("seeds", func(t *testing.T) {
		for seed := uint64(10); seed < 60; seed++ {
			trainBoth(t, randomPieces(seed, "abcd"[:2+seed%3], 100, 16), 2000, 0)
		}
	})
}

func TestTrainEncodeReplaysMerges(t *testing.T) {
	// Encoding a training piece with tiktoken's rule (lowest rank first)
	// gives the tokens the trainer ended with for that piece.
	for _, pattern := range []string{"gpt2", "cl100k"} {
		counts := countPiecesOf(t, pattern, trainZipfDocs(5, 100_000))
		for _, size := range []int{300, 1000, 3000} {
			c, v := trainBoth(t, counts, size, 0)
			if len(v.tok) != len(v.ranks) {
				t.Logf("%s/%d: %d duplicate merges", pattern, size, len(v.tok)-len(v.ranks))
			}
			tok, err := NewTokenizer(v.ranks, nil, pattern)
			if err != nil {
				t.Fatal(err)
			}
			w := int32(0)
			bad := 0
			for _, p := range counts.piece {
				if len(p) < 2 {
					continue
				}
				var want []uint32
				for _, id := range c.word(w) {
					want = append(want, v.ranks[string(v.tok[id])])
				}
				w++
				if got := tok.EncodeOrdinary([]byte(p)); !slices.Equal(got, want) {
					if bad++; bad < 5 {
						t.Errorf("%s/%d: %q encodes to %v, trainer has %v", pattern, size, p, got, want)
					}
				}
			}
		}
	}
}

func TestTrainStops(t *testing.T) {
	c := countsOf("gpt2", map[string]int64{"abc": 3, "ab": 1, "x": 9})
	tok, stats, err := Train(c, 1000, []string{"<s>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Ranks()) != 258 || stats.Merges != 2 || !strings.Contains(stats.Stopped, "no pair") || tok.Special()["<s>"] != 258 {
		t.Fatalf("%d ranks, special %d, stats %+v", len(tok.Ranks()), tok.Special()["<s>"], *stats)
	}
	tok, stats, err = Train(c, 1000, nil, &TrainOptions{MinCount: 4})
	if err != nil {
		t.Fatal(err)
	}
	// ab occurs 4 times, then abc 3 times: below the minimum.
	if len(tok.Ranks()) != 257 || !strings.Contains(stats.Stopped, "fewer than the minimum 4") {
		t.Fatalf("%d ranks, stats %+v", len(tok.Ranks()), *stats)
	}
	if _, _, err := Train(c, 256, []string{"<s>"}, nil); !errors.Is(err, ErrVocabSize) {
		t.Fatalf("vocab 256 with a special: got %v", err)
	}
	if _, _, err := Train(c, 300, []string{"<s>", "<s>"}, nil); err == nil {
		t.Fatal("repeated special: no error")
	}
	tok, _, err = Train(NewCounts("gpt2"), 256, nil, nil)
	if err != nil || len(tok.Ranks()) != 256 {
		t.Fatalf("bytes only: %v", err)
	}
}

func TestTrainDeterministic(t *testing.T) {
	// The ranks depend only on the counts, not on the order pieces were added.
	docs := trainZipfDocs(6, 50_000)
	a := countPiecesOf(t, "gpt2", docs)
	slices.Reverse(docs)
	b := countPiecesOf(t, "gpt2", docs)
	ta, _, err := Train(a, 2000, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, _, err := Train(b, 2000, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ta.Ranks()) != fmt.Sprint(tb.Ranks()) {
		t.Fatal("ranks differ")
	}
}
