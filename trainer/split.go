package trainer

// Splitting a batch over the cores. The layers of a small model are too small to split well one
// by one: each split wakes the other cores and waits for the slowest, some fifty times a step,
// and on nano that costs more than the work it shares. The rows of a batch, though, are
// independent up to the parameter gradients, so Model can instead run the whole forward and
// backward pass of each part of the batch on a core of its own, with one wait per pass:
//
//	part i: rows [i·B/n, (i+1)·B/n)   activations: views of those rows (every buffer is (B,…))
//	                                  gradients:   part 0 into Grads, part i > 0 into a buffer of its own
//	then Grads += part 1's + part 2's + …, in that order
//
// The sums are fixed by n alone, so a given number of cores always gives the same bits.

// multicore is a backend that runs on the host's cores and can run on one: the CPU backend.
type multicore interface {
	cores() int       // the cores an operation is split over
	oneCore() Backend // the same backend, each operation on the calling goroutine
}

// splitCopies bounds the values that the copies of the gradients hold, one per part past the
// first (64M: 256 MiB): models too large for a copy (GPT-2 small, 124M) are left to their
// layers, which are large enough to split well by themselves.
const splitCopies = 1 << 26

// parts is the backends that the rows of a batch of B run on, part i taking rows
// [i·B/n, (i+1)·B/n): one core each when the backend is multicore, as many parts as cores, rows
// and copies of the gradients allow; else the backend alone.
func (m *Model) parts(B int) []Backend {
	mc, ok := m.Backend.(multicore)
	if !ok {
		return []Backend{m.Backend}
	}
	n := min(mc.cores(), B, 1+splitCopies/m.Config.NumParams())
	if n <= 1 {
		return []Backend{m.Backend}
	}
	parts := make([]Backend, n)
	for i := range parts {
		parts[i] = mc.oneCore()
	}
	return parts
}

// rows is the activations of batch rows [b0,b1) out of B: views of the same memory.
func (a *Activations) rows(b0, b1, B int) Activations {
	if b0 == 0 && b1 == B {
		return *a
	}
	r := func(x Buf) Buf {
		w := x.N / B // every buffer is (B,…)
		return x.View(b0*w, (b1-b0)*w)
	}
	s := Activations{
		Encoded: r(a.Encoded), Lnf: r(a.Lnf), LnfMean: r(a.LnfMean), LnfRstd: r(a.LnfRstd),
		Logits: r(a.Logits), Probs: r(a.Probs), Losses: r(a.Losses),
		dResidual: r(a.dResidual), dBTC: r(a.dBTC), dQkv: r(a.dQkv), dBT4C: r(a.dBT4C),
		Layers: make([]LayerActs, len(a.Layers)), shapeB: b1 - b0, shapeT: a.shapeT,
	}
	for l, la := range a.Layers {
		s.Layers[l] = LayerActs{
			Ln1: r(la.Ln1), Ln1Mean: r(la.Ln1Mean), Ln1Rstd: r(la.Ln1Rstd), Qkv: r(la.Qkv),
			Atty: r(la.Atty), Att: r(la.Att), AttProj: r(la.AttProj), Residual2: r(la.Residual2),
			Ln2: r(la.Ln2), Ln2Mean: r(la.Ln2Mean), Ln2Rstd: r(la.Ln2Rstd), Fch: r(la.Fch),
			FchGelu: r(la.FchGelu), FcProj: r(la.FcProj), Residual3: r(la.Residual3),
		}
	}
	return s
}

// addGrads adds the parts' gradients (host memory: parts run on the CPU) into g, one part after
// another, so that each value is summed in the same order whatever the timing.
func addGrads(g Buf, parts []Buf) {
	parallelFor(allCores, g.N, g.N*len(parts), func(lo, hi int) {
		dst := g.Host[lo:hi]
		for _, p := range parts {
			for i, x := range p.Host[lo:hi] {
				dst[i] += x
			}
		}
	})
}
