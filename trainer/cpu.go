package trainer

// CPU is the reference backend: the functions of ops.go in float32 on every core.
type CPU struct{}

var _ Backend = CPU{}

// NewCPU returns the CPU backend.
func NewCPU() CPU { return CPU{} }

func (CPU) Name() string { return "cpu" }

func (CPU) Alloc(n int) Buf { return Buf{Host: make([]float32, n), N: n} }

func (CPU) Upload(dst Buf, src []float32) { copy(dst.Host, src) }

func (CPU) Download(dst []float32, src Buf) { copy(dst, src.Host) }

func (CPU) Zero(x Buf) { clear(x.Host) }

func (CPU) EncoderForward(out Buf, tokens []int32, wte, wpe Buf, B, T, C int) {
	encoderForward(out.Host, tokens, wte.Host, wpe.Host, B, T, C)
}

func (CPU) EncoderBackward(dwte, dwpe Buf, dout Buf, tokens []int32, B, T, C int) {
	encoderBackward(dwte.Host, dwpe.Host, dout.Host, tokens, B, T, C)
}

func (CPU) LayerNormForward(out, mean, rstd Buf, inp, weight, bias Buf, N, C int) {
	layernormForward(out.Host, mean.Host, rstd.Host, inp.Host, weight.Host, bias.Host, N, C)
}

func (CPU) LayerNormBackward(dinp, dweight, dbias Buf, dout, inp, weight, mean, rstd Buf, N, C int) {
	layernormBackward(dinp.Host, dweight.Host, dbias.Host, dout.Host, inp.Host, weight.Host, mean.Host, rstd.Host, N, C)
}

func (CPU) MatmulForward(out Buf, inp, weight, bias Buf, N, C, OC int) {
	matmulForward(out.Host, inp.Host, weight.Host, bias.Host, N, C, OC)
}

func (CPU) MatmulBackward(dinp, dweight, dbias Buf, dout, inp, weight Buf, N, C, OC int) {
	matmulBackward(dinp.Host, dweight.Host, dbias.Host, dout.Host, inp.Host, weight.Host, N, C, OC)
}

func (CPU) AttentionForward(out, att Buf, qkv Buf, B, T, C, NH int) {
	attentionForward(out.Host, att.Host, qkv.Host, B, T, C, NH)
}

func (CPU) AttentionBackward(dqkv Buf, dout, qkv, att Buf, B, T, C, NH int) {
	attentionBackward(dqkv.Host, dout.Host, qkv.Host, att.Host, B, T, C, NH)
}

func (CPU) GeluForward(out Buf, inp Buf, N int) { geluForward(out.Host, inp.Host, N) }

func (CPU) GeluBackward(dinp Buf, inp, dout Buf, N int) {
	geluBackward(dinp.Host, inp.Host, dout.Host, N)
}

func (CPU) ResidualForward(out Buf, a, b Buf, N int) { residualForward(out.Host, a.Host, b.Host, N) }

func (CPU) LogitsForward(logits Buf, inp, wte Buf, N, C, V int) {
	logitsForward(logits.Host, inp.Host, wte.Host, N, C, V)
}

func (CPU) LogitsBackward(dinp, dwte Buf, dlogits, inp, wte Buf, N, C, V int) {
	logitsBackward(dinp.Host, dwte.Host, dlogits.Host, inp.Host, wte.Host, N, C, V)
}

func (CPU) CrossEntropyForward(losses, probs Buf, logits Buf, targets []int32, N, V int) {
	crossEntropyForward(losses.Host, probs.Host, logits.Host, targets, N, V)
}

func (CPU) CrossEntropyBackward(dlogits Buf, probs Buf, targets []int32, scale float32, N, V int) {
	crossEntropyBackward(dlogits.Host, probs.Host, targets, scale, N, V)
}

func (CPU) SumSquares(x Buf) float64 { return sumSquares(x.Host) }

func (CPU) AdamW(params, m, v Buf, grads Buf, a AdamWStep) {
	adamW(params.Host, m.Host, v.Host, grads.Host, a)
}
