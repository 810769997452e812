package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SampleConfig says how Sample draws tokens.
type SampleConfig struct {
	Tokens      int     // how many to draw
	Temperature float64 // divides the logits; 0 takes the most likely token (greedy)
	TopK        int     // draw among the K most likely tokens only; 0: all
	Seed        uint64
	// Vocab draws among the ids below it only: the tokenizer's, where the model's vocabulary
	// is padded past it (pipe train --pad-vocab); 0: all
	Vocab int
}

// Sample continues prompt (at least one token) by sc.Tokens tokens, calling emit with each.
// It keeps each layer's keys and values (a KV cache), so a token costs one row of every layer;
// when the sequence outgrows the context, the cache is refilled from its last Context/2 tokens
// (the positions move). SampleRecompute is the same without a cache.
func (m *Model) Sample(prompt []int32, sc SampleConfig, emit func(id int32) error) error {
	if err := checkSample(prompt, sc); err != nil {
		return err
	}
	kc := newKVCache(m)
	defer kc.free()
	T := m.Config.Context
	ctx := append([]int32(nil), prompt...)
	logits, err := kc.fill(ctx[max(0, len(ctx)-T):])
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(sc.Seed, 0x5a3b1e))
	V := m.Config.VocabSize
	probs, order := make([]float64, V), make([]int, V)
	for i := range sc.Tokens {
		next := pick(logits, probs, order, sc, rng)
		if err := emit(next); err != nil {
			return err
		}
		ctx = append(ctx, next)
		if i == sc.Tokens-1 {
			break
		}
		if kc.n == T {
			logits, err = kc.fill(ctx[len(ctx)-max(1, T/2):])
		} else {
			logits, err = kc.next(next)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkSample(prompt []int32, sc SampleConfig) error {
	if len(prompt) == 0 {
		return fmt.Errorf("sample: empty prompt")
	}
	if sc.Temperature < 0 || sc.TopK < 0 || sc.Vocab < 0 {
		return fmt.Errorf("sample: temperature %v, top-k %d, vocabulary %d: want all at least 0", sc.Temperature, sc.TopK, sc.Vocab)
	}
	return nil
}

// SampleRecompute is Sample without a cache: every token recomputes the whole context, the
// last Config.Context tokens, with Forward. The oracle Sample is tested against.
func (m *Model) SampleRecompute(prompt []int32, sc SampleConfig, emit func(id int32) error) error {
	if err := checkSample(prompt, sc); err != nil {
		return err
	}
	V := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(sc.Seed, 0x5a3b1e))
	ctx := append([]int32(nil), prompt...)
	logits := make([]float32, V)
	probs := make([]float64, V)
	order := make([]int, V)
	for range sc.Tokens {
		win := ctx[max(0, len(ctx)-m.Config.Context):]
		T := len(win)
		if _, err := m.Forward(win, nil, 1, T); err != nil {
			return err
		}
		m.Backend.Download(logits, m.Acts.Logits.View((T-1)*V, V))
		next := pick(logits, probs, order, sc, rng)
		if err := emit(next); err != nil {
			return err
		}
		ctx = append(ctx, next)
	}
	return nil
}

// pick draws a token from one row of logits (V) as sc says; probs and order are scratch (V).
func pick(logits []float32, probs []float64, order []int, sc SampleConfig, rng *rand.Rand) int32 {
	if sc.Vocab > 0 && sc.Vocab < len(logits) {
		logits, probs, order = logits[:sc.Vocab], probs[:sc.Vocab], order[:sc.Vocab]
	}
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	if sc.Temperature == 0 {
		return int32(best)
	}
	for i := range order {
		order[i] = i
	}
	k := len(order)
	if sc.TopK > 0 && sc.TopK < k {
		sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
		k = sc.TopK
	}
	var sum float64
	for _, i := range order[:k] {
		p := math.Exp(float64(logits[i]-logits[best]) / sc.Temperature)
		probs[i] = p
		sum += p
	}
	u := rng.Float64() * sum
	for _, i := range order[:k] {
		u -= probs[i]
		if u < 0 {
			return int32(i)
		}
	}
	return int32(order[k-1])
}
