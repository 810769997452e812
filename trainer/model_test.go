package trainer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// cpu64 is the CPU backend in float64, for checking the whole model's gradients. Its buffers
// are addressed as a GPU backend's would be, by Buf.Dev, so Buf.View works on them unchanged:
// allocation i's value j is at Dev = i<<32 | 4(j+1).
type cpu64 struct{ allocs *[][]float64 }

var _ Backend = cpu64{}

func newCPU64() cpu64 { return cpu64{allocs: new([][]float64)} }

func (b cpu64) s(x Buf) []float64 {
	a, j := (*b.allocs)[x.Dev>>32], int(x.Dev&(1<<32-1))/4-1
	return a[j : j+x.N : j+x.N]
}

func (cpu64) Name() string { return "cpu64" }
func (b cpu64) Alloc(n int) Buf {
	*b.allocs = append(*b.allocs, make([]float64, n))
	return Buf{Dev: uintptr(len(*b.allocs)-1)<<32 | 4, N: n}
}
func (b cpu64) Upload(dst Buf, src []float32) {
	for i, x := range src {
		b.s(dst)[i] = float64(x)
	}
}
func (b cpu64) Download(dst []float32, src Buf) {
	for i, x := range b.s(src) {
		dst[i] = float32(x)
	}
}
func (b cpu64) Zero(x Buf) { clear(b.s(x)) }
func (b cpu64) EncoderForward(out Buf, tokens []int32, wte, wpe Buf, B, T, C int) {
	encoderForward(allCores, b.s(out), tokens, b.s(wte), b.s(wpe), B, T, C)
}
func (b cpu64) EncoderBackward(dwte, dwpe Buf, dout Buf, tokens []int32, B, T, C int) {
	encoderBackward(allCores, b.s(dwte), b.s(dwpe), b.s(dout), tokens, B, T, C)
}
func (b cpu64) LayerNormForward(out, mean, rstd Buf, inp, weight, bias Buf, N, C int) {
	layernormForward(allCores, b.s(out), b.s(mean), b.s(rstd), b.s(inp), b.s(weight), b.s(bias), N, C)
}
func (b cpu64) LayerNormBackward(dinp, dweight, dbias Buf, dout, inp, weight, mean, rstd Buf, N, C int) {
	layernormBackward(allCores, b.s(dinp), b.s(dweight), b.s(dbias), b.s(dout), b.s(inp), b.s(weight), b.s(mean), b.s(rstd), N, C)
}
func (b cpu64) MatmulForward(out Buf, inp, weight, bias Buf, N, C, OC int) {
	matmulForward(allCores, b.s(out), b.s(inp), b.s(weight), b.s(bias), N, C, OC)
}
func (b cpu64) MatmulBackward(dinp, dweight, dbias Buf, dout, inp, weight Buf, N, C, OC int) {
	matmulBackward(allCores, b.s(dinp), b.s(dweight), b.s(dbias), b.s(dout), b.s(inp), b.s(weight), N, C, OC)
}
func (b cpu64) AttentionForward(out, att Buf, qkv Buf, B, T, C, NH int) {
	attentionForward(allCores, b.s(out), b.s(att), b.s(qkv), B, T, C, NH)
}
func (b cpu64) AttentionBackward(dqkv Buf, dout, qkv, att Buf, B, T, C, NH int) {
	attentionBackward(allCores, b.s(dqkv), b.s(dout), b.s(qkv), b.s(att), B, T, C, NH)
}
func (b cpu64) AttentionDecode(out, att, kcache, vcache Buf, qkv Buf, t, maxT, C, NH int) {
	attentionDecode(b.s(out), b.s(att), b.s(kcache), b.s(vcache), b.s(qkv), t, maxT, C, NH)
}
func (b cpu64) GeluForward(out Buf, inp Buf, N int) { geluForward(allCores, b.s(out), b.s(inp), N) }
func (b cpu64) GeluBackward(dinp Buf, inp, dout Buf, N int) {
	geluBackward(allCores, b.s(dinp), b.s(inp), b.s(dout), N)
}
func (b cpu64) ResidualForward(out Buf, x, y Buf, N int) {
	residualForward(allCores, b.s(out), b.s(x), b.s(y), N)
}
func (b cpu64) LogitsForward(logits Buf, inp, wte Buf, N, C, V int) {
	logitsForward(allCores, b.s(logits), b.s(inp), b.s(wte), N, C, V)
}
func (b cpu64) LogitsBackward(dinp, dwte Buf, dlogits, inp, wte Buf, N, C, V int) {
	logitsBackward(allCores, b.s(dinp), b.s(dwte), b.s(dlogits), b.s(inp), b.s(wte), N, C, V)
}
func (b cpu64) CrossEntropyForward(losses, probs Buf, logits Buf, targets []int32, N, V int) {
	crossEntropyForward(allCores, b.s(losses), b.s(probs), b.s(logits), targets, N, V)
}
func (b cpu64) CrossEntropyBackward(dlogits Buf, probs Buf, targets []int32, scale float32, N, V int) {
	crossEntropyBackward(allCores, b.s(dlogits), b.s(probs), targets, float64(scale), N, V)
}
func (b cpu64) SumSquares(x Buf) float64 { return sumSquares(allCores, b.s(x)) }
func (b cpu64) AdamW(params, m, v Buf, grads Buf, a AdamWStep) {
	adamW(allCores, b.s(params), b.s(m), b.s(v), b.s(grads), a)
}

