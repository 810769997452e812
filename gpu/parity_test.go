package gpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/pipe-dev/pipe/trainer"
)

// The parity tests run every layer, the whole model and a short training run on the GPU and on
// the CPU backend (the reference) from the same inputs, and compare: relative error (‖gpu −
// cpu‖ / ‖cpu‖) at most 1e-2 where products run in bf16, 1e-5 where everything is fp32.
// Without a GPU they run on the emulated device (emu_test.go), unless PIPE_GPU=1 (as
// gpu/check.sh sets) asks for a real one.

var (
	gpuOnce sync.Once
	gpuBE   *GPU
	gpuErr  error
)

func openGPU(t *testing.T) *GPU {
	t.Helper()
	gpuOnce.Do(func() { gpuBE, gpuErr = New() })
	if gpuErr != nil {
		if errors.Is(gpuErr, ErrNoDevice) && os.Getenv("PIPE_GPU") != "1" {
			t.Log("no GPU: the emulated device")
			return openEmu(t)
		}
		t.Fatal(gpuErr)
	}
	return gpuBE
}

// fatalOnCUDA, deferred, ends the test with the error of a GPU method that panicked with one
// (see Recover); other panics go on.
func fatalOnCUDA(t *testing.T) {
	if r := recover(); r != nil {
		if e, ok := r.(*Error); ok {
			t.Fatal(e)
		}
		panic(r)
	}
}

// relErr is ‖got − want‖₂ / ‖want‖₂ (the absolute norm when want is 0); NaN anywhere is +Inf.
func relErr(got, want []float32) float64 {
	var d, w float64
	for i := range want {
		if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
			return math.Inf(1)
		}
		e := float64(got[i]) - float64(want[i])
		d += e * e
		w += float64(want[i]) * float64(want[i])
	}
	if w == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / w)
}

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func randIDs(rng *rand.Rand, n, V int) []int32 {
	x := make([]int32, n)
	for i := range x {
		x[i] = int32(rng.IntN(V))
	}
	return x
}

// opCase is one backend call on named buffers, each starting from the given values.
type opCase struct {
	name  string
	tol   float64
	bufs  map[string][]float32
	run   func(be trainer.Backend, b map[string]trainer.Buf)
	check []string // the buffers to compare afterwards
	twice bool     // run it twice, so that accumulation (+=) shows
}

func runOp(be trainer.Backend, c opCase) map[string][]float32 {
	bufs := map[string]trainer.Buf{}
	for name, v := range c.bufs {
		bufs[name] = be.Alloc(len(v))
		be.Upload(bufs[name], v)
	}
	c.run(be, bufs)
	if c.twice {
		c.run(be, bufs)
	}
	out := map[string][]float32{}
	for _, name := range c.check {
		out[name] = make([]float32, len(c.bufs[name]))
		be.Download(out[name], bufs[name])
	}
	if g, ok := be.(*GPU); ok {
		for _, b := range bufs {
			g.Free(b)
		}
	}
	return out
}

