package trainer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPick(t *testing.T) {
	logits := []float32{0.5, 3, -1, 2.9}
	probs, order := make([]float64, 4), make([]int, 4)
	rng := rand.New(rand.NewPCG(1, 1))
	if got := pick(logits, probs, order, SampleConfig{}, rng); got != 1 {
		t.Errorf("greedy: %d", got)
	}
	seen := map[int32]int{}
	for range 2000 {
		seen[pick(logits, probs, order, SampleConfig{Temperature: 1, TopK: 2}, rng)]++
	}
	if len(seen) != 2 || seen[1] < 900 || seen[3] < 800 {
		t.Errorf("top-2 draws: %v", seen)
	}
	seen = map[int32]int{}
	for range 2000 {
		seen[pick(logits, probs, order, SampleConfig{Temperature: 1}, rng)]++
	}
	if len(seen) != 4 {
		t.Errorf("draws from all: %v", seen)
	}
	// a padded vocabulary: ids from Vocab up are never drawn, greedy or not, though likeliest
	if got := pick(logits, probs, order, SampleConfig{Vocab: 1}, rng); got != 0 {
		t.Errorf("greedy below 1: %d", got)
	}
	seen = map[int32]int{}
	for range 2000 {
		seen[pick(logits, probs, order, SampleConfig{Temperature: 1, Vocab: 3}, rng)]++
	}
	if len(seen) != 3 || seen[3] != 0 {
		t.Errorf("draws below 3: %v", seen)
	}
}

// Sampling at temperature 0 without a cache is the model's own greedy choice, context cropped
// to the model's.
func TestSampleRecompute(t *testing.T) {
	m, _ := New(tinyConfig, NewCPU())
	m.Init(2)
	var got []int32
	prompt := []int32{1, 2, 3}
	if err := m.SampleRecompute(prompt, SampleConfig{Tokens: 4}, func(id int32) error { got = append(got, id); return nil }); err != nil {
		t.Fatal(err)
	}
	ctx := append([]int32(nil), prompt...)
	V := tinyConfig.VocabSize
	for i, id := range got {
		win := ctx[max(0, len(ctx)-tinyConfig.Context):]
		m.Forward(win, nil, 1, len(win))
		row := m.Acts.Logits.Host[(len(win)-1)*V : len(win)*V]
		best := 0
		for v := range row {
			if row[v] > row[best] {
				best = v
			}
		}
		if int32(best) != id {
			t.Fatalf("token %d: %d, the argmax is %d", i, id, best)
		}
		ctx = append(ctx, id)
	}
}

// The KV cache computes Forward's logits at every position, and Sample draws what
// SampleRecompute draws while the sequence fits the context.
func TestKVCache(t *testing.T) {
	c := Config{VocabSize: 11, Context: 9, Layers: 2, Heads: 3, Dim: 12}
	m, _ := New(c, NewCPU())
	m.Init(5)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range m.Params.All.Host {
		m.Params.All.Host[i] += float32(rng.NormFloat64() * 0.2)
	}
	tokens := randTokens(rng, c.Context, c.VocabSize)
	if _, err := m.Forward(tokens, nil, 1, c.Context); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), m.Acts.Logits.Host...)
	kc := newKVCache(m)
	V := c.VocabSize
	for pos, id := range tokens {
		got, err := kc.next(id)
		if err != nil {
			t.Fatal(err)
		}
		for v := range V {
			if d := got[v] - want[pos*V+v]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("position %d, logit %d: %v, Forward %v", pos, v, got[v], want[pos*V+v])
			}
		}
	}
	if _, err := kc.next(0); err == nil {
		t.Error("a position past the context: no error")
	}
	for _, sc := range []SampleConfig{{Tokens: 6}, {Tokens: 6, Temperature: 0.8, TopK: 4, Seed: 3}} {
		var a, b []int32
		m.Sample([]int32{1, 2, 3}, sc, func(id int32) error { a = append(a, id); return nil })
		m.SampleRecompute([]int32{1, 2, 3}, sc, func(id int32) error { b = append(b, id); return nil })
		if !slices.Equal(a, b) || len(a) != 6 {
			t.Errorf("%+v: cached %v, recomputed %v", sc, a, b)
		}
	}
	var long []int32 // past the context: the cache is refilled
	if err := m.Sample([]int32{1}, SampleConfig{Tokens: 30, Temperature: 1}, func(id int32) error { long = append(long, id); return nil }); err != nil || len(long) != 30 {
		t.Errorf("30 tokens from a context of 9: %d, %v", len(long), err)
	}
}
