package trainer

// CPU is the reference backend: the functions of ops.go in float32, each split over every
// core (the zero value, NewCPU) or on one (oneCore, the backend of each part when Model
// spreads the rows of a batch over the cores; see Model.parts).
type CPU struct{ on cores }

var _ Backend = CPU{}

// NewCPU returns the CPU backend.
func NewCPU() CPU { return CPU{} }

// cores is the number of cores the backend splits its work over.
func (c CPU) cores() int { return c.on.n() }

// oneCore is the backend on the calling goroutine alone.
func (CPU) oneCore() Backend { return CPU{on: oneCore} }

func (CPU) Name() string { return "cpu" }

func (CPU) Alloc(n int) Buf { return Buf{Host: make([]float32, n), N: n} }

func (CPU) Upload(dst Buf, src []float32) { copy(dst.Host, src) }

func (CPU) Download(dst []float32, src Buf) { copy(dst, src.Host) }

func (CPU) Zero(x Buf) { clear(x.Host) }

func (c CPU) EncoderForward(out Buf, tokens []int32, wte, wpe Buf, B, T, C int) {
	encoderForward(c.on, out.Host, tokens, wte.Host, wpe.Host, B, T, C)
}

func (c CPU) EncoderBackward(dwte, dwpe Buf, dout Buf, tokens []int32, B, T, C int) {
	encoderBackward(c.on, dwte.Host, dwpe.Host, dout.Host, tokens, B, T, C)
}

func (c CPU) LayerNormForward(out, mean, rstd Buf, inp, weight, bias Buf, N, C int) {
	layernormForward(c.on, out.Host, mean.Host, rstd.Host, inp.Host, weight.Host, bias.Host, N, C)
}

func (c CPU) LayerNormBackward(dinp, dweight, dbias Buf, dout, inp, weight, mean, rstd Buf, N, C int) {
	layernormBackward(c.on, dinp.Host, dweight.Host, dbias.Host, dout.Host, inp.Host, weight.Host, mean.Host, rstd.Host, N, C)
}

func (c CPU) MatmulForward(out Buf, inp, weight, bias Buf, N, C, OC int) {
	matmulForward(c.on, out.Host, inp.Host, weight.Host, bias.Host, N, C, OC)
}

func (c CPU) MatmulBackward(dinp, dweight, dbias Buf, dout, inp, weight Buf, N, C, OC int) {
	matmulBackward(c.on, dinp.Host, dweight.Host, dbias.Host, dout.Host, inp.Host, weight.Host, N, C, OC)
}

func (c CPU) AttentionForward(out, att Buf, qkv Buf, B, T, C, NH int) {
	attentionForward(c.on, out.Host, att.Host, qkv.Host, B, T, C, NH)
}

func (c CPU) AttentionBackward(dqkv Buf, dout, qkv, att Buf, B, T, C, NH int) {
	attentionBackward(c.on, dqkv.Host, dout.Host, qkv.Host, att.Host, B, T, C, NH)
}

func (c CPU) AttentionDecode(out, att, kcache, vcache Buf, qkv Buf, t, maxT, C, NH int) {
	attentionDecode(out.Host, att.Host, kcache.Host, vcache.Host, qkv.Host, t, maxT, C, NH)
}

func (c CPU) GeluForward(out Buf, inp Buf, N int) { geluForward(c.on, out.Host, inp.Host, N) }

func (c CPU) GeluBackward(dinp Buf, inp, dout Buf, N int) {
	geluBackward(c.on, dinp.Host, inp.Host, dout.Host, N)
}

func (c CPU) ResidualForward(out Buf, a, b Buf, N int) {
	residualForward(c.on, out.Host, a.Host, b.Host, N)
}

func (c CPU) LogitsForward(logits Buf, inp, wte Buf, N, C, V int) {
	logitsForward(c.on, logits.Host, inp.Host, wte.Host, N, C, V)
}

func (c CPU) LogitsBackward(dinp, dwte Buf, dlogits, inp, wte Buf, N, C, V int) {
	logitsBackward(c.on, dinp.Host, dwte.Host, dlogits.Host, inp.Host, wte.Host, N, C, V)
}

func (c CPU) CrossEntropyForward(losses, probs Buf, logits Buf, targets []int32, N, V int) {
	crossEntropyForward(c.on, losses.Host, probs.Host, logits.Host, targets, N, V)
}

func (c CPU) CrossEntropyBackward(dlogits Buf, probs Buf, targets []int32, scale float32, N, V int) {
	crossEntropyBackward(c.on, dlogits.Host, probs.Host, targets, scale, N, V)
}

func (c CPU) SumSquares(x Buf) float64 { return sumSquares(c.on, x.Host) }

func (c CPU) AdamW(params, m, v Buf, grads Buf, a AdamWStep) {
	adamW(c.on, params.Host, m.Host, v.Host, grads.Host, a)
}