func opCases() []opCase {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T, C, NH, V = 2, 37, 96, 3, 1001
	N := B * T
	cpu := trainer.NewCPU()
	tokens := randIDs(rng, N, V)
	targets := randIDs(rng, N, V)
	targets[3], targets[40] = trainer.IgnoreTarget, trainer.IgnoreTarget
	zeros := func(n int) []float32 { return make([]float32, n) }

	// inputs that come from a forward pass: layernorm's mean and rstd, attention's weights
	lnIn, lnW, lnB := randn(rng, N*C, 1), randn(rng, C, 1), randn(rng, C, 1)
	lnOut, lnMean, lnRstd := cpu.Alloc(N*C), cpu.Alloc(N), cpu.Alloc(N)
	cpu.LayerNormForward(lnOut, lnMean, lnRstd, trainer.Buf{Host: lnIn, N: N * C}, trainer.Buf{Host: lnW, N: C}, trainer.Buf{Host: lnB, N: C}, N, C)
	qkv := randn(rng, N*3*C, 1)
	logits := randn(rng, N*V, 2)
	probs, losses := cpu.Alloc(N*V), cpu.Alloc(N)
	cpu.CrossEntropyForward(losses, probs, trainer.Buf{Host: logits, N: N * V}, targets, N, V)

	cases := []opCase{
		{name: "encoder_forward", tol: 1e-6, bufs: map[string][]float32{"out": zeros(N * C), "wte": randn(rng, V*C, 1), "wpe": randn(rng, T*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.EncoderForward(b["out"], tokens, b["wte"], b["wpe"], B, T, C)
			}, check: []string{"out"}},
		{name: "encoder_backward", tol: 1e-5, twice: true, bufs: map[string][]float32{"dwte": zeros(V * C), "dwpe": randn(rng, T*C, 1), "dout": randn(rng, N*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.EncoderBackward(b["dwte"], b["dwpe"], b["dout"], tokens, B, T, C)
			}, check: []string{"dwte", "dwpe"}},
		{name: "layernorm_forward", tol: 1e-5, bufs: map[string][]float32{"out": zeros(N * C), "mean": zeros(N), "rstd": zeros(N), "inp": lnIn, "w": lnW, "b": lnB},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.LayerNormForward(b["out"], b["mean"], b["rstd"], b["inp"], b["w"], b["b"], N, C)
			}, check: []string{"out", "mean", "rstd"}},
		{name: "residual_layernorm_forward", tol: 1e-5, bufs: map[string][]float32{"res": zeros(N * C), "out": zeros(N * C), "mean": zeros(N),
			"rstd": zeros(N), "a": randn(rng, N*C, 1), "b": randn(rng, N*C, 1), "w": lnW, "bias": lnB},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				if rl, ok := be.(trainer.ResidualLayerNormer); ok {
					rl.ResidualLayerNormForward(b["res"], b["out"], b["mean"], b["rstd"], b["a"], b["b"], b["w"], b["bias"], N, C)
					return
				}
				be.ResidualForward(b["res"], b["a"], b["b"], N*C)
				be.LayerNormForward(b["out"], b["mean"], b["rstd"], b["res"], b["w"], b["bias"], N, C)
			}, check: []string{"res", "out", "mean", "rstd"}},
		{name: "layernorm_backward", tol: 1e-5, twice: true, bufs: map[string][]float32{"dinp": randn(rng, N*C, 1), "dw": zeros(C), "db": zeros(C),
			"dout": randn(rng, N*C, 1), "inp": lnIn, "w": lnW, "mean": lnMean.Host, "rstd": lnRstd.Host},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.LayerNormBackward(b["dinp"], b["dw"], b["db"], b["dout"], b["inp"], b["w"], b["mean"], b["rstd"], N, C)
			}, check: []string{"dinp", "dw", "db"}},
		{name: "attention_forward", tol: 1e-2, bufs: map[string][]float32{"out": zeros(N * C), "att": zeros(B * NH * T * T), "qkv": qkv},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AttentionForward(b["out"], b["att"], b["qkv"], B, T, C, NH)
			}, check: []string{"out"}}, // the GPU keeps att itself: TestGPUAttentionKept
		// the backward pass after its forward pass, whose weights it reads (kept by the GPU)
		{name: "attention_backward", tol: 1e-2, bufs: map[string][]float32{"dqkv": randn(rng, N*3*C, 1), "dout": randn(rng, N*C, 1), "qkv": qkv,
			"out": zeros(N * C), "att": zeros(B * NH * T * T)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AttentionForward(b["out"], b["att"], b["qkv"], B, T, C, NH)
				be.AttentionBackward(b["dqkv"], b["dout"], b["qkv"], b["att"], B, T, C, NH)
			}, check: []string{"dqkv"}},
		// decoding position t of one sequence: positions 0…t-1 already cached (T of them, the
		// context), t from 0 (the first token) to T-1 (the cache full)
		{name: "attention_decode_t0", tol: 1e-5, bufs: map[string][]float32{"out": zeros(C), "att": zeros(NH * T),
			"k": randn(rng, T*C, 1), "v": randn(rng, T*C, 1), "qkv": randn(rng, 3*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AttentionDecode(b["out"], b["att"], b["k"], b["v"], b["qkv"], 0, T, C, NH)
			}, check: []string{"out", "k", "v"}},
		{name: "attention_decode_t29", tol: 1e-5, bufs: map[string][]float32{"out": zeros(C), "att": zeros(NH * T),
			"k": randn(rng, T*C, 1), "v": randn(rng, T*C, 1), "qkv": randn(rng, 3*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AttentionDecode(b["out"], b["att"], b["k"], b["v"], b["qkv"], 29, T, C, NH)
			}, check: []string{"out", "k", "v"}},
		{name: "attention_decode_full", tol: 1e-5, bufs: map[string][]float32{"out": zeros(C), "att": zeros(NH * T),
			"k": randn(rng, T*C, 1), "v": randn(rng, T*C, 1), "qkv": randn(rng, 3*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AttentionDecode(b["out"], b["att"], b["k"], b["v"], b["qkv"], T-1, T, C, NH)
			}, check: []string{"out", "k", "v"}},
		{name: "gelu_forward", tol: 1e-5, bufs: map[string][]float32{"out": zeros(N * 4 * C), "inp": randn(rng, N*4*C, 2)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) { be.GeluForward(b["out"], b["inp"], N*4*C) }, check: []string{"out"}},
		{name: "gelu_backward_in_place", tol: 1e-5, bufs: map[string][]float32{"d": randn(rng, N*4*C, 1), "inp": randn(rng, N*4*C, 2)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) { be.GeluBackward(b["d"], b["inp"], b["d"], N*4*C) }, check: []string{"d"}},
		{name: "residual_forward", tol: 1e-6, bufs: map[string][]float32{"out": zeros(N * C), "a": randn(rng, N*C, 1), "b": randn(rng, N*C, 1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) { be.ResidualForward(b["out"], b["a"], b["b"], N*C) }, check: []string{"out"}},
		{name: "logits_forward", tol: 1e-2, bufs: map[string][]float32{"logits": zeros(N * V), "inp": randn(rng, N*C, 1), "wte": randn(rng, V*C, 0.1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.LogitsForward(b["logits"], b["inp"], b["wte"], N, C, V)
			}, check: []string{"logits"}},
		{name: "logits_backward", tol: 1e-2, twice: true, bufs: map[string][]float32{"dinp": zeros(N * C), "dwte": zeros(V * C), "dlogits": randn(rng, N*V, 0.01),
			"inp": randn(rng, N*C, 1), "wte": randn(rng, V*C, 0.1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.LogitsBackward(b["dinp"], b["dwte"], b["dlogits"], b["inp"], b["wte"], N, C, V)
			}, check: []string{"dinp", "dwte"}},
		{name: "crossentropy_forward", tol: 1e-5, bufs: map[string][]float32{"losses": zeros(N), "probs": zeros(N * V), "logits": logits},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.CrossEntropyForward(b["losses"], b["probs"], b["logits"], targets, N, V)
			}, check: []string{"losses", "probs"}},
		{name: "crossentropy_backward_in_place", tol: 1e-5, bufs: map[string][]float32{"p": probs.Host},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.CrossEntropyBackward(b["p"], b["p"], targets, 0.25, N, V)
			}, check: []string{"p"}},
		{name: "adamw", tol: 1e-5, bufs: map[string][]float32{"p": randn(rng, 5000, 1), "m": randn(rng, 5000, 0.01), "v": abs(randn(rng, 5000, 0.01)), "g": randn(rng, 5000, 0.1)},
			run: func(be trainer.Backend, b map[string]trainer.Buf) {
				be.AdamW(b["p"], b["m"], b["v"], b["g"], trainer.AdamWStep{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, GradScale: 0.7, Step: 3})
			}, check: []string{"p", "m", "v"}},
	}
	// attention with heads of 64 (the flash forward's): one block of rows and a part, and
	// several blocks ending in a part
	for _, s := range []struct{ B, T, C, NH int }{{2, 37, 128, 2}, {1, 130, 192, 3}} {
		n := s.B * s.T
		in := randn(rng, n*3*s.C, 1)
		cases = append(cases,
			opCase{name: fmt.Sprintf("attention_forward_hs64_T%d", s.T), tol: 1e-2,
				bufs: map[string][]float32{"out": zeros(n * s.C), "att": zeros(s.B * s.NH * s.T * s.T), "qkv": in},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					be.AttentionForward(b["out"], b["att"], b["qkv"], s.B, s.T, s.C, s.NH)
				}, check: []string{"out"}},
			opCase{name: fmt.Sprintf("attention_backward_hs64_T%d", s.T), tol: 1e-2,
				bufs: map[string][]float32{"dqkv": randn(rng, n*3*s.C, 1), "dout": randn(rng, n*s.C, 1), "qkv": in,
					"out": zeros(n * s.C), "att": zeros(s.B * s.NH * s.T * s.T)},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					be.AttentionForward(b["out"], b["att"], b["qkv"], s.B, s.T, s.C, s.NH)
					be.AttentionBackward(b["dqkv"], b["dout"], b["qkv"], b["att"], s.B, s.T, s.C, s.NH)
				}, check: []string{"dqkv"}})
	}
	// the Conv1D layers at the model's small shape and at GPT-2's
	for _, s := range []struct{ N, C, OC int }{{N, C, 3 * C}, {N, 4 * C, C}, {512, 768, 3072}} {
		cases = append(cases,
			opCase{name: fmt.Sprintf("matmul_forward_%dx%dx%d", s.N, s.C, s.OC), tol: 1e-2,
				bufs: map[string][]float32{"out": zeros(s.N * s.OC), "inp": randn(rng, s.N*s.C, 1), "w": randn(rng, s.C*s.OC, 0.02), "b": randn(rng, s.OC, 0.1)},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					be.MatmulForward(b["out"], b["inp"], b["w"], b["b"], s.N, s.C, s.OC)
				}, check: []string{"out"}},
			opCase{name: fmt.Sprintf("matmul_gelu_forward_%dx%dx%d", s.N, s.C, s.OC), tol: 1e-2,
				bufs: map[string][]float32{"pre": zeros(s.N * s.OC), "out": zeros(s.N * s.OC), "inp": randn(rng, s.N*s.C, 1),
					"w": randn(rng, s.C*s.OC, 0.05), "b": randn(rng, s.OC, 0.1)},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					if mg, ok := be.(trainer.MatmulGeluer); ok {
						mg.MatmulGeluForward(b["pre"], b["out"], b["inp"], b["w"], b["b"], s.N, s.C, s.OC)
						return
					}
					be.MatmulForward(b["pre"], b["inp"], b["w"], b["b"], s.N, s.C, s.OC)
					be.GeluForward(b["out"], b["pre"], s.N*s.OC)
				}, check: []string{"pre", "out"}},
			opCase{name: fmt.Sprintf("matmul_backward_%dx%dx%d", s.N, s.C, s.OC), tol: 1e-2, twice: true,
				bufs: map[string][]float32{"dinp": zeros(s.N * s.C), "dw": zeros(s.C * s.OC), "db": zeros(s.OC),
					"dout": randn(rng, s.N*s.OC, 1), "inp": randn(rng, s.N*s.C, 1), "w": randn(rng, s.C*s.OC, 0.02)},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					be.MatmulBackward(b["dinp"], b["dw"], b["db"], b["dout"], b["inp"], b["w"], s.N, s.C, s.OC)
				}, check: []string{"dinp", "dw", "db"}},
			opCase{name: fmt.Sprintf("matmul_gelu_backward_%dx%dx%d", s.N, s.C, s.OC), tol: 1e-2, twice: true,
				bufs: map[string][]float32{"dpre": zeros(s.N * s.C), "dw": zeros(s.C * s.OC), "db": zeros(s.OC),
					"dout": randn(rng, s.N*s.OC, 1), "inp": randn(rng, s.N*s.C, 1), "w": randn(rng, s.C*s.OC, 0.02),
					"pre": randn(rng, s.N*s.C, 1.5)},
				run: func(be trainer.Backend, b map[string]trainer.Buf) {
					if mg, ok := be.(trainer.MatmulGeluBackwarder); ok {
						mg.MatmulGeluBackward(b["dpre"], b["dw"], b["db"], b["dout"], b["inp"], b["w"], b["pre"], s.N, s.C, s.OC)
						return
					}
					be.MatmulBackward(b["dpre"], b["dw"], b["db"], b["dout"], b["inp"], b["w"], s.N, s.C, s.OC)
					be.GeluBackward(b["dpre"], b["pre"], b["dpre"], s.N*s.C)
				}, check: []string{"dpre", "dw", "db"}})
	}
	return cases
}

