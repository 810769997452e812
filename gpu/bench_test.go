package gpu

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/trainer"
)

// TestBenchGPT2 trains GPT-2 124M (vocab 50,304 as the PyTorch peer pads it, context 1024) on
// random tokens with the largest micro-batch up to 32 that fits the GPU, and reports tokens/s and MFU
// (6N + 6·L·C·T FLOPs a token, the peer's formula, against the device's dense bf16 peak), the
// device memory in use, the tokens/s with attention as cuBLAS products instead of the flash
// kernels (both ways, and in the backward pass only) and without cuBLASLt's epilogues, and a per-kernel profile of one step, as one JSON line, also written to $PIPE_BENCH_OUT. It runs only with PIPE_GPU_BENCH=1
// (gpu/check.sh), beside gpu_bench's `pipe train` and the PyTorch peer.
func TestBenchGPT2(t *testing.T) {
	if os.Getenv("PIPE_GPU_BENCH") != "1" {
		t.Skip("PIPE_GPU_BENCH=1 runs the GPT-2 benchmark")
	}
	g := openGPU(t)
	defer fatalOnCUDA(t)
	cfg := trainer.Config{VocabSize: 50304, Context: 1024, Layers: 12, Heads: 12, Dim: 768}
	T := cfg.Context
	free, total := g.MemInfo()
	B := 0
	// at most 32: the PyTorch peer, which check.sh runs at the same batch, keeps its (B,T,V)
	// logits in bf16 and fp32 and would not fit more on an 80 GB card
	for _, b := range []int{32, 24, 16, 12, 8, 4, 2, 1} {
		if TrainBytes(cfg, b, T) <= free*9/10 {
			B = b
			break
		}
	}
	if B == 0 {
		t.Fatalf("GPT-2 does not fit in %d MiB free", free>>20)
	}
	t.Logf("%s; %d of %d MiB free: batch %d (estimated %d MiB)", g.Describe(), free>>20, total>>20, B, TrainBytes(cfg, B, T)>>20)
	m, err := trainer.New(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	rng := rand.New(rand.NewPCG(1, 1))
	tokens, targets := randIDs(rng, B*T, cfg.VocabSize), randIDs(rng, B*T, cfg.VocabSize)
	step := func() float32 { // as trainer.Train takes one
		m.ZeroGrad()
		loss, err := m.ForwardBackward(tokens, targets, B, T, 1)
		if err != nil {
			t.Fatal(err)
		}
		m.Update(trainer.DefaultAdamW, 3e-4)
		return loss
	}
	for range 3 {
		step()
	}
	const steps = 10
	timed := func() (sec float64, loss float32) {
		g.Sync()
		start := time.Now()
		for range steps {
			loss = step()
		}
		g.Sync()
		return time.Since(start).Seconds() / steps, loss
	}
	sec, loss := timed()
	tokPerS := float64(B*T) / sec
	memFree, memTotal := g.MemInfo()
	flops := 6*float64(cfg.NumParams()) + 6*float64(cfg.Layers*cfg.Dim*T)
	res := map[string]any{"impl": "pipe gpu (go test)", "device": g.Describe(), "params": cfg.NumParams(), "batch": B, "context": T,
		"ms_per_step": sec * 1e3, "tokens_per_s": tokPerS, "loss": loss}
	if peak := g.PeakTFLOPS(); peak > 0 {
		res["mfu"] = flops * tokPerS / (peak * 1e12)
		res["peak_tflops"] = peak
	}
	res["mem_used_mib"] = (memTotal - memFree) >> 20
	// the same steps with attention as cuBLAS's products instead of the flash kernels, where
	// its (B,NH,T,T) buffers fit in what is free
	att := uint64(B*cfg.Heads) * uint64(T*T)
	if need := 2*uint64(cfg.Layers)*att + 10*att; need < memFree*9/10 {
		g.NoFlash = true
		step()
		noFlash, _ := timed()
		g.NoFlash = false
		res["tokens_per_s_noflash"] = float64(B*T) / noFlash
	}
	// with the flash forward but the backward pass as cuBLAS's products (the weights made again
	// from the forward's log-sum-exp, in one layer's scratch)
	if need := 10 * att; need < memFree*9/10 {
		g.NoFlashBackward = true
		step()
		noFlashBackward, _ := timed()
		g.NoFlashBackward = false
		res["tokens_per_s_noflash_backward"] = float64(B*T) / noFlashBackward
	}
	// and without cuBLASLt's epilogues: their bias, GELU and gradients by kernels of ours
	g.NoEpilogues = true
	step()
	noEpilogues, _ := timed()
	g.NoEpilogues = false
	res["tokens_per_s_noepilogues"] = float64(B*T) / noEpilogues
	// one more step, profiled: where the time goes, kernel by kernel
	g.StartProfile()
	step()
	var prof []profileRow
	for name, e := range g.Profile() {
		prof = append(prof, profileRow{name, float64(e.Time.Microseconds()) / 1e3, e.Calls})
	}
	g.profile = nil
	sort.Slice(prof, func(i, j int) bool { return prof[i].MS > prof[j].MS })
	res["profile"] = prof
	line, _ := json.Marshal(res)
	t.Logf("%s", line)
	if out := os.Getenv("PIPE_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, append(line, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type profileRow struct {
	Name  string  `json:"name"`
	MS    float64 `json:"ms"`
	Calls int     `json:"calls"`
}

// TestProfile checks the profile's table on a small model's forward pass: each kernel counted
// as often as it runs (LayerNorm twice a layer and once at the end, all but the first with the
// residual before it), the products by shape.
func TestProfile(t *testing.T) {
	g := openGPU(t)
	defer fatalOnCUDA(t)
	cfg := trainer.Config{VocabSize: 101, Context: 16, Layers: 2, Heads: 2, Dim: 64}
	m, err := trainer.New(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	tokens := make([]int32, 3*16)
	g.StartProfile()
	defer func() { g.profile = nil }()
	if _, err := m.Forward(tokens, nil, 3, 16); err != nil {
		t.Fatal(err)
	}
	p := g.Profile()
	// the activations are bf16: the _h kernels
	if e := p["layernorm_forward_h"]; e.Calls != 1 || e.Time <= 0 { // the first block's ln_1
		t.Errorf("layernorm_forward_h: %+v, want 1 call; table %v", e, p)
	}
	if e := p["residual_layernorm_forward_h"]; e.Calls != 2*cfg.Layers { // the others, with their residuals
		t.Errorf("residual_layernorm_forward_h: %+v, want %d calls", e, 2*cfg.Layers)
	}
	if e := p["gemm 48x192x64+bias"]; e.Calls != cfg.Layers { // the qkv product of each layer
		t.Errorf("gemm 48x192x64+bias: %+v, want %d calls; table %v", e, cfg.Layers, p)
	}
	if e := p["gemm 16x16x32×6"]; e.Calls != cfg.Layers { // q·kᵀ per (batch, head)
		t.Errorf("gemm 16x16x32×6: %+v, want %d calls; table %v", e, cfg.Layers, p)
	}
}

// TestWeightCopies checks that products share one bf16 copy of a weight until it changes: two
// products, one conversion; after AdamW moves the weight, a new copy, and the product agrees
// with the CPU's on the new weight.
func TestWeightCopies(t *testing.T) {
	g := openGPU(t)
	defer fatalOnCUDA(t)
	const N, C, OC = 16, 64, 96
	rng := rand.New(rand.NewPCG(21, 22))
	inp, w, b := randn(rng, N*C, 1), randn(rng, C*OC, 0.1), randn(rng, OC, 0.1)
	gin, gw, gb, gout := g.AllocHalf(N*C), g.Alloc(C*OC), g.Alloc(OC), g.Alloc(N*OC)
	gm, gv, gg := g.Alloc(C*OC), g.Alloc(C*OC), g.Alloc(C*OC)
	g.Upload(gin, inp)
	g.Upload(gw, w)
	g.Upload(gb, b)
	g.Upload(gg, randn(rng, C*OC, 1))
	g.StartProfile()
	defer func() { g.profile = nil }()
	g.MatmulForward(gout, gin, gw, gb, N, C, OC)
	g.MatmulForward(gout, gin, gw, gb, N, C, OC)
	if n := g.Profile()["to_bf16"].Calls; n != 1 {
		t.Errorf("two products, one weight: %d conversions, want 1", n)
	}
	g.AdamW(gw, gm, gv, gg, trainer.AdamWStep{LR: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, GradScale: 1, Step: 1})
	g.MatmulForward(gout, gin, gw, gb, N, C, OC)
	if n := g.Profile()["to_bf16"].Calls; n != 2 {
		t.Errorf("after AdamW: %d conversions in all, want 2", n)
	}
	moved, got := make([]float32, C*OC), make([]float32, N*OC)
	g.Download(moved, gw)
	g.Download(got, gout)
	in16 := make([]float32, N*C)
	g.Download(in16, gin) // the product's input as the GPU holds it, in bf16
	cpu := trainer.NewCPU()
	want := cpu.Alloc(N * OC)
	cpu.MatmulForward(want, trainer.Buf{Host: in16, N: N * C}, trainer.Buf{Host: moved, N: C * OC}, trainer.Buf{Host: b, N: OC}, N, C, OC)
	if e := relErr(got, want.Host); !(e <= 1e-2) {
		t.Errorf("the product after AdamW: rel err %.3e against the CPU on the moved weight", e)
	}
}
