package trainer

import (
	"fmt"
)

// kvCache holds, for one sequence, every layer's keys and values of the positions decoded so
// far, so that a new token costs one row of each layer instead of the whole context. It lives
// on the model's backend and runs the model's own layers with N = 1, so sampling runs wherever
// the model does (the GPU included); only the logits of each token come back to the host.
type kvCache struct {
	m    *Model
	k, v []Buf // per layer, (maxT,C) keys and values, heads side by side
	n    int   // positions held

	all Buf // the cache and the row below: one allocation

	// one row of activations, reused
	x, ln, qkv, atty, proj, fch, fchGelu, att, logits, mean, rstd Buf

	host []float32 // the logits, on the host (V)
}

// newKVCache makes an empty cache for m on its backend.
func newKVCache(m *Model) *kvCache {
	c := m.Config
	C, L, T, V, NH := c.Dim, c.Layers, c.Context, c.VocabSize, c.Heads
	kc := &kvCache{m: m, k: make([]Buf, L), v: make([]Buf, L), host: make([]float32, V)}
	var v views
	take := v.take
	for l := range L {
		take(&kc.k[l], T*C)
		take(&kc.v[l], T*C)
	}
	take(&kc.x, C)
	take(&kc.ln, C)
	take(&kc.qkv, 3*C)
	take(&kc.atty, C)
	take(&kc.proj, C)
	take(&kc.fch, 4*C)
	take(&kc.fchGelu, 4*C)
	take(&kc.att, NH*T)
	take(&kc.logits, V)
	take(&kc.mean, 1)
	take(&kc.rstd, 1)
	kc.all = v.place(m.Backend.Alloc(v.total()))
	return kc
}

// free releases the cache's memory on a backend that needs it.
func (kc *kvCache) free() {
	if f, ok := kc.m.Backend.(freer); ok {
		f.Free(kc.all)
	}
}

// next runs token at the next position through the model and returns its logits (V), which
// stay valid until the following call. The same layers as Model.Forward, one row at a time.
func (kc *kvCache) next(token int32) ([]float32, error) {
	c := kc.m.Config
	C, NH, T, V := c.Dim, c.Heads, c.Context, c.VocabSize
	if kc.n == T {
		return nil, fmt.Errorf("kv cache: all %d positions used", T)
	}
	if token < 0 || int(token) >= V {
		return nil, fmt.Errorf("token %d: outside the vocabulary of %d", token, V)
	}
	be, t, p, x := kc.m.Backend, kc.n, kc.m.Params, kc.x
	be.EncoderForward(x, []int32{token}, p.Wte, p.Wpe.View(t*C, C), 1, 1, C)
	for l, w := range p.Blocks {
		be.LayerNormForward(kc.ln, kc.mean, kc.rstd, x, w.Ln1W, w.Ln1B, 1, C)
		be.MatmulForward(kc.qkv, kc.ln, w.QkvW, w.QkvB, 1, C, 3*C)
		be.AttentionDecode(kc.atty, kc.att, kc.k[l], kc.v[l], kc.qkv, t, T, C, NH)
		be.MatmulForward(kc.proj, kc.atty, w.AttProjW, w.AttProjB, 1, C, C)
		be.ResidualForward(x, x, kc.proj, C)
		be.LayerNormForward(kc.ln, kc.mean, kc.rstd, x, w.Ln2W, w.Ln2B, 1, C)
		if mg, ok := be.(MatmulGeluer); ok {
			mg.MatmulGeluForward(kc.fch, kc.fchGelu, kc.ln, w.FcW, w.FcB, 1, C, 4*C)
		} else {
			be.MatmulForward(kc.fch, kc.ln, w.FcW, w.FcB, 1, C, 4*C)
			be.GeluForward(kc.fchGelu, kc.fch, 4*C)
		}
		be.MatmulForward(kc.proj, kc.fchGelu, w.FcProjW, w.FcProjB, 1, 4*C, C)
		be.ResidualForward(x, x, kc.proj, C)
	}
	be.LayerNormForward(kc.ln, kc.mean, kc.rstd, x, p.LnfW, p.LnfB, 1, C)
	be.LogitsForward(kc.logits, kc.ln, p.Wte, 1, C, V)
	be.Download(kc.host, kc.logits)
	kc.n++
	return kc.host, nil
}

// fill empties the cache and runs tokens (at most the context) through it, returning the last
// one's logits.
func (kc *kvCache) fill(tokens []int32) ([]float32, error) {
	kc.n = 0
	var logits []float32
	for _, id := range tokens {
		var err error
		if logits, err = kc.next(id); err != nil {
			return nil, err
		}
	}
	return logits, nil
}