func abs(x []float32) []float32 {
	for i := range x {
		x[i] = float32(math.Abs(float64(x[i])))
	}
	return x
}

// TestGPUOps compares every Backend method on the GPU with the CPU backend.
func TestGPUOps(t *testing.T) {
	g := openGPU(t)
	t.Logf("device: %s", g.Describe())
	checkOps(t, g)
}

// TestGPUReversedOrder runs the op and model parity checks again on an emulated device that
// runs each block's warps, the threads of each, and the grid's blocks last first, and lands each
// cp.async copy as it is issued instead of at its wait. A kernel where one thread reads what
// another writes with no barrier between (in shared or global memory) reads the new value in one
// order and the old one in the other (TestEmulator's emu_race), and a copy into a tile that
// another warp still reads overwrites it here, so one of the two runs fails parity. A GPU has
// its own orders; this test is for the emulator only.
func TestGPUReversedOrder(t *testing.T) {
	if os.Getenv("PIPE_GPU") == "1" {
		t.Skip("PIPE_GPU=1: the emulator's scheduling orders are no question for a GPU")
	}
	g := openEmuOrder(t, true)
	checkOps(t, g)
	t.Run("classifier_fused", func(t *testing.T) { checkClassifierFused(t, g) })
	t.Run("sum_squares", func(t *testing.T) { checkSumSquares(t, g) })
	for _, heads := range []int{4, 2} {
		t.Run(fmt.Sprintf("model_hs%d", 128/heads), func(t *testing.T) {
			testGPUModel(t, g, trainer.Config{VocabSize: 1001, Context: 64, Layers: 2, Heads: heads, Dim: 128}, 4, 64)
		})
	}
}

