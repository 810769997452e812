package trainer

import (
	"fmt"
	"math"
)

// kvCache holds, for one sequence, every layer's keys and values of the positions decoded so
// far, so that a new token costs one row of each layer instead of the whole context.
type kvCache struct {
	m    *Model
	p    Params    // the weights, on the host
	k, v []float32 // (L, maxT, C) keys and values, heads side by side
	n    int       // positions held

	// one row of activations, reused
	x, ln, qkv, atty, proj, fch, fchGelu, att, logits []float32
	mean, rstd                                        []float32
}

// newKVCache reads m's weights to the host and makes an empty cache.
func newKVCache(m *Model) *kvCache {
	c := m.Config
	C, L, T, V := c.Dim, c.Layers, c.Context, c.VocabSize
	host := make([]float32, m.Params.All.N)
	m.Backend.Download(host, m.Params.All)
	return &kvCache{m: m, p: newParams(c, Buf{Host: host, N: len(host)}),
		k: make([]float32, L*T*C), v: make([]float32, L*T*C),
		x: make([]float32, C), ln: make([]float32, C), qkv: make([]float32, 3*C), atty: make([]float32, C),
		proj: make([]float32, C), fch: make([]float32, 4*C), fchGelu: make([]float32, 4*C),
		att: make([]float32, T), logits: make([]float32, V), mean: make([]float32, 1), rstd: make([]float32, 1)}
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
	t, p, hs := kc.n, kc.p, C/NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	x := kc.x
	encoderForward(allCores, x, []int32{token}, p.Wte.Host, p.Wpe.Host[t*C:], 1, 1, C)
	for l, w := range p.Blocks {
		layernormForward(allCores, kc.ln, kc.mean, kc.rstd, x, w.Ln1W.Host, w.Ln1B.Host, 1, C)
		matmulForward(allCores, kc.qkv, kc.ln, w.QkvW.Host, w.QkvB.Host, 1, C, 3*C)
		keys, vals := kc.k[l*T*C:(l+1)*T*C], kc.v[l*T*C:(l+1)*T*C] // (T,C)
		copy(keys[t*C:], kc.qkv[C:2*C])
		copy(vals[t*C:], kc.qkv[2*C:])
		for h := range NH {
			q, a := kc.qkv[h*hs:(h+1)*hs], kc.att[:t+1]
			maxv := float32(math.Inf(-1))
			for s := range a {
				var dot float32
				for i, qi := range q {
					dot += qi * keys[s*C+h*hs+i]
				}
				a[s] = dot * scale
				maxv = max(maxv, a[s])
			}
			var sum float32
			for s := range a {
				a[s] = exp32(a[s] - maxv)
				sum += a[s]
			}
			o := kc.atty[h*hs : (h+1)*hs]
			clear(o)
			for s, as := range a {
				as /= sum
				for i := range o {
					o[i] += as * vals[s*C+h*hs+i]
				}
			}
		}
		matmulForward(allCores, kc.proj, kc.atty, w.AttProjW.Host, w.AttProjB.Host, 1, C, C)
		residualForward(allCores, x, x, kc.proj, C)
		layernormForward(allCores, kc.ln, kc.mean, kc.rstd, x, w.Ln2W.Host, w.Ln2B.Host, 1, C)
		matmulForward(allCores, kc.fch, kc.ln, w.FcW.Host, w.FcB.Host, 1, C, 4*C)
		geluForward(allCores, kc.fchGelu, kc.fch, 4*C)
		matmulForward(allCores, kc.proj, kc.fchGelu, w.FcProjW.Host, w.FcProjB.Host, 1, 4*C, C)
		residualForward(allCores, x, x, kc.proj, C)
	}
	layernormForward(allCores, kc.ln, kc.mean, kc.rstd, x, p.LnfW.Host, p.LnfB.Host, 1, C)
	logitsForward(allCores, kc.logits, kc.ln, p.Wte.Host, 1, C, V)
	kc.n++
	return kc.logits, nil
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