// tinyConfig is small enough to difference every parameter and big enough to have several
// heads, layers, and a ragged matmul edge everywhere.
var tinyConfig = Config{VocabSize: 7, Context: 5, Layers: 2, Heads: 2, Dim: 6}

func randTokens(rng *rand.Rand, n, V int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(V))
	}
	return ids
}

// TestModelGrad checks the gradient of the whole model's loss with respect to every
// parameter against central differences, running Model.Forward and Backward in float64.
func TestModelGrad(t *testing.T) {
	be := newCPU64()
	m, err := New(tinyConfig, be)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	params := be.s(m.Params.All)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range params { // GPT-2's init makes many gradients tiny: spread the weights out
		params[i] += rng.NormFloat64() * 0.3
	}
	B, T := 2, 4 // T below the context, to check that the position rows past T get no gradient
	tokens, targets := randTokens(rng, B*T, tinyConfig.VocabSize), randTokens(rng, B*T, tinyConfig.VocabSize)
	loss := func() float64 {
		if _, err := m.Forward(tokens, targets, B, T); err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, l := range be.s(m.Acts.Losses) {
			s += l
		}
		return s / float64(B*T)
	}
	loss()
	m.ZeroGrad()
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(1); err == nil {
		t.Error("a second Backward after one Forward: no error")
	}
	grads := append([]float64(nil), be.s(m.Grads.All)...)
	checkGrad(t, "model", params, grads, loss)
}

// TestModelFloat32 checks that the float32 model on the CPU backend (vectorised sgemm) computes
// the float64 model's logits, loss and gradients: on one core, with the batch in parts over three
// (Model.parts), and with every operation split three ways however small (one row, so no parts).
func TestModelFloat32(t *testing.T) {
	cfg := Config{VocabSize: 37, Context: 24, Layers: 2, Heads: 3, Dim: 48}
	for _, tc := range []struct {
		name  string
		be    CPU
		B     int
		split bool // lower the work below which operations stay on one goroutine to nothing
	}{
		{"one core", CPU{on: oneCore}, 3, false},
		{"parts", CPU{on: 3}, 3, false},
		{"operations split", CPU{on: 3}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.split {
				pw, gw := minParallelWork, minGemmWork
				minParallelWork, minGemmWork = 1, 1
				defer func() { minParallelWork, minGemmWork = pw, gw }()
			}
			b64 := newCPU64()
			m64, _ := New(cfg, b64)
			m32, _ := New(cfg, tc.be)
			m64.Init(7)
			m32.Init(7)
			rng := rand.New(rand.NewPCG(4, 4))
			B, T := tc.B, 24
			tokens, targets := randTokens(rng, B*T, cfg.VocabSize), randTokens(rng, B*T, cfg.VocabSize)
			for _, m := range []*Model{m64, m32} {
				if _, err := m.Forward(tokens, targets, B, T); err != nil {
					t.Fatal(err)
				}
				m.ZeroGrad()
				if err := m.Backward(1); err != nil {
					t.Fatal(err)
				}
			}
			l64, l32 := b64.s(m64.Acts.Losses), m32.Acts.Losses.Host
			for i := range l64 {
				if d := math.Abs(l64[i] - float64(l32[i])); d > 1e-5*math.Abs(l64[i]) {
					t.Fatalf("loss[%d]: float32 %g, float64 %g", i, l32[i], l64[i])
				}
			}
			relErr := func(a []float64, b []float32) float64 { // ‖a−b‖ / ‖a‖
				var num, den float64
				for i := range a {
					num += (a[i] - float64(b[i])) * (a[i] - float64(b[i]))
					den += a[i] * a[i]
				}
				return math.Sqrt(num / den)
			}
			if e := relErr(b64.s(m64.Acts.Logits), m32.Acts.Logits.Host); e > 1e-5 {
				t.Errorf("logits: relative error %g", e)
			}
			for _, ts := range cfg.Tensors() {
				g64 := b64.s(m64.Grads.All)[ts.Offset : ts.Offset+ts.Size()]
				g32 := m32.Grads.All.Host[ts.Offset : ts.Offset+ts.Size()]
				if e := relErr(g64, g32); e > 1e-4 {
					t.Errorf("%s: gradient relative error %g", ts.Name, e)
				}
			}
		})
	}
}

