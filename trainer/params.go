package trainer

import "fmt"

// TensorSpec is one parameter tensor: its Hugging Face GPT-2 name, shape, and where it lies in
// the single parameter allocation.
type TensorSpec struct {
	Name   string `json:"name"`   // as in HF GPT2LMHeadModel's state dict, less the "transformer." prefix
	Shape  []int  `json:"shape"`  // row-major, HF layout: Conv1D weights are (in, out)
	Offset int    `json:"offset"` // in float32 values from the start of the allocation
	Decay  bool   `json:"decay"`  // AdamW weight decay applies: matrices, not biases or LayerNorm
}

// Size is the number of values in the tensor.
func (t TensorSpec) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Tensors lists the parameter tensors in allocation order, which is HF GPT-2's state-dict order:
//
//	wte.weight              (V,C)   token embedding, also the output layer (tied)
//	wpe.weight              (T,C)   position embedding
//	h.{i}.ln_1.weight/bias  (C)
//	h.{i}.attn.c_attn       (C,3C) + (3C)   q, k, v side by side
//	h.{i}.attn.c_proj       (C,C)  + (C)
//	h.{i}.ln_2.weight/bias  (C)
//	h.{i}.mlp.c_fc          (C,4C) + (4C)
//	h.{i}.mlp.c_proj        (4C,C) + (C)
//	ln_f.weight/bias        (C)
func (c Config) Tensors() []TensorSpec {
	V, T, C := c.VocabSize, c.Context, c.Dim
	var ts []TensorSpec
	off := 0
	add := func(name string, decay bool, shape ...int) {
		t := TensorSpec{Name: name, Shape: shape, Offset: off, Decay: decay}
		off += t.Size()
		ts = append(ts, t)
	}
	add("wte.weight", true, V, C)
	add("wpe.weight", true, T, C)
	for l := range c.Layers {
		p := fmt.Sprintf("h.%d.", l)
		add(p+"ln_1.weight", false, C)
		add(p+"ln_1.bias", false, C)
		add(p+"attn.c_attn.weight", true, C, 3*C)
		add(p+"attn.c_attn.bias", false, 3*C)
		add(p+"attn.c_proj.weight", true, C, C)
		add(p+"attn.c_proj.bias", false, C)
		add(p+"ln_2.weight", false, C)
		add(p+"ln_2.bias", false, C)
		add(p+"mlp.c_fc.weight", true, C, 4*C)
		add(p+"mlp.c_fc.bias", false, 4*C)
		add(p+"mlp.c_proj.weight", true, 4*C, C)
		add(p+"mlp.c_proj.bias", false, C)
	}
	add("ln_f.weight", false, C)
	add("ln_f.bias", false, C)
	return ts
}

// Params are named views into one allocation of all the parameters (or of their gradients,
// or of AdamW's moments: the same layout serves all four).
type Params struct {
	All    Buf // every value, in Tensors order
	Wte    Buf // (V,C)
	Wpe    Buf // (T,C)
	Blocks []Block
	LnfW   Buf // (C)
	LnfB   Buf // (C)
}

// Block is one transformer layer's parameters.
type Block struct {
	Ln1W, Ln1B         Buf // (C)
	QkvW, QkvB         Buf // (C,3C), (3C)     attn.c_attn
	AttProjW, AttProjB Buf // (C,C), (C)       attn.c_proj
	Ln2W, Ln2B         Buf // (C)
	FcW, FcB           Buf // (C,4C), (4C)     mlp.c_fc
	FcProjW, FcProjB   Buf // (4C,C), (C)      mlp.c_proj
}

// newParams lays the named views over all, which holds c.NumParams() values.
func newParams(c Config, all Buf) Params {
	ts := c.Tensors()
	next := 0
	view := func() Buf {
		t := ts[next]
		next++
		return all.View(t.Offset, t.Size())
	}
	p := Params{All: all, Wte: view(), Wpe: view(), Blocks: make([]Block, c.Layers)}
	for l := range p.Blocks {
		b := &p.Blocks[l]
		b.Ln1W, b.Ln1B = view(), view()
		b.QkvW, b.QkvB = view(), view()
		b.AttProjW, b.AttProjB = view(), view()
		b.Ln2W, b.Ln2B = view(), view()
		b.FcW, b.FcB = view(), view()
		b.FcProjW, b.FcProjB = view(), view()
	}
	p.LnfW, p.LnfB = view(), view()
	return p
}
