package trainer

import (
	"math"
	"strings"
	"testing"
)

// The FLOP count of nanoGPT's estimate_mfu, worked by hand:
//
//	nano (V 3, context 11): N = 85,584 - 11·48 = 85,056 (wpe left out, wte in: it is the output
//	layer too); 6N = 510,336; 12·L·H·Q·T = 12·3·3·16·11 = 19,008; in all 529,344.
//	gpt2 (V 50,257, context 1024): N = 124,439,808 - 1024·768 = 123,653,376 (nanoGPT's
//	"123.65M"); 6N = 741,920,256; 12·12·12·64·1024 = 113,246,208; in all 855,166,464.
func TestFlopsPerToken(t *testing.T) {
	for _, c := range []struct {
		size       string
		vocab, ctx int
		want       float64
	}{
		{"nano", 3, 11, 529_344},
		{"gpt2", 50257, 1024, 855_166_464},
	} {
		cfg, err := NamedConfig(c.size, c.vocab, c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.FlopsPerToken(c.ctx); got != c.want {
			t.Errorf("%s: %v FLOPs a token, want %v", c.size, got, c.want)
		}
	}
	// 10,000 tokens/s of nano on a 1 GFLOP/s machine: 5.29344 GFLOP/s, an MFU of 5.29344
	nano, _ := NamedConfig("nano", 0, 0)
	if got := nano.MFU(10_000, 11, 1e9); math.Abs(got-5.29344) > 1e-12 {
		t.Errorf("MFU %v, want 5.29344", got)
	}
	if got := nano.MFU(10_000, 11, 0); got != 0 {
		t.Errorf("MFU without a peak: %v", got)
	}
}

func TestCPUInfoMHz(t *testing.T) {
	info := "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.132\n\nprocessor\t: 1\ncpu MHz\t\t: 3700.000\nflags\t\t: fpu avx2 fma\n"
	if got, err := cpuinfoMHz(strings.NewReader(info)); err != nil || got != 3700 {
		t.Errorf("cpu MHz %v, %v; want 3700", got, err)
	}
	if _, err := cpuinfoMHz(strings.NewReader("processor\t: 0\nBogoMIPS\t: 50.00\n")); err == nil {
		t.Error("no cpu MHz line: no error")
	}
}

// The estimate is cores × FLOPs a cycle × clock, with the kernel this build runs.
func TestCPUPeak(t *testing.T) {
	p, err := CPUPeak()
	if err != nil {
		t.Skipf("no clock to read here: %v", err)
	}
	want := map[string]int{"avx2": 32, "go": 2}[KernelName]
	if p.PerCycle != want || p.Cores < 1 || p.Hz < 1e8 || p.FLOPS != float64(p.Cores)*float64(p.PerCycle)*p.Hz {
		t.Errorf("%+v with kernel %s", p, KernelName)
	}
	t.Log(p)
}