// TestModelSplit runs batches split over three cores (Model.parts: 5 rows as 1+2+2) against the
// same batches on one: the losses are the same bits (rows are independent), the gradients, two
// micro-batches accumulated, agree to rounding (the parts' sums are added in another order), and
// a second split run gives the same bits again.
func TestModelSplit(t *testing.T) {
	cfg := Config{VocabSize: 37, Context: 24, Layers: 2, Heads: 3, Dim: 48}
	rng := rand.New(rand.NewPCG(5, 5))
	B, T := 5, 24
	var batches [2][2][]int32
	for i := range batches {
		batches[i] = [2][]int32{randTokens(rng, B*T, cfg.VocabSize), randTokens(rng, B*T, cfg.VocabSize)}
	}
	run := func(be CPU) (*Model, [][]float32) {
		m, _ := New(cfg, be)
		m.Init(7)
		if n := len(m.parts(B)); n != be.cores() {
			t.Fatalf("%d cores: batch of %d in %d parts", be.cores(), B, n)
		}
		var losses [][]float32
		m.ZeroGrad()
		for _, b := range batches {
			if _, err := m.Forward(b[0], b[1], B, T); err != nil {
				t.Fatal(err)
			}
			losses = append(losses, append([]float32(nil), m.Acts.Losses.Host...))
			if err := m.Backward(0.5); err != nil {
				t.Fatal(err)
			}
		}
		return m, losses
	}
	one, oneLosses := run(CPU{on: oneCore})
	split, splitLosses := run(CPU{on: 3})
	again, _ := run(CPU{on: 3})
	for i := range oneLosses {
		for j := range oneLosses[i] {
			if oneLosses[i][j] != splitLosses[i][j] {
				t.Fatalf("batch %d loss[%d]: split %g, one core %g", i, j, splitLosses[i][j], oneLosses[i][j])
			}
		}
	}
	for _, ts := range cfg.Tensors() {
		g1 := one.Grads.All.Host[ts.Offset : ts.Offset+ts.Size()]
		gs := split.Grads.All.Host[ts.Offset : ts.Offset+ts.Size()]
		var num, den float64
		for i := range g1 {
			num += float64(g1[i]-gs[i]) * float64(g1[i]-gs[i])
			den += float64(g1[i]) * float64(g1[i])
		}
		if e := math.Sqrt(num / den); e > 1e-6 {
			t.Errorf("%s: split gradient relative error %g", ts.Name, e)
		}
	}
	for i, g := range split.Grads.All.Host {
		if g != again.Grads.All.Host[i] {
			t.Fatalf("gradient %d: %g, then %g on the same cores", i, g, again.Grads.All.Host[i])
		}
	}
}

