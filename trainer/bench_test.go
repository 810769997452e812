package trainer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// trainBenches are the shapes of the training benchmark; scripts/torch_train_compare.py runs
// the PyTorch peer (shared/bench/torch/gpt2_train_bench.py) on the same.
var trainBenches = []struct {
	size        string
	vocab, T, B int
}{
	{"nano", 3, 11, 64},
	{"micro", 512, 64, 32},
	{"mini", 4096, 256, 8},
	{"gpt2", 50257, 256, 4}, // GPT-2 small at a quarter of its context: seconds a step on a core
}

// BenchmarkTrainStep times whole training steps (forward, backward, clipping, AdamW) on random
// tokens and reports tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	for _, tb := range trainBenches {
		b.Run(fmt.Sprintf("%s/V%d_T%d_B%d", tb.size, tb.vocab, tb.T, tb.B), func(b *testing.B) {
			cfg, err := NamedConfig(tb.size, tb.vocab, tb.T)
			if err != nil {
				b.Fatal(err)
			}
			m, _ := New(cfg, NewCPU())
			m.Init(1)
			rng := rand.New(rand.NewPCG(1, 1))
			tokens, targets := randTokens(rng, tb.B*tb.T, tb.vocab), randTokens(rng, tb.B*tb.T, tb.vocab)
			step := func() {
				m.Forward(tokens, targets, tb.B, tb.T)
				m.ZeroGrad()
				m.Backward(1)
				m.Update(DefaultAdamW, 3e-4)
			}
			step() // allocate activations and moments
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(tb.B*tb.T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
