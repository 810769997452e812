// Package trainer trains a GPT-2 language model: the model as a forward/backward pair of
// plain functions per layer (the CPU reference), a Backend interface that a GPU can implement,
// the CPU backend with a vectorised matrix multiply, and AdamW with a warmup + cosine schedule.
//
// The code follows llm.c's train_gpt2.c: layers in model order, arguments ordered outputs,
// inputs, weights, sizes, a shape comment on every buffer, and all parameters in one
// allocation with each tensor a named view, so that the optimizer is one loop.
//
// Sizes throughout: B batch, T time (context), C channels, NH heads, hs = C/NH head size,
// L layers, V vocabulary, N = B*T rows.
package trainer

import (
	"fmt"
	"sort"
)

// Config is the shape of a GPT-2 model.
type Config struct {
	VocabSize int // V: from the shards' tokenizer
	Context   int // T: the longest sequence, the rows of wpe
	Layers    int // L
	Heads     int // NH
	Dim       int // C, a multiple of Heads
}

// Size is a named model shape; Vocab and Context are zero where the data decide them.
type Size struct {
	Layers, Heads, Dim int
	Vocab, Context     int // only for nano, whose tiny task fixes them
}

// Sizes are the named model shapes.
//
//	nano         3 layers,  3 heads,   48 channels: the model of the in-browser LLM
//	             visualization (bbycroft.net/llm), vocab 3 and context 11
//	micro        4 layers,  4 heads,  128 channels: about 0.8M parameters besides the embeddings
//	mini         6 layers,  6 heads,  384 channels: about 10.6M besides the embeddings
//	             (Karpathy's nanoGPT shakespeare-char shape)
//	gpt2        12 layers, 12 heads,  768 channels: 124M with GPT-2's vocab and context
//	gpt2-medium 24 layers, 16 heads, 1024 channels: 350M
var Sizes = map[string]Size{
	"nano":        {Layers: 3, Heads: 3, Dim: 48, Vocab: 3, Context: 11},
	"micro":       {Layers: 4, Heads: 4, Dim: 128},
	"mini":        {Layers: 6, Heads: 6, Dim: 384},
	"gpt2":        {Layers: 12, Heads: 12, Dim: 768},
	"gpt2-medium": {Layers: 24, Heads: 16, Dim: 1024},
}

// SizeNames lists the named sizes, smallest first.
func SizeNames() []string {
	names := make([]string, 0, len(Sizes))
	for n := range Sizes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := Sizes[names[i]], Sizes[names[j]]
		return a.Layers*a.Dim*a.Dim < b.Layers*b.Dim*b.Dim
	})
	return names
}

// NamedConfig returns the config of a named size with the given vocabulary and context;
// a zero vocab or context takes the size's own (nano's 3 and 11).
func NamedConfig(name string, vocab, context int) (Config, error) {
	s, ok := Sizes[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model size %q (have %v)", name, SizeNames())
	}
	if vocab == 0 {
		vocab = s.Vocab
	}
	if context == 0 {
		context = s.Context
	}
	c := Config{VocabSize: vocab, Context: context, Layers: s.Layers, Heads: s.Heads, Dim: s.Dim}
	return c, c.Validate()
}

// Validate says what is wrong with a config, if anything.
func (c Config) Validate() error {
	switch {
	case c.VocabSize < 1:
		return fmt.Errorf("vocab size %d: must be at least 1", c.VocabSize)
	case c.Context < 1:
		return fmt.Errorf("context %d: must be at least 1", c.Context)
	case c.Layers < 1 || c.Heads < 1 || c.Dim < 1:
		return fmt.Errorf("layers %d, heads %d, dim %d: each must be at least 1", c.Layers, c.Heads, c.Dim)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("dim %d is not a multiple of heads %d", c.Dim, c.Heads)
	}
	return nil
}

// NumParams is the number of parameters: embeddings, blocks and final LayerNorm. The output
// layer is tied to wte and adds none.
func (c Config) NumParams() int {
	n := 0
	for _, t := range c.Tensors() {
		n += t.Size()
	}
	return n
}