// TestParts pins how many parts a batch is split into: one per core, at most one per row, and
// only as many as the copies of the gradients allow (GPT-2 small: none); never on other backends.
func TestParts(t *testing.T) {
	nano, _ := NamedConfig("nano", 0, 0)
	gpt2, _ := NamedConfig("gpt2", 50257, 1024)
	mid := Config{VocabSize: 50257, Context: 1024, Layers: 8, Heads: 8, Dim: 512} // 51M: one copy
	for _, tc := range []struct {
		cfg      Config
		be       Backend
		B, parts int
	}{
		{nano, CPU{on: 8}, 64, 8},
		{nano, CPU{on: 8}, 3, 3},
		{nano, CPU{on: oneCore}, 64, 1},
		{mid, CPU{on: 8}, 64, 2},
		{gpt2, CPU{on: 2}, 64, 1},
		{nano, newCPU64(), 64, 1},
	} {
		m := &Model{Config: tc.cfg, Backend: tc.be}
		if got := len(m.parts(tc.B)); got != tc.parts {
			t.Errorf("%d parameters, %s, batch %d: %d parts, want %d", tc.cfg.NumParams(), tc.be.Name(), tc.B, got, tc.parts)
		}
	}
}

// TestNanoParams pins the architecture to the 85,728-parameter model of the LLM visualization.
// That model (from minGPT) keeps its output layer lm_head (V,C) apart from wte; GPT-2 ties them,
// so the same shape has V×C = 144 fewer parameters of its own.
func TestNanoParams(t *testing.T) {
	c, err := NamedConfig("nano", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Config{VocabSize: 3, Context: 11, Layers: 3, Heads: 3, Dim: 48}) {
		t.Fatalf("nano = %+v", c)
	}
	if got := c.NumParams(); got != 85_584 {
		t.Errorf("nano parameters = %d, want 85,584", got)
	}
	if got := c.NumParams() + c.VocabSize*c.Dim; got != 85_728 {
		t.Errorf("nano parameters with an untied output layer = %d, want 85,728", got)
	}
}

