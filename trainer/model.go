package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Model is a GPT-2 model on a backend: its parameters, their gradients, AdamW's moments, and
// the activations of the last forward pass.
type Model struct {
	Config  Config
	Backend Backend
	Params  Params // the weights, one allocation (Params.All)
	Grads   Params // their gradients, laid out the same
	Acts    Activations

	B, T            int     // the batch shape Acts is allocated for
	tokens, targets []int32 // of the last forward pass, (B,T)
	losses          []float32
	counted         int // targets of the last forward pass that are not IgnoreTarget

	mom, vel  Buf   // AdamW's first and second moments, laid out as Params.All
	step      int   // AdamW steps taken
	partGrads []Buf // the gradients of parts 1… of a batch split over the cores (parts), as Params.All
}

// Activations are the values each layer computes in the forward pass, kept for the backward
// pass and for inspection; all of them lie in one allocation (All). N = B*T.
type Activations struct {
	All            Buf // the float32 activations
	Half           Buf // the rest, on a HalfAllocator: bf16
	Encoded        Buf // (B,T,C) token + position embedding
	Layers         []LayerActs
	Lnf            Buf // (B,T,C)
	LnfMean        Buf // (B,T)
	LnfRstd        Buf // (B,T)
	Logits         Buf // (B,T,V)
	Probs          Buf // (B,T,V) softmax of the logits, which Backward turns into dlogits; allocated apart, by the first Forward with targets
	Losses         Buf // (B,T)
	dResidual      Buf // (B,T,C) gradient of the residual stream, flowing back through the layers
	dBTC           Buf // (B,T,C) scratch gradient: of ln_f, ln_2, attention output, ln_1 in turn
	dQkv           Buf // (B,T,3C)
	dBT4C          Buf // (B,T,4C) gradient of the MLP's hidden layer, before and after GELU
	shapeB, shapeT int
}

// LayerActs are one block's activations.
type LayerActs struct {
	Ln1       Buf // (B,T,C)
	Ln1Mean   Buf // (B,T)
	Ln1Rstd   Buf // (B,T)
	Qkv       Buf // (B,T,3C)
	Atty      Buf // (B,T,C) attention output, heads side by side
	Att       Buf // (B,NH,T,T) attention weights after softmax (one value on an AttentionKeeper)
	AttProj   Buf // (B,T,C)
	Residual2 Buf // (B,T,C) residual + attention
	Ln2       Buf // (B,T,C)
	Ln2Mean   Buf // (B,T)
	Ln2Rstd   Buf // (B,T)
	Fch       Buf // (B,T,4C)
	FchGelu   Buf // (B,T,4C)
	FcProj    Buf // (B,T,C)
	Residual3 Buf // (B,T,C) residual2 + MLP: the block's output
}

// New makes a model of config c on backend be with zeroed parameters; see Init.
func New(c Config, be Backend) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := c.NumParams()
	return &Model{
		Config:  c,
		Backend: be,
		Params:  newParams(c, be.Alloc(n)),
		Grads:   newParams(c, be.Alloc(n)),
	}, nil
}

