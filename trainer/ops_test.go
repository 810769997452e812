package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The gradient of every layer against central finite differences, in float64: the layers are
// generic, so this is the code the model runs, at a precision where differences are exact to
// about 1e-9.

func rand64(rng *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64() * scale
	}
	return s
}

// dot is Σ a⊙b: the scalar "loss" whose gradient with respect to a layer's output is w.
func dot(a, w []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * w[i]
	}
	return s
}

// checkGrad compares got, the analytic gradient of f with respect to x, with central
// differences of f.
func checkGrad(t *testing.T, name string, x, got []float64, f func() float64) {
	t.Helper()
	const h = 1e-5
	if len(got) != len(x) {
		t.Fatalf("%s: %d gradients for %d inputs", name, len(got), len(x))
	}
	for i := range x {
		orig := x[i]
		x[i] = orig + h
		fp := f()
		x[i] = orig - h
		fm := f()
		x[i] = orig
		num := (fp - fm) / (2 * h)
		if d := math.Abs(num - got[i]); d > 1e-6*max(1, math.Abs(num)) {
			t.Fatalf("%s[%d]: analytic %.10g, numerical %.10g", name, i, got[i], num)
		}
	}
}

func TestEncoderGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	B, T, C, V := 2, 3, 4, 5
	tokens := []int32{0, 4, 4, 2, 0, 1}
	wte, wpe := rand64(rng, V*C, 1), rand64(rng, T*C, 1)
	w := rand64(rng, B*T*C, 1)
	out := make([]float64, B*T*C)
	f := func() float64 { encoderForward(allCores, out, tokens, wte, wpe, B, T, C); return dot(out, w) }
	dwte, dwpe := make([]float64, V*C), make([]float64, T*C)
	encoderBackward(allCores, dwte, dwpe, w, tokens, B, T, C)
	checkGrad(t, "dwte", wte, dwte, f)
	checkGrad(t, "dwpe", wpe, dwpe, f)
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	N, C := 5, 7
	inp, weight, bias := rand64(rng, N*C, 2), rand64(rng, C, 1), rand64(rng, C, 1)
	w := rand64(rng, N*C, 1)
	out, mean, rstd := make([]float64, N*C), make([]float64, N), make([]float64, N)
	f := func() float64 {
		layernormForward(allCores, out, mean, rstd, inp, weight, bias, N, C)
		return dot(out, w)
	}
	f()
	dinp, dweight, dbias := make([]float64, N*C), make([]float64, C), make([]float64, C)
	layernormBackward(allCores, dinp, dweight, dbias, w, inp, weight, mean, rstd, N, C)
	checkGrad(t, "dinp", inp, dinp, f)
	checkGrad(t, "dweight", weight, dweight, f)
	checkGrad(t, "dbias", bias, dbias, f)
}

func TestMatmulGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	N, C, OC := 5, 4, 7
	inp, weight, bias := rand64(rng, N*C, 1), rand64(rng, C*OC, 1), rand64(rng, OC, 1)
	w := rand64(rng, N*OC, 1)
	out := make([]float64, N*OC)
	f := func() float64 { matmulForward(allCores, out, inp, weight, bias, N, C, OC); return dot(out, w) }
	dinp, dweight, dbias := rand64(rng, N*C, 1), make([]float64, C*OC), make([]float64, OC) // dinp is overwritten
	matmulBackward(allCores, dinp, dweight, dbias, w, inp, weight, N, C, OC)
	checkGrad(t, "dinp", inp, dinp, f)
	checkGrad(t, "dweight", weight, dweight, f)
	checkGrad(t, "dbias", bias, dbias, f)
}

func TestAttentionGrad(t *testing.T) {
	for _, chunk := range []int{attnChunk, 3} { // one chunk, and several with a ragged last
		saved := attnChunk
		attnChunk = chunk
		testAttentionGrad(t)
		attnChunk = saved
	}
}

func testAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 4))
	B, T, C, NH := 2, 7, 6, 2
	qkv := rand64(rng, B*T*3*C, 1)
	w := rand64(rng, B*T*C, 1)
	out, att := make([]float64, B*T*C), make([]float64, B*NH*T*T)
	f := func() float64 { attentionForward(allCores, out, att, qkv, B, T, C, NH); return dot(out, w) }
	f()
	for bh := range B * NH { // causal: each row sums to 1 over t2 ≤ t and is 0 above
		for t1 := range T {
			var s float64
			for t2 := range T {
				a := att[(bh*T+t1)*T+t2]
				if t2 > t1 && a != 0 {
					t.Fatalf("att[%d,%d,%d] = %g above the diagonal", bh, t1, t2, a)
				}
				s += a
			}
			if math.Abs(s-1) > 1e-12 {
				t.Fatalf("att row %d,%d sums to %g", bh, t1, s)
			}
		}
	}
	dqkv := rand64(rng, B*T*3*C, 1) // overwritten
	attentionBackward(allCores, dqkv, w, qkv, att, B, T, C, NH)
	checkGrad(t, "dqkv", qkv, dqkv, f)
}

func TestGeluGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 5))
	N := 20
	inp, w := rand64(rng, N, 2), rand64(rng, N, 1)
	out := make([]float64, N)
	f := func() float64 { geluForward(allCores, out, inp, N); return dot(out, w) }
	dinp := append([]float64(nil), w...) // in place, as the model calls it
	geluBackward(allCores, dinp, inp, dinp, N)
	checkGrad(t, "dinp", inp, dinp, f)
	// a known value: gelu(1) with the tanh approximation
	geluForward(allCores, out[:1], []float64{1}, 1)
	if math.Abs(out[0]-0.8411919906082768) > 1e-12 {
		t.Errorf("gelu(1) = %.16g", out[0])
	}
}

func TestResidual(t *testing.T) {
	out := make([]float64, 3)
	residualForward(allCores, out, []float64{1, 2, 3}, []float64{10, 20, 30}, 3)
	if out[0] != 11 || out[1] != 22 || out[2] != 33 {
		t.Errorf("residual: %v", out)
	}
}

func TestLogitsGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 6))
	N, C, V := 4, 5, 7
	inp, wte := rand64(rng, N*C, 1), rand64(rng, V*C, 1)
	w := rand64(rng, N*V, 1)
	logits := make([]float64, N*V)
	f := func() float64 { logitsForward(allCores, logits, inp, wte, N, C, V); return dot(logits, w) }
	dinp, dwte := make([]float64, N*C), make([]float64, V*C)
	logitsBackward(allCores, dinp, dwte, w, inp, wte, N, C, V)
	checkGrad(t, "dinp", inp, dinp, f)
	checkGrad(t, "dwte", wte, dwte, f)
}

func TestCrossEntropyGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	N, V := 4, 6
	logits := rand64(rng, N*V, 3)
	targets := []int32{0, 5, 2, 2}
	losses, probs := make([]float64, N), make([]float64, N*V)
	const scale = 0.25
	f := func() float64 {
		crossEntropyForward(allCores, losses, probs, logits, targets, N, V)
		var s float64
		for _, l := range losses {
			s += l
		}
		return scale * s
	}
	f()
	for r := range N { // the loss is −log of the target's probability
		if got, want := losses[r], -math.Log(probs[r*V+int(targets[r])]); math.Abs(got-want) > 1e-12 {
			t.Fatalf("loss[%d] = %g, want %g", r, got, want)
		}
	}
	dlogits := probs // in place, as the model calls it
	crossEntropyBackward(allCores, dlogits, probs, targets, scale, N, V)
	checkGrad(t, "dlogits", logits, append([]float64(nil), dlogits...), f)
}

func TestSumSquares(t *testing.T) {
	x := make([]float32, 1<<17+3)
	for i := range x {
		x[i] = 0.5
	}
	if got, want := sumSquares(allCores, x), 0.25*float64(len(x)); got != want {
		t.Errorf("sumSquares = %g, want %g", got, want)
	}
}
