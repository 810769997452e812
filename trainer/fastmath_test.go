package trainer

import (
	"math"
	"testing"
)

// TestFastMath holds exp32 and tanh32 to package math over their useful range.
func TestFastMath(t *testing.T) {
	var worstExp, worstTanh float64
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		if want < 1e-37 {
			continue
		}
		worstExp = max(worstExp, math.Abs(float64(exp32(x))-want)/want)
	}
	for x := float32(-10); x < 10; x += 0.000731 {
		want := math.Tanh(float64(x))
		worstTanh = max(worstTanh, math.Abs(float64(tanh32(x))-want)/max(math.Abs(want), 1e-30))
	}
	if worstExp > 4e-7 || worstTanh > 4e-7 {
		t.Errorf("worst relative error: exp32 %g, tanh32 %g", worstExp, worstTanh)
	}
	t.Logf("worst relative error: exp32 %g, tanh32 %g", worstExp, worstTanh)
	if exp32(0) != 1 || exp32(-100) != 0 || !math.IsInf(float64(exp32(100)), 1) || tanh32(0) != 0 || tanh32(20) != 1 {
		t.Errorf("exp32(0) = %g, exp32(-100) = %g, exp32(100) = %g, tanh32(0) = %g, tanh32(20) = %g",
			exp32(0), exp32(-100), exp32(100), tanh32(0), tanh32(20))
	}
}

func BenchmarkTanh(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 512
	}
	b.Run("tanh32", func(b *testing.B) {
		var s float32
		for b.Loop() {
			for _, x := range xs {
				s += tanh32(x)
			}
		}
		_ = s
	})
	b.Run("math.Tanh", func(b *testing.B) {
		var s float64
		for b.Loop() {
			for _, x := range xs {
				s += math.Tanh(float64(x))
			}
		}
		_ = s
	})
}

// TestGeluFloat32 holds GELU in float32, forward and backward, vectorised and in Go, to the
// float64 layers.
func TestGeluFloat32(t *testing.T) {
	const n = 8*50 + 5
	inp, dout := make([]float32, n), make([]float32, n)
	in64, dout64 := make([]float64, n), make([]float64, n)
	for i := range inp {
		inp[i] = float32(i-n/2) / 20 // −10 … 10
		dout[i] = float32(i%7) - 3
		in64[i], dout64[i] = float64(inp[i]), float64(dout[i])
	}
	out64, dinp64 := make([]float64, n), make([]float64, n)
	geluForward(allCores, out64, in64, n)
	geluBackward(allCores, dinp64, in64, dout64, n)
	vec, bvec := geluVec, geluBackwardVec
	defer func() { geluVec, geluBackwardVec = vec, bvec }()
	for _, name := range []string{"vec", "go"} {
		if name == "go" {
			geluVec, geluBackwardVec = nil, nil
		} else if vec == nil {
			continue
		}
		out, dinp := make([]float32, n), make([]float32, n)
		geluForward(allCores, out, inp, n)
		geluBackward(allCores, dinp, inp, dout, n)
		for i := range n {
			// float32's tanh is 1 − 2⁻²⁴ at best, so ½x(1 + tanh x) is off by up to 1e-7·|x|
			if d := math.Abs(float64(out[i]) - out64[i]); d > 1e-6*max(1, math.Abs(in64[i])) {
				t.Fatalf("%s: gelu(%g) = %g, want %g", name, inp[i], out[i], out64[i])
			}
			if d := math.Abs(float64(dinp[i]) - dinp64[i]); d > 2e-6*max(1, math.Abs(in64[i]*dout64[i])) {
				t.Fatalf("%s: gelu'(%g)·%g = %g, want %g", name, inp[i], dout[i], dinp[i], dinp64[i])
			}
		}
	}
}

// TestExpSum holds the vectorised exp-and-sum to package math.
func TestExpSum(t *testing.T) {
	if expSumVec == nil {
		t.Skip("no vectorised exp on this CPU")
	}
	src := make([]float32, 8*40+3)
	for i := range src {
		src[i] = float32(i)*0.7 - 120
	}
	dst := make([]float32, len(src))
	const scale, shift = 0.5, -3
	sum := expSumVec(dst, src, scale, shift)
	var want float64
	for i, x := range src {
		e := math.Exp(float64(scale*x - shift))
		want += e
		if math.Abs(float64(dst[i])-e) > 4e-7*e+1e-37 {
			t.Fatalf("exp(%g) = %g, want %g", scale*x-shift, dst[i], e)
		}
	}
	if math.Abs(float64(sum)-want) > 1e-6*want {
		t.Errorf("sum = %g, want %g", sum, want)
	}
}