// Init sets the parameters as GPT-2 initialises them: weights from N(0, 0.02), the two
// projections into the residual stream (attn.c_proj, mlp.c_proj) from N(0, 0.02/√(2L)),
// biases 0, LayerNorm weights 1.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	host := make([]float32, m.Params.All.N)
	projStd := 0.02 / math.Sqrt(2*float64(m.Config.Layers))
	for _, t := range m.Config.Tensors() {
		vals := host[t.Offset : t.Offset+t.Size()]
		switch {
		case isLayerNormWeight(t.Name):
			for i := range vals {
				vals[i] = 1
			}
		case t.Decay:
			std := 0.02
			if strings.HasSuffix(t.Name, "c_proj.weight") {
				std = projStd
			}
			for i := range vals {
				vals[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
	m.Backend.Upload(m.Params.All, host)
}

func isLayerNormWeight(name string) bool {
	return strings.HasSuffix(name, "ln_1.weight") || strings.HasSuffix(name, "ln_2.weight") || name == "ln_f.weight"
}

// allocActs sizes the activations for batches of B rows of T tokens.
func (m *Model) allocActs(B, T int) {
	if m.Acts.shapeB == B && m.Acts.shapeT == T {
		return
	}
	c := m.Config
	V, L, C, NH := c.VocabSize, c.Layers, c.Dim, c.Heads
	N := B * T
	// two allocations: fp32, and the activations a HalfAllocator keeps in bf16 (on other
	// backends, fp32 too, in the first)
	var full, halves views
	take := full.take
	ha, half := m.Backend.(HalfAllocator)
	takeHalf := full.take
	if half {
		takeHalf = halves.take
	}
	a := Activations{Layers: make([]LayerActs, L), shapeB: B, shapeT: T}
	attSize := B * NH * T * T
	if k, ok := m.Backend.(AttentionKeeper); ok && k.KeepsAttention() {
		attSize = 1
	}
	take(&a.Encoded, N*C)
	for l := range a.Layers {
		la := &a.Layers[l]
		takeHalf(&la.Ln1, N*C)
		take(&la.Ln1Mean, N)
		take(&la.Ln1Rstd, N)
		takeHalf(&la.Qkv, N*3*C)
		takeHalf(&la.Atty, N*C)
		take(&la.Att, attSize)
		takeHalf(&la.AttProj, N*C)
		take(&la.Residual2, N*C)
		takeHalf(&la.Ln2, N*C)
		take(&la.Ln2Mean, N)
		take(&la.Ln2Rstd, N)
		takeHalf(&la.Fch, N*4*C)
		takeHalf(&la.FchGelu, N*4*C)
		takeHalf(&la.FcProj, N*C)
		take(&la.Residual3, N*C)
	}
	takeHalf(&a.Lnf, N*C)
	take(&a.LnfMean, N)
	take(&a.LnfRstd, N)
	takeHalf(&a.Logits, N*V)
	take(&a.Losses, N)
	take(&a.dResidual, N*C)
	takeHalf(&a.dBTC, N*C)
	takeHalf(&a.dQkv, N*3*C)
	takeHalf(&a.dBT4C, N*4*C)
	m.freeActs() // let the old allocations go first
	a.All = full.place(m.Backend.Alloc(full.total()))
	if half {
		a.Half = halves.place(ha.AllocHalf(halves.total()))
	}
	m.Acts = a
	m.B, m.T = B, T
	m.losses = make([]float32, N)
}

// views lays out named buffers as views of one allocation, as llm.c lays out its tensors:
// take them in order, then place them on an allocation of total values. Each view starts at a
// multiple of viewAlign values, as a separate allocation would be aligned: a GPU's vector
// loads need their addresses aligned, and a view after one of an odd size (the logits, B·T·V)
// would not be.
type views struct {
	bufs  []*Buf
	sizes []int
}

// viewAlign is the values between the starts of views: 256 bytes of fp32, 128 of bf16.
const viewAlign = 64

func (v *views) take(b *Buf, n int) {
	v.bufs = append(v.bufs, b)
	v.sizes = append(v.sizes, n)
}

// offsets are where the views start, and the total they need.
func (v *views) offsets() ([]int, int) {
	offs, n := make([]int, len(v.sizes)), 0
	for i, s := range v.sizes {
		offs[i] = n
		n += (s + viewAlign - 1) / viewAlign * viewAlign
	}
	return offs, n
}

func (v *views) total() int {
	_, n := v.offsets()
	return n
}

// place points every buffer taken at its part of all, and returns all.
func (v *views) place(all Buf) Buf {
	offs, _ := v.offsets()
	for i, b := range v.bufs {
		*b = all.View(offs[i], v.sizes[i])
	}
	return all
}

// freer is a Backend whose buffers must be released (a GPU's); the CPU's are garbage collected.
type freer interface{ Free(Buf) }

// freeActs releases the activations, before they are made again for another shape.
func (m *Model) freeActs() {
	if f, ok := m.Backend.(freer); ok {
		for _, b := range []Buf{m.Acts.All, m.Acts.Half, m.Acts.Probs} {
			if b.N > 0 {
				f.Free(b)
			}
		}
	}
	m.Acts = Activations{}
}

// AttentionKeeper is a Backend that keeps each layer's attention weights for the backward
// pass itself, in its own precision (the GPU: bf16): the model's Att of a layer is then one
// value, whose address names the layer to the backend, instead of (B,NH,T,T).
type AttentionKeeper interface{ KeepsAttention() bool }

// ResidualLayerNormer is a Backend that fuses a residual connection with the LayerNorm that
// reads it: residual (N,C) = a + b, then out, mean, rstd as LayerNormForward of residual.
// Model.forward uses it in place of ResidualForward then LayerNormForward.
type ResidualLayerNormer interface {
	ResidualLayerNormForward(residual, out, mean, rstd Buf, a, b, weight, bias Buf, N, C int)
}

// MatmulGeluer is a Backend that fuses a Conv1D layer with the GELU after it (the MLP's first
// layer): pre (N,OC) = inp (N,C) · weight (C,OC) + bias, and out = gelu(pre), pre kept for
// GeluBackward. Model.forward uses it in place of MatmulForward then GeluForward.
type MatmulGeluer interface {
	MatmulGeluForward(pre, out Buf, inp, weight, bias Buf, N, C, OC int)
}

// MatmulGeluBackwarder is a Backend that fuses the backward pass of a Conv1D layer with that of
// the GELU before it (the MLP's second layer): dpre (N,C) = (dout · weightᵀ) ⊙ gelu'(pre), and
// dweight, dbias as MatmulBackward. Model.backward uses it in place of MatmulBackward then
// GeluBackward.
type MatmulGeluBackwarder interface {
	MatmulGeluBackward(dpre, dweight, dbias Buf, dout, inp, weight, pre Buf, N, C, OC int)
}

// FusedClassifier is a Backend that computes the loss and its gradient in one pass over the
// logits (N,V), never storing the probabilities: losses (N) as CrossEntropyForward, and the
// logits become dlogits = scale · (softmax − onehot(targets)) in place, 0 in the rows of
// negative targets. ForwardBackward uses it; the CPU reference has none.
type FusedClassifier interface {
	ClassifierFused(logits, losses Buf, targets []int32, scale float32, N, V int)
}

// IgnoreTarget is a target that has no loss, as PyTorch's ignore_index: the positions of a
// row that the model reads but is not asked to predict.
const IgnoreTarget = -1

// Forward runs the model on tokens (B,T) and, given targets (B,T), returns the mean
// cross-entropy loss over the targets that are not IgnoreTarget (0 when all are); without
// targets it computes the logits only and returns -1. On the CPU a small model's batch runs
// as parts of rows, one per core (parts).
func (m *Model) Forward(tokens, targets []int32, B, T int) (float32, error) {
	if err := m.prepare(tokens, targets, B, T); err != nil {
		return 0, err
	}
	if targets != nil && m.Acts.Probs.N == 0 {
		m.Acts.Probs = m.Backend.Alloc(B * T * m.Config.VocabSize)
	}
	parts := m.parts(B)
	runParts(len(parts), func(i int) {
		b0, b1 := i*B/len(parts), (i+1)*B/len(parts)
		var tg []int32
		if targets != nil {
			tg = targets[b0*T : b1*T]
		}
		m.forward(parts[i], m.Acts.rows(b0, b1, B), tokens[b0*T:b1*T], tg, b1-b0, T, nil, 0)
	})
	if targets == nil {
		return -1, nil
	}
	return m.meanLoss(), nil
}

// ForwardBackward is Forward then Backward(scale) for a batch with targets. On a backend with
// a FusedClassifier, the loss and the gradient of the logits come from one pass in the forward
// pass, and the probabilities (B,T,V) are never stored.
func (m *Model) ForwardBackward(tokens, targets []int32, B, T int, scale float32) (float32, error) {
	fc, ok := m.Backend.(FusedClassifier)
	if !ok || targets == nil || len(m.parts(B)) > 1 {
		loss, err := m.Forward(tokens, targets, B, T)
		if err != nil {
			return 0, err
		}
		return loss, m.Backward(scale)
	}
	if err := m.prepare(tokens, targets, B, T); err != nil {
		return 0, err
	}
	m.forward(m.Backend, m.Acts, tokens, targets, B, T, fc, scale/float32(max(m.counted, 1)))
	loss := m.meanLoss()
	m.backward(m.Backend, m.Grads, m.Acts, tokens, targets, 0, B, T, true)
	m.targets = nil
	return loss, nil
}

// Loss is Forward's mean loss, for evaluation: on a backend with a FusedClassifier the fused
// classifier computes it with scale 0, overwriting the logits, so that evaluating a training
// batch never stores the probabilities either.
func (m *Model) Loss(tokens, targets []int32, B, T int) (float32, error) {
	fc, ok := m.Backend.(FusedClassifier)
	if !ok || targets == nil || len(m.parts(B)) > 1 {
		return m.Forward(tokens, targets, B, T)
	}
	if err := m.prepare(tokens, targets, B, T); err != nil {
		return 0, err
	}
	m.forward(m.Backend, m.Acts, tokens, targets, B, T, fc, 0)
	m.targets = nil // the logits are gone: no Backward
	return m.meanLoss(), nil
}

// prepare checks a batch, sizes the activations for it and notes its tokens and targets.
func (m *Model) prepare(tokens, targets []int32, B, T int) error {
	c := m.Config
	V := c.VocabSize
	if B < 1 || T < 1 || T > c.Context {
		return fmt.Errorf("batch %d×%d: want at least 1×1 and at most %d tokens a row", B, T, c.Context)
	}
	if err := checkTokens("token", tokens, B*T, V); err != nil {
		return err
	}
	if targets != nil {
		if err := checkTargets(targets, B*T, V); err != nil {
			return err
		}
	}
	m.allocActs(B, T)
	m.tokens, m.targets = tokens, targets
	m.counted = 0
	for _, t := range targets {
		if t != IgnoreTarget {
			m.counted++
		}
	}
	return nil
}

// meanLoss is the mean of the losses of the last forward pass over its counted targets.
func (m *Model) meanLoss() float32 {
	if m.counted == 0 {
		return 0
	}
	m.Backend.Download(m.losses, m.Acts.Losses)
	var sum float64
	for _, x := range m.losses {
		sum += float64(x)
	}
	return float32(sum / float64(m.counted))
}

// forward runs the layers on be over tokens (B,T) into acts, and the loss when there are
// targets: Forward's work for the rows that acts holds. With fc, the loss comes from the fused
// classifier, which leaves in acts.Logits the gradient of scale × the summed loss.
func (m *Model) forward(be Backend, acts Activations, tokens, targets []int32, B, T int, fc FusedClassifier, scale float32) {
	c, p := m.Config, m.Params
	V, L, NH, C := c.VocabSize, c.Layers, c.Heads, c.Dim
	N := B * T
	// residualLN: res = x + y, then the LayerNorm of it, fused where the backend can
	residualLN := func(res, out, mean, rstd, x, y, weight, bias Buf) {
		if rl, ok := be.(ResidualLayerNormer); ok {
			rl.ResidualLayerNormForward(res, out, mean, rstd, x, y, weight, bias, N, C)
			return
		}
		be.ResidualForward(res, x, y, N*C)
		be.LayerNormForward(out, mean, rstd, res, weight, bias, N, C)
	}
	be.EncoderForward(acts.Encoded, tokens, p.Wte, p.Wpe, B, T, C)
	residual := acts.Encoded
	first := acts.Layers[0]
	be.LayerNormForward(first.Ln1, first.Ln1Mean, first.Ln1Rstd, residual, p.Blocks[0].Ln1W, p.Blocks[0].Ln1B, N, C)
	for l := range L {
		w, a := p.Blocks[l], acts.Layers[l]
		// a.Ln1 is made: above for the first layer, with the residual of the one before else
		be.MatmulForward(a.Qkv, a.Ln1, w.QkvW, w.QkvB, N, C, 3*C)
		be.AttentionForward(a.Atty, a.Att, a.Qkv, B, T, C, NH)
		be.MatmulForward(a.AttProj, a.Atty, w.AttProjW, w.AttProjB, N, C, C)
		residualLN(a.Residual2, a.Ln2, a.Ln2Mean, a.Ln2Rstd, residual, a.AttProj, w.Ln2W, w.Ln2B)
		if mg, ok := be.(MatmulGeluer); ok {
			mg.MatmulGeluForward(a.Fch, a.FchGelu, a.Ln2, w.FcW, w.FcB, N, C, 4*C)
		} else {
			be.MatmulForward(a.Fch, a.Ln2, w.FcW, w.FcB, N, C, 4*C)
			be.GeluForward(a.FchGelu, a.Fch, N*4*C)
		}
		be.MatmulForward(a.FcProj, a.FchGelu, w.FcProjW, w.FcProjB, N, 4*C, C)
		// the block's output, and the LayerNorm that reads it: the next block's ln_1, or ln_f
		if l+1 < L {
			nw, na := p.Blocks[l+1], acts.Layers[l+1]
			residualLN(a.Residual3, na.Ln1, na.Ln1Mean, na.Ln1Rstd, a.Residual2, a.FcProj, nw.Ln1W, nw.Ln1B)
		} else {
			residualLN(a.Residual3, acts.Lnf, acts.LnfMean, acts.LnfRstd, a.Residual2, a.FcProj, p.LnfW, p.LnfB)
		}
		residual = a.Residual3
	}
	be.LogitsForward(acts.Logits, acts.Lnf, p.Wte, N, C, V)
	switch {
	case targets != nil && fc != nil:
		fc.ClassifierFused(acts.Logits, acts.Losses, targets, scale, N, V)
	case targets != nil:
		be.CrossEntropyForward(acts.Losses, acts.Probs, acts.Logits, targets, N, V)
	}
}

// checkTargets is checkTokens that lets IgnoreTarget through.
func checkTargets(ids []int32, n, V int) error {
	if len(ids) != n {
		return fmt.Errorf("%d targets for a batch of %d", len(ids), n)
	}
	for i, id := range ids {
		if id != IgnoreTarget && (id < 0 || int(id) >= V) {
			return fmt.Errorf("target %d at %d: outside the vocabulary of %d", id, i, V)
		}
	}
	return nil
}

func checkTokens(what string, ids []int32, n, V int) error {
	if len(ids) != n {
		return fmt.Errorf("%d %ss for a batch of %d", len(ids), what, n)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("%s %d at %d: outside the vocabulary of %d", what, id, i, V)
		}
	}
	return nil
}

// ZeroGrad sets the gradients to zero, before the first micro-batch of a step.
func (m *Model) ZeroGrad() { m.Backend.Zero(m.Grads.All) }

// Backward adds to Grads the gradient of scale × the mean loss of the last Forward, which must
// have had targets. With gradient accumulation over k micro-batches, scale is 1/k. It turns
// Acts.Probs into the gradient of the logits.
func (m *Model) Backward(scale float32) error {
	if m.targets == nil {
		return fmt.Errorf("backward: the last forward pass had no targets")
	}
	B, T := m.B, m.T
	parts := m.parts(B)
	for len(m.partGrads) < len(parts)-1 {
		m.partGrads = append(m.partGrads, m.Backend.Alloc(m.Grads.All.N))
	}
	runParts(len(parts), func(i int) {
		b0, b1 := i*B/len(parts), (i+1)*B/len(parts)
		g := m.Grads
		if i > 0 {
			g = newParams(m.Config, m.partGrads[i-1])
			parts[i].Zero(g.All)
		}
		m.backward(parts[i], g, m.Acts.rows(b0, b1, B), m.tokens[b0*T:b1*T], m.targets[b0*T:b1*T],
			scale/float32(max(m.counted, 1)), b1-b0, T, false)
	})
	if len(parts) > 1 {
		addGrads(m.Grads.All, m.partGrads[:len(parts)-1])
	}
	m.targets = nil // a second Backward would read dlogits as probs
	return nil
}

// backward adds to g the gradient of scale × the summed loss of the rows that acts holds,
// on be: Backward's work for those rows. fused says that the forward pass's fused classifier
// has left the gradient of the logits in acts.Logits already (scale is then unused).
func (m *Model) backward(be Backend, g Params, acts Activations, tokens, targets []int32, scale float32, B, T int, fused bool) {
	c, p := m.Config, m.Params
	V, L, NH, C := c.VocabSize, c.Layers, c.Heads, c.Dim
	N := B * T

	dlogits := acts.Logits
	if !fused {
		dlogits = acts.Probs // in place: probs are not needed again
		be.CrossEntropyBackward(dlogits, acts.Probs, targets, scale, N, V)
	}
	dlnf := acts.dBTC
	be.LogitsBackward(dlnf, g.Wte, dlogits, acts.Lnf, p.Wte, N, C, V)
	dresidual := acts.dResidual // the gradient of the last block's output, then of each block's input
	be.Zero(dresidual)
	be.LayerNormBackward(dresidual, g.LnfW, g.LnfB, dlnf, acts.Layers[L-1].Residual3, p.LnfW, acts.LnfMean, acts.LnfRstd, N, C)
	for l := L - 1; l >= 0; l-- {
		w, gw, a := p.Blocks[l], g.Blocks[l], acts.Layers[l]
		residual := acts.Encoded
		if l > 0 {
			residual = acts.Layers[l-1].Residual3
		}
		// residual3 = residual2 + fcproj: both get dresidual, which stays as residual2's
		dfch := acts.dBT4C
		if mg, ok := be.(MatmulGeluBackwarder); ok {
			mg.MatmulGeluBackward(dfch, gw.FcProjW, gw.FcProjB, dresidual, a.FchGelu, w.FcProjW, a.Fch, N, 4*C, C)
		} else {
			be.MatmulBackward(dfch, gw.FcProjW, gw.FcProjB, dresidual, a.FchGelu, w.FcProjW, N, 4*C, C)
			be.GeluBackward(dfch, a.Fch, dfch, N*4*C)
		}
		dln2 := acts.dBTC
		be.MatmulBackward(dln2, gw.FcW, gw.FcB, dfch, a.Ln2, w.FcW, N, C, 4*C)
		be.LayerNormBackward(dresidual, gw.Ln2W, gw.Ln2B, dln2, a.Residual2, w.Ln2W, a.Ln2Mean, a.Ln2Rstd, N, C)
		// residual2 = residual + attproj: likewise
		datty := acts.dBTC
		be.MatmulBackward(datty, gw.AttProjW, gw.AttProjB, dresidual, a.Atty, w.AttProjW, N, C, C)
		be.AttentionBackward(acts.dQkv, datty, a.Qkv, a.Att, B, T, C, NH)
		dln1 := acts.dBTC
		be.MatmulBackward(dln1, gw.QkvW, gw.QkvB, acts.dQkv, a.Ln1, w.QkvW, N, C, 3*C)
		be.LayerNormBackward(dresidual, gw.Ln1W, gw.Ln1B, dln1, residual, w.Ln1W, a.Ln1Mean, a.Ln1Rstd, N, C)
	}
	be.EncoderBackward(g.Wte, g.Wpe, dresidual, tokens, B, T, C)
}
