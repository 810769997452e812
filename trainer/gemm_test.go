package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// withKernel runs f with the micro-kernel k in use.
func withKernel(t testing.TB, k func(int, *float32, int, int, *float32, *float32, int, bool), f func()) {
	saved := kernel
	kernel = k
	defer func() { kernel = saved }()
	f()
}

func kernels() map[string]func(int, *float32, int, int, *float32, *float32, int, bool) {
	ks := map[string]func(int, *float32, int, int, *float32, *float32, int, bool){"go": kernelGo}
	if KernelName != "go" {
		ks[KernelName] = kernel
	}
	return ks
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestSgemm holds sgemm, with each micro-kernel, to the three-loop definition over shapes
// with ragged edges, both transposes, strides wider than the matrix, accumulation, and
// several goroutines.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 15, 300}, {13, 40, 257}, {150, 33, 64}, {64, 3100, 20}, {20, 30, 1100}}
	for name, k := range kernels() {
		for _, s := range shapes {
			M, N, K := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, acc := range []bool{false, true} {
						for _, workers := range []int{1, 3} {
							lda, ldb, ldc := K+2, N+1, N+3
							if ta {
								lda = M + 2
							}
							if tb {
								ldb = K + 1
							}
							a := randSlice(rng, max(M, K)*lda)
							b := randSlice(rng, max(K, N)*ldb)
							c := randSlice(rng, M*ldc)
							want := append([]float32(nil), c...)
							gemmRef(want, ldc, a, lda, ta, b, ldb, tb, M, N, K, acc)
							withKernel(t, k, func() { sgemm(c, ldc, a, lda, ta, b, ldb, tb, M, N, K, acc, workers) })
							for i := range M {
								for j := range ldc {
									got, w := c[i*ldc+j], want[i*ldc+j]
									if math.Abs(float64(got-w)) > 1e-4*math.Sqrt(float64(K))*max(1, math.Abs(float64(w))) {
										t.Fatalf("%s M=%d N=%d K=%d ta=%v tb=%v acc=%v workers=%d: c[%d,%d] = %g, want %g",
											name, M, N, K, ta, tb, acc, workers, i, j, got, w)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkSgemm reports GFLOP/s of square and model-shaped products, on one core and all,
// with each micro-kernel. bench_sgemm.py measures OpenBLAS on the same shapes.
func BenchmarkSgemm(b *testing.B) {
	shapes := [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {4096, 384, 1536}, {4096, 1536, 384}}
	for name, k := range kernels() {
		for _, s := range shapes {
			M, N, K := s[0], s[1], s[2]
			for _, workers := range []int{1, 0} {
				w := workers
				label := "1core"
				if w == 0 {
					w, label = 64, "allcores"
				}
				b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", name, M, N, K, label), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					a, bm, c := randSlice(rng, M*K), randSlice(rng, K*N), make([]float32, M*N)
					b.ReportAllocs()
					withKernel(b, k, func() {
						for b.Loop() {
							sgemm(c, N, a, K, false, bm, N, false, M, N, K, false, min(w, runtime.GOMAXPROCS(0)))
						}
					})
					b.ReportMetric(2*float64(M)*float64(N)*float64(K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