// checkOps compares every op case on g with the CPU backend.
func checkOps(t *testing.T, g *GPU) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			defer fatalOnCUDA(t)
			want := runOp(trainer.NewCPU(), c)
			got := runOp(g, c)
			for _, name := range c.check {
				e := relErr(got[name], want[name])
				t.Logf("%s: rel err %.2e (tolerance %.0e)", name, e, c.tol)
				if !(e <= c.tol) {
					t.Errorf("%s: rel err %.3e > %.0e", name, e, c.tol)
				}
			}
		})
	}
}

// TestGPUAttentionPaths runs the attention cases with heads of 64, which TestGPUOps runs
// through the flash forward, through cuBLAS's batched products instead, and checks that the
// flash forward was the one that ran there.
func TestGPUAttentionPaths(t *testing.T) {
	g := openGPU(t)
	for _, path := range []struct{ flash, flashBackward bool }{{true, true}, {true, false}, {false, false}} {
		flash := path.flash
		g.NoFlash, g.NoFlashBackward = !path.flash, !path.flashBackward
		for _, c := range opCases() {
			if !strings.Contains(c.name, "_hs64_") {
				continue
			}
			var err error
			func() {
				defer Recover(&err)
				g.StartProfile()
				want, got := runOp(trainer.NewCPU(), c), runOp(g, c)
				for _, name := range c.check {
					e := relErr(got[name], want[name])
					t.Logf("%+v, %s: %s: rel err %.2e", path, c.name, name, e)
					if !(e <= c.tol) {
						t.Errorf("%+v, %s: %s: rel err %.3e", path, c.name, name, e)
					}
				}
				if ran := g.Profile()["attention_flash_forward"].Calls > 0; ran != flash {
					t.Errorf("%+v, %s: attention_flash_forward ran: %v", path, c.name, ran)
				}
				backward := strings.HasPrefix(c.name, "attention_backward")
				if ran := g.Profile()["attention_flash_backward_dkdv"].Calls > 0; ran != (backward && path.flashBackward) {
					t.Errorf("%+v, %s: attention_flash_backward_dkdv ran: %v", path, c.name, ran)
				}
			}()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	g.NoFlash, g.NoFlashBackward, g.profile = false, false, nil
}

// TestGPUAttentionKept checks the attention weights the GPU keeps (in bf16) for the backward
// pass against the CPU's, causal zeros included, and that freeing the activations frees them.
func TestGPUAttentionKept(t *testing.T) {
	g := openGPU(t)
	rng := rand.New(rand.NewPCG(11, 12))
	const B, T, C, NH = 2, 37, 96, 3
	qkv := randn(rng, B*T*3*C, 1)
	cpu := trainer.NewCPU()
	want := cpu.Alloc(B * NH * T * T)
	cpu.AttentionForward(cpu.Alloc(B*T*C), want, trainer.Buf{Host: qkv, N: len(qkv)}, B, T, C, NH)
	defer fatalOnCUDA(t)
	all := g.Alloc(B*T*C + len(qkv) + 1)
	out, in, att := all.View(0, B*T*C), all.View(B*T*C, len(qkv)), all.View(B*T*C+len(qkv), 1)
	g.Upload(in, qkv)
	g.AttentionForward(out, att, in, B, T, C, NH)
	kept := g.att[att.Dev]
	bits := make([]uint16, B*NH*T*T)
	g.must(g.dev.dtoh(unsafe.Pointer(&bits[0]), kept.p, 2*len(bits)))
	got := make([]float32, len(bits))
	for i, b := range bits {
		got[i] = math.Float32frombits(uint32(b) << 16)
	}
	if e := relErr(got, want.Host); !(e <= 1e-2) {
		t.Errorf("kept attention weights: rel err %.3e", e)
	}
	for i, w := range want.Host {
		if w == 0 && got[i] != 0 {
			t.Fatalf("weight %d: %v where the CPU's is 0 (the causal mask)", i, got[i])
		}
	}
	g.Free(all)
	if len(g.att) != 0 {
		t.Errorf("after Free, %d layers' weights are still kept", len(g.att))
	}
}

// TestGPUClassifierFused checks the fused loss-and-gradient kernel against the CPU's
// CrossEntropyForward then CrossEntropyBackward.
func TestGPUClassifierFused(t *testing.T) { checkClassifierFused(t, openGPU(t)) }

func checkClassifierFused(t *testing.T, g *GPU) {
	rng := rand.New(rand.NewPCG(3, 4))
	// vocabularies of 8k (a padded one, 50,304: GPT-2's as PyTorch pads it) take the kernel's
	// 16-byte accesses, the others its one value at a time; logits in fp32 and in bf16
	for _, V := range []int{3, 1001, 50257, 64, 50304} {
		for _, half := range []bool{false, true} {
			N := 64
			logits, targets := randn(rng, N*V, 3), randIDs(rng, N, V)
			targets[5] = trainer.IgnoreTarget
			tol := 1e-5
			if half { // the CPU computes from the logits as bf16 holds them; dlogits are stored in bf16
				for i, v := range logits {
					logits[i] = math.Float32frombits(uint32(toBF16(v)) << 16)
				}
				tol = 1e-2
			}
			cpu := trainer.NewCPU()
			wantLoss, wantD := cpu.Alloc(N), cpu.Alloc(N*V)
			cpu.CrossEntropyForward(wantLoss, wantD, trainer.Buf{Host: logits, N: N * V}, targets, N, V)
			cpu.CrossEntropyBackward(wantD, wantD, targets, 0.5, N, V)
			var err error
			func() {
				defer Recover(&err)
				lg, ls := g.Alloc(N*V), g.Alloc(N)
				if half {
					g.Free(lg)
					lg = g.AllocHalf(N * V)
				}
				defer g.Free(lg)
				defer g.Free(ls)
				g.Upload(lg, logits)
				g.ClassifierFused(lg, ls, targets, 0.5, N, V)
				gotD, gotLoss := make([]float32, N*V), make([]float32, N)
				g.Download(gotD, lg)
				g.Download(gotLoss, ls)
				if e := relErr(gotLoss, wantLoss.Host); !(e <= 1e-5) {
					t.Errorf("V %d, bf16 %v: losses rel err %.3e", V, half, e)
				}
				if e := relErr(gotD, wantD.Host); !(e <= tol) {
					t.Errorf("V %d, bf16 %v: dlogits rel err %.3e", V, half, e)
				}
			}()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestGPULayouts runs layout_probe (kernels/probe.cu) and checks what ldmatrix and
// mma.m16n8k16 give against the layouts the prelude states (from PTX ISA): on a GPU, that the
// hardware reads them so; on the emulated device, that the emulator does. Small integers keep
// every product exact.
func TestGPULayouts(t *testing.T) {
	g := openGPU(t)
	defer fatalOnCUDA(t)
	defer g.enter()()
	rng := rand.New(rand.NewPCG(5, 6))
	var a, b [256]float32
	var abits, bbits [256]uint16
	for i := range a {
		a[i], b[i] = float32(rng.IntN(9)-4), float32(rng.IntN(9)-4)
		abits[i] = uint16(math.Float32bits(a[i]) >> 16) // exact in bf16
		bbits[i] = uint16(math.Float32bits(b[i]) >> 16)
	}
	d, regs := runLayoutProbe(g, abits, bbits)
	// block m of an A fragment: rows 8·(m%2).., columns 8·(m/2)..
	at := func(m, r, c int) uint32 { return uint32(abits[(8*(m%2)+r)*16+8*(m/2)+c]) }
	bad := 0
	for l := range 32 {
		for m := range 4 {
			want := at(m, l/4, 2*(l%4)) | at(m, l/4, 2*(l%4)+1)<<16
			wantT := at(m, 2*(l%4), l/4) | at(m, 2*(l%4)+1, l/4)<<16
			if got := regs[8*l+m]; got != want && bad < 8 {
				bad++
				t.Errorf("ldmatrix: lane %d register %d is %#08x, want %#08x", l, m, got, want)
			}
			if got := regs[8*l+4+m]; got != wantT && bad < 8 {
				bad++
				t.Errorf("ldmatrix.trans: lane %d register %d is %#08x, want %#08x", l, m, got, wantT)
			}
		}
	}
	for r := range 16 {
		for c := range 16 {
			var want float32
			for k := range 16 {
				want += a[r*16+k] * b[k*16+c]
			}
			if d[r*16+c] != want && bad < 16 {
				bad++
				t.Errorf("mma: d[%d][%d] = %v, want %v", r, c, d[r*16+c], want)
			}
		}
	}
}

// runLayoutProbe runs layout_probe on the bf16 matrices a and b; it returns the product and
// the lanes' registers.
func runLayoutProbe(g *GPU, a, b [256]uint16) (d [256]float32, regs [256]uint32) {
	pa, pb := g.get("probe.a", kBF16P, 256), g.get("probe.b", kBF16P, 256)
	pd, pr := g.get("probe.d", kF32P, 256), g.get("probe.regs", kI32P, 256)
	g.must(g.dev.htod(pa, unsafe.Pointer(&a[0]), 512))
	g.must(g.dev.htod(pb, unsafe.Pointer(&b[0]), 512))
	g.launch("layout_probe", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, f32p(pd), i32p(pr), bf16p(pa), bf16p(pb))
	g.must(g.dev.dtoh(unsafe.Pointer(&d[0]), pd, 1024))
	g.must(g.dev.dtoh(unsafe.Pointer(&regs[0]), pr, 1024))
	return d, regs
}

// TestGPUSumSquares checks the global-norm sum against the CPU's.
func TestGPUSumSquares(t *testing.T) { checkSumSquares(t, openGPU(t)) }

func checkSumSquares(t *testing.T, g *GPU) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 1000, 3_000_001} {
		x := randn(rng, n, 1)
		want := trainer.NewCPU().SumSquares(trainer.Buf{Host: x, N: n})
		var got float64
		var err error
		func() {
			defer Recover(&err)
			b := g.Alloc(n)
			defer g.Free(b)
			g.Upload(b, x)
			got = g.SumSquares(b)
		}()
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(got-want) / want; !(e <= 1e-5) {
			t.Errorf("n %d: %v, CPU %v (rel err %.2e)", n, got, want, e)
		}
	}
}

// twin makes the same model (same initial weights) on the CPU and the GPU.
func twin(t *testing.T, g *GPU, cfg trainer.Config, seed uint64) (cpu, gm *trainer.Model) {
	t.Helper()
	cpu, err := trainer.New(cfg, trainer.NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	cpu.Init(seed)
	gm, err = trainer.New(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	gm.Init(seed)
	return cpu, gm
}

// TestGPUModel compares the loss, the logits and every parameter's gradient of a small model.
// Heads of 32 run attention as cuBLAS products, heads of 64 through the flash forward; the
// activations are bf16 (the backend's default), and once all fp32 (GPU.NoHalf).
func TestGPUModel(t *testing.T) {
	g := openGPU(t)
	for _, c := range []struct {
		heads  int
		noHalf bool
	}{{4, false}, {2, false}, {2, true}} {
		name := fmt.Sprintf("hs%d", 128/c.heads)
		if c.noHalf {
			name += "_fp32"
		}
		t.Run(name, func(t *testing.T) {
			g.NoHalf = c.noHalf
			defer func() { g.NoHalf = false }()
			testGPUModel(t, g, trainer.Config{VocabSize: 1001, Context: 64, Layers: 2, Heads: c.heads, Dim: 128}, 4, 64)
		})
	}
	// an odd count of logits (B·T·V): the activations after them must still be aligned for the
	// flash kernels' 16-byte loads
	t.Run("hs64_odd", func(t *testing.T) {
		testGPUModel(t, g, trainer.Config{VocabSize: 1001, Context: 64, Layers: 2, Heads: 2, Dim: 128}, 3, 37)
	})
}

// TestGPUHalfBuffers checks the bf16 activations' plumbing: values go up rounded to bf16 and
// come back widened, views step two bytes a value, Zero clears only its view.
func TestGPUHalfBuffers(t *testing.T) {
	g := openGPU(t)
	defer fatalOnCUDA(t)
	x := []float32{1, -2.5, 3.14159265, 1e-3, 65504, -0.0, 1.00390625, 7}
	b := g.AllocHalf(len(x))
	defer g.Free(b)
	if !b.Half {
		t.Fatal("AllocHalf: not Half")
	}
	g.Upload(b, x)
	got := make([]float32, len(x))
	g.Download(got, b)
	for i, v := range x {
		if want := math.Float32frombits(uint32(toBF16(v)) << 16); got[i] != want {
			t.Errorf("value %d: %v came back %v, want %v (bf16)", i, v, got[i], want)
		}
	}
	g.Zero(b.View(2, 3))
	g.Download(got, b)
	for i, v := range got {
		if zero := i >= 2 && i < 5; (v == 0) != (zero || x[i] == 0) {
			t.Errorf("after zeroing [2,5): value %d is %v", i, v)
		}
	}
	tail := make([]float32, 3)
	g.Download(tail, b.View(5, 3))
	if tail[2] != 7 {
		t.Errorf("view [5:8] downloads %v", tail)
	}
}

func testGPUModel(t *testing.T, g *GPU, cfg trainer.Config, B, T int) {
	defer fatalOnCUDA(t)
	cpu, gm := twin(t, g, cfg, 7)
	rng := rand.New(rand.NewPCG(8, 9))
	tokens, targets := randIDs(rng, B*T, cfg.VocabSize), randIDs(rng, B*T, cfg.VocabSize)
	var lc, lg float32
	for _, m := range []*trainer.Model{cpu, gm} {
		m.ZeroGrad()
		loss, err := m.Forward(tokens, targets, B, T)
		if err != nil {
			t.Fatal(err)
		}
		if m == cpu {
			lc = loss
		} else {
			lg = loss
		}
	}
	t.Logf("loss cpu %.6f gpu %.6f", lc, lg)
	if math.Abs(float64(lg-lc)) > 1e-2*math.Abs(float64(lc)) {
		t.Errorf("loss: gpu %v, cpu %v", lg, lc)
	}
	wantLogits, gotLogits := make([]float32, B*T*cfg.VocabSize), make([]float32, B*T*cfg.VocabSize)
	cpu.Backend.Download(wantLogits, cpu.Acts.Logits)
	gm.Backend.Download(gotLogits, gm.Acts.Logits)
	if e := relErr(gotLogits, wantLogits); !(e <= 1e-2) {
		t.Errorf("logits: rel err %.3e", e)
	}
	for _, m := range []*trainer.Model{cpu, gm} {
		if err := m.Backward(1); err != nil {
			t.Fatal(err)
		}
	}
	want, got := make([]float32, cpu.Grads.All.N), make([]float32, gm.Grads.All.N)
	cpu.Backend.Download(want, cpu.Grads.All)
	compare := func(how string) {
		gm.Backend.Download(got, gm.Grads.All)
		worst := 0.0
		for _, ts := range cfg.Tensors() {
			e := relErr(got[ts.Offset:ts.Offset+ts.Size()], want[ts.Offset:ts.Offset+ts.Size()])
			worst = max(worst, e)
			if !(e <= 2e-2) {
				t.Errorf("%s: gradient of %s: rel err %.3e", how, ts.Name, e)
			}
		}
		t.Logf("%s: worst gradient rel err %.2e over %d tensors", how, worst, len(cfg.Tensors()))
	}
	compare("Forward, Backward")
	// the training loop's way: the fused classifier, no probabilities
	gm.ZeroGrad()
	loss, err := gm.ForwardBackward(tokens, targets, B, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(loss-lc)) > 1e-2*math.Abs(float64(lc)) {
		t.Errorf("ForwardBackward loss: gpu %v, cpu %v", loss, lc)
	}
	compare("ForwardBackward")
	// evaluation's way: Model.Loss, the fused classifier with no backward pass after it
	el, err := gm.Loss(tokens, targets, B, T)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Loss: gpu %.6f", el)
	if math.Abs(float64(el-lc)) > 1e-2*math.Abs(float64(lc)) {
		t.Errorf("Loss: gpu %v, cpu %v", el, lc)
	}
}

// TestGPUTraining trains the nano model on the sort task for 300 steps on both backends from
// the same seed and compares the loss curves, then the checkpoint: the GPU model's checkpoint
// loads on the CPU with the same weights, and greedy samples agree. Nano's heads are 16 wide
// (attention as cuBLAS products); the same model with one head of 64 trains through the flash
// kernels.
func TestGPUTraining(t *testing.T) {
	g := openGPU(t)
	nano, _ := trainer.NamedConfig("nano", trainer.SortVocab, trainer.SortContext)
	hs64 := nano
	hs64.Heads, hs64.Dim = 1, 64
	for _, c := range []struct {
		name string
		cfg  trainer.Config
	}{{"nano", nano}, {"hs64", hs64}} {
		t.Run(c.name, func(t *testing.T) { testGPUTraining(t, g, c.cfg) })
	}
}

func testGPUTraining(t *testing.T, g *GPU, cfg trainer.Config) {
	defer fatalOnCUDA(t)
	// the emulated device takes about 0.4 s a step: a shorter run, which learns less
	B, steps, learned := 64, 300, 0.3
	if g.cuda == nil {
		B, steps, learned = 32, 100, 0.5
	}
	lc := trainer.LoopConfig{Batch: B, Context: trainer.SortContext, Accum: 1, Steps: steps, Opt: trainer.DefaultAdamW,
		Sched: trainer.Schedule{MaxLR: 5e-4, MinLR: 5e-5, Warmup: 10, Total: steps}}
	curves := map[string][]float32{}
	models := map[string]*trainer.Model{}
	cpu, gm := twin(t, g, cfg, 1)
	for name, m := range map[string]*trainer.Model{"cpu": cpu, "gpu": gm} {
		task := trainer.NewSortTask(B, 1)
		err := trainer.Train(m, task, nil, lc, trainer.Hooks{Step: func(met trainer.Metric) error {
			curves[name] = append(curves[name], met.Loss)
			return nil
		}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		models[name] = m
	}
	c, gl := curves["cpu"], curves["gpu"]
	if len(c) != steps || len(gl) != steps {
		t.Fatalf("%d and %d steps", len(c), len(gl))
	}
	// windows of 20 steps: the mean losses agree within 2% (+0.005) over the first window, before
	// bf16 rounding has moved the runs apart, and within 10% (+0.02) after; both runs learn
	var first, last [2]float64
	for w := 0; w < steps; w += 20 {
		var sc, sg float64
		for i := w; i < w+20; i++ {
			sc += float64(c[i])
			sg += float64(gl[i])
		}
		sc, sg = sc/20, sg/20
		t.Logf("steps %3d-%3d: cpu %.4f gpu %.4f", w+1, w+20, sc, sg)
		tol := 0.1*sc + 0.02
		if w == 0 {
			tol, first = 0.02*sc+0.005, [2]float64{sc, sg}
		}
		last = [2]float64{sc, sg}
		if math.Abs(sg-sc) > tol {
			t.Errorf("steps %d-%d: mean loss gpu %.4f, cpu %.4f (tolerance %.4f)", w+1, w+20, sg, sc, tol)
		}
	}
	for i, name := range []string{"cpu", "gpu"} {
		if !(last[i] < learned*first[i]) {
			t.Errorf("the %s run did not learn: mean loss %.4f over the first 20 steps, %.4f over the last", name, first[i], last[i])
		}
	}

	// the same checkpoint files: the GPU's loads on the CPU with identical weights
	dir := t.TempDir()
	ckpt, err := trainer.SaveCheckpoint(dir, gm, trainer.TrainState{Step: steps}, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := trainer.New(cfg, trainer.NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	if err := back.LoadCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, gm.Params.All.N)
	gm.Backend.Download(want, gm.Params.All)
	if e := relErr(back.Params.All.Host, want); e != 0 {
		t.Errorf("weights after a checkpoint round trip: rel err %v", e)
	}
	mc, _ := back.Moments()
	mg, _ := gm.Moments()
	if e := relErr(mc, mg); e != 0 {
		t.Errorf("moments after a checkpoint round trip: rel err %v", e)
	}
	if _, err := os.Stat(filepath.Join(ckpt, "model.safetensors")); err != nil {
		t.Error(err)
	}

	// sampling on the GPU: greedy continuations of the CPU's weights agree with the CPU's
	host := make([]float32, cpu.Params.All.N)
	cpu.Backend.Download(host, cpu.Params.All)
	gm.Backend.Upload(gm.Params.All, host)
	prompt := []int32{2, 0, 1, 1, 0, 2}
	type sampler func([]int32, trainer.SampleConfig, func(int32) error) error
	same := func(how string, sc trainer.SampleConfig, onCPU, onGPU sampler) {
		var outs [2][]int32
		for i, sample := range []sampler{onCPU, onGPU} {
			if err := sample(prompt, sc, func(id int32) error { outs[i] = append(outs[i], id); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: cpu %v gpu %v", how, outs[0], outs[1])
		if fmt.Sprint(outs[0]) != fmt.Sprint(outs[1]) {
			t.Errorf("%s samples differ: cpu %v, gpu %v", how, outs[0], outs[1])
		}
	}
	same("greedy", trainer.SampleConfig{Tokens: 5}, cpu.SampleRecompute, gm.SampleRecompute)
	// and with the KV cache on the GPU, past the context (the cache refills)
	same("greedy with a KV cache", trainer.SampleConfig{Tokens: 2 * cfg.Context}, cpu.Sample, gm.Sample)
}
