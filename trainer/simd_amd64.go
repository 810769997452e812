//go:build amd64 && !purego

package trainer

import "golang.org/x/sys/cpu"

// The AVX2 + FMA assembly: the matrix multiply's micro-kernel (gemm_amd64.s), GELU
// (gelu_amd64.s), the softmaxes' exp (exp_amd64.s) and AdamW (adamw_amd64.s), used where the
// CPU has both extensions.

// kernelAVX2 is the micro-kernel: the 6×16 tile of c lives in 12 ymm registers while k rank-1
// updates stream through.
//
//go:noescape
func kernelAVX2(k int, a *float32, ai, ap int, b, c *float32, ldc int, store bool)

// packRowsAVX2 copies k rows of 16 floats, ld apart in src, into dst one after another.
//
//go:noescape
func packRowsAVX2(dst, src *float32, k, ld int)

// geluAVX2 is geluForward over n values, n a multiple of 8, with tanh32's rational function.
//
//go:noescape
func geluAVX2(out, inp *float32, n int, k *[geluConstN][8]float32)

// geluBackwardAVX2 is geluBackward over n values, n a multiple of 8.
//
//go:noescape
func geluBackwardAVX2(dinp, inp, dout *float32, n int, k *[geluConstN][8]float32)

// adamWAVX2 is adamWVec over n values, n a multiple of 8.
//
//go:noescape
func adamWAVX2(params, m, v, grads *float32, n int, k *[adamWConstN][8]float32)

// expSumAVX2 is expSumVec over n values, n a multiple of 8.
//
//go:noescape
func expSumAVX2(dst, src *float32, n int, scale, shift float32, k *[expConstN][8]float32) float32

func init() {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return
	}
	kernel, KernelName = kernelAVX2, "avx2"
	packRows = func(dst, src []float32, k, ld int) {
		_ = dst[k*nr-1]
		_ = src[(k-1)*ld+nr-1]
		packRowsAVX2(&dst[0], &src[0], k, ld)
	}
	geluVec = func(out, inp []float32) {
		if n := len(inp) &^ 7; n > 0 {
			geluAVX2(&out[0], &inp[0], n, &geluConsts)
		}
	}
	expSumVec = func(dst, src []float32, scale, shift float32) float32 {
		var sum float32
		n := len(src) &^ 7
		if n > 0 {
			sum = expSumAVX2(&dst[0], &src[0], n, scale, shift, &expConsts)
		}
		for i := n; i < len(src); i++ {
			e := exp32(scale*src[i] - shift)
			dst[i] = e
			sum += e
		}
		return sum
	}
	adamWVec = func(params, m, v, grads []float32, k *[adamWConstN][8]float32) {
		if n := len(params) &^ 7; n > 0 {
			_, _, _ = m[n-1], v[n-1], grads[n-1]
			adamWAVX2(&params[0], &m[0], &v[0], &grads[0], n, k)
		}
	}
	geluBackwardVec = func(dinp, inp, dout []float32) {
		if n := len(inp) &^ 7; n > 0 {
			geluBackwardAVX2(&dinp[0], &inp[0], &dout[0], n, &geluConsts)
		}
	}
}