// TestNamedSizes pins GPT-2 small and medium to their published sizes: 124,439,808 and
// 354,823,168 parameters with vocab 50,257 and context 1024.
func TestNamedSizes(t *testing.T) {
	for name, want := range map[string]int{"gpt2": 124_439_808, "gpt2-medium": 354_823_168} {
		c, err := NamedConfig(name, 50257, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.NumParams(); got != want {
			t.Errorf("%s: %d parameters, want %d", name, got, want)
		}
	}
	if got := strings.Join(SizeNames(), " "); got != "nano micro mini gpt2 gpt2-medium" {
		t.Errorf("SizeNames = %s", got)
	}
	if _, err := NamedConfig("huge", 10, 10); err == nil {
		t.Error("unknown size: no error")
	}
	if _, err := NamedConfig("micro", 0, 64); err == nil {
		t.Error("micro without a vocabulary: no error")
	}
	if err := (Config{VocabSize: 10, Context: 8, Layers: 1, Heads: 5, Dim: 48}).Validate(); err == nil {
		t.Error("dim not a multiple of heads: no error")
	}
}

// TestTensors checks the layout: HF names, contiguous, and the views over it.
func TestTensors(t *testing.T) {
	c := tinyConfig
	ts := c.Tensors()
	if len(ts) != 2+12*c.Layers+2 {
		t.Fatalf("%d tensors", len(ts))
	}
	off := 0
	for _, x := range ts {
		if x.Offset != off {
			t.Fatalf("%s at %d, want %d", x.Name, x.Offset, off)
		}
		off += x.Size()
	}
	want := map[string]string{ts[0].Name: "wte.weight", ts[4].Name: "h.0.attn.c_attn.weight", ts[len(ts)-1].Name: "ln_f.bias"}
	for got, w := range want {
		if got != w {
			t.Errorf("tensor name %s, want %s", got, w)
		}
	}
	if ts[4].Shape[0] != c.Dim || ts[4].Shape[1] != 3*c.Dim || !ts[4].Decay || ts[5].Decay {
		t.Errorf("c_attn: %+v, %+v", ts[4], ts[5])
	}
	m, _ := New(c, NewCPU())
	m.Init(1)
	if m.Params.Blocks[1].Ln2W.Host[0] != 1 || m.Params.LnfB.Host[0] != 0 {
		t.Error("LayerNorm init")
	}
	last := ts[len(ts)-1]
	if &m.Params.LnfB.Host[0] != &m.Params.All.Host[last.Offset] {
		t.Error("ln_f.bias is not a view of the allocation")
	}
}

func TestForwardErrors(t *testing.T) {
	m, _ := New(tinyConfig, NewCPU())
	for _, tc := range []struct {
		name            string
		tokens, targets []int32
		B, T            int
		want            string
	}{
		{"long", make([]int32, 6), nil, 1, 6, "at most 5"},
		{"short", make([]int32, 3), nil, 1, 4, "3 tokens"},
		{"vocab", []int32{0, 7}, nil, 1, 2, "token 7 at 1"},
		{"target", []int32{0, 1}, []int32{-2, 0}, 1, 2, "target -2 at 0"}, // -1 is IgnoreTarget
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Forward(tc.tokens, tc.targets, tc.B, tc.T)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
	if loss, err := m.Forward([]int32{1, 2}, nil, 1, 2); err != nil || loss != -1 {
		t.Errorf("forward without targets: %g, %v", loss, err)
	}
}

// fusedCPU is the CPU backend with a fused classifier made of its own two loss functions, so
// that ForwardBackward's fused path (the one the GPU takes) runs against the reference.
type fusedCPU struct {
	CPU
	calls int
}

func (f *fusedCPU) ClassifierFused(logits, losses Buf, targets []int32, scale float32, N, V int) {
	f.calls++
	probs := f.Alloc(N * V)
	f.CrossEntropyForward(losses, probs, logits, targets, N, V)
	f.CrossEntropyBackward(logits, probs, targets, scale, N, V)
}

// TestForwardBackwardFused checks that ForwardBackward through a backend's fused classifier
// gives the loss and gradients of Forward then Backward, accumulated over two micro-batches with
// scale 1/2 and an ignored target, and that it never allocates the probabilities.
func TestForwardBackwardFused(t *testing.T) {
	cfg := Config{VocabSize: 37, Context: 16, Layers: 2, Heads: 2, Dim: 32}
	rng := rand.New(rand.NewPCG(9, 9))
	B, T := 3, 16
	var batches [2][2][]int32
	for i := range batches {
		batches[i] = [2][]int32{randTokens(rng, B*T, cfg.VocabSize), randTokens(rng, B*T, cfg.VocabSize)}
	}
	batches[1][1][4] = IgnoreTarget
	fused := &fusedCPU{CPU: CPU{on: oneCore}}
	ref, _ := New(cfg, CPU{on: oneCore})
	got, _ := New(cfg, fused)
	ref.Init(3)
	got.Init(3)
	ref.ZeroGrad()
	got.ZeroGrad()
	for i, b := range batches {
		want, err := ref.Forward(b[0], b[1], B, T)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Backward(0.5); err != nil {
			t.Fatal(err)
		}
		loss, err := got.ForwardBackward(b[0], b[1], B, T, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if loss != want {
			t.Errorf("batch %d: loss %v, Forward's %v", i, loss, want)
		}
	}
	if fused.calls != 2 {
		t.Errorf("the fused classifier ran %d times, want 2", fused.calls)
	}
	if got.Acts.Probs.N != 0 {
		t.Errorf("ForwardBackward allocated the probabilities (%d values)", got.Acts.Probs.N)
	}
	for i, g := range got.Grads.All.Host {
		if g != ref.Grads.All.Host[i] {
			t.Fatalf("gradient %d: %g, Forward+Backward's %g", i, g, ref.Grads.All.Host[i])
		}
	}
	if err := got.Backward(1); err == nil {
		t.Error("Backward after ForwardBackward: no error (the logits hold gradients now)")
	}
	want, _ := ref.Forward(batches[1][0], batches[1][1], B, T)
	loss, err := got.Loss(batches[1][0], batches[1][1], B, T)
	if err != nil || loss != want || fused.calls != 3 || got.Acts.Probs.N != 0 {
		t.Errorf("Loss: %v (%v), Forward's %v; fused classifier calls %d, probabilities %d", loss, err, want, fused.calls, got.Acts.Probs.N)
	}
}
