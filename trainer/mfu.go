package trainer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Model FLOPs utilisation (MFU): the FLOP/s a run achieves by the standard count of a
// model's FLOPs, divided by the hardware's peak FLOP/s. The count is the one of nanoGPT's
// estimate_mfu, from the PaLM paper's appendix B:
//
//	FLOPs per token = 6N + 12·L·H·Q·T
//
// where N is the parameters less the position embedding (wte counts: it is also the output
// layer), L layers, H heads, Q = C/H the head size and T the sequence length. 6N is the
// forward (2 FLOPs a weight: multiply and add) and backward (twice the forward) of every
// matrix product with a weight; 12·L·H·Q·T those of attention's q·kᵀ and att·v, counted over
// the whole T×T square although causal attention needs only half of it. LayerNorm, GELU,
// softmax and the optimizer are not counted.

// FlopsPerToken is the FLOPs of training on one token in sequences of T tokens (forward and
// backward), by the count above. For nano (V 3, context 11) at T 11:
//
//	N = 85,584 - 11·48 = 85,056, 6N = 510,336, 12·3·3·16·11 = 19,008: 529,344.
func (c Config) FlopsPerToken(T int) float64 {
	N := c.NumParams() - c.Context*c.Dim
	L, H, Q := c.Layers, c.Heads, c.Dim/c.Heads
	return 6*float64(N) + 12*float64(L)*float64(H)*float64(Q)*float64(T)
}

// MFU is the utilisation of a run at tokensPerS tokens per second in sequences of T tokens on
// hardware of peak FLOP/s; 0 when peak is not known (0).
func (c Config) MFU(tokensPerS float64, T int, peak float64) float64 {
	if peak <= 0 {
		return 0
	}
	return tokensPerS * c.FlopsPerToken(T) / peak
}

// Peak is an estimate of the CPU's float32 peak for the matrix multiply this build runs:
//
//	FLOPS = cores × FLOPs per cycle per core × clock
//
// Cores are GOMAXPROCS, the trainer's threads. FLOPs per cycle are 32 for the AVX2/FMA
// kernel: two FMA units × 8 float32 lanes × 2 FLOPs per FMA, as on x86 cores since Intel
// Haswell and AMD Zen 2 (Zen 1 has half, so its MFU reads low by half); 2 for the plain Go
// kernel, a multiply and an add a cycle. The clock is cpufreq's cpuinfo_max_freq where the
// kernel has it, else the highest "cpu MHz" of /proc/cpuinfo (a virtual machine's nominal
// clock; turbo can go past it, so MFU may read a little high).
type Peak struct {
	FLOPS    float64
	Cores    int
	PerCycle int     // FLOPs per cycle per core
	Hz       float64 // clock
	Clock    string  // where the clock came from
}

func (p Peak) String() string {
	return fmt.Sprintf("%.1f GFLOP/s = %d cores × %d FLOP/cycle × %.2f GHz (%s)",
		p.FLOPS/1e9, p.Cores, p.PerCycle, p.Hz/1e9, p.Clock)
}

// CPUPeak estimates this machine's peak as Peak says, or says why it cannot.
func CPUPeak() (Peak, error) {
	p := Peak{Cores: runtime.GOMAXPROCS(0), PerCycle: 2}
	if KernelName == "avx2" {
		p.PerCycle = 32
	}
	const maxFreq = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq" // kHz
	if b, err := os.ReadFile(maxFreq); err == nil {
		if khz, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil && khz > 0 {
			p.Hz, p.Clock = khz*1e3, maxFreq
		}
	}
	if p.Hz == 0 {
		f, err := os.Open("/proc/cpuinfo")
		if err != nil {
			return p, fmt.Errorf("cpu clock: %w", err)
		}
		defer f.Close()
		mhz, err := cpuinfoMHz(f)
		if err != nil {
			return p, fmt.Errorf("/proc/cpuinfo: %w", err)
		}
		p.Hz, p.Clock = mhz*1e6, "/proc/cpuinfo cpu MHz"
	}
	p.FLOPS = float64(p.Cores) * float64(p.PerCycle) * p.Hz
	return p, nil
}

// cpuinfoMHz is the highest "cpu MHz" of a /proc/cpuinfo.
func cpuinfoMHz(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	best := 0.0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			best = max(best, mhz)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if best == 0 {
		return 0, fmt.Errorf("no cpu MHz line")
	}
	return best, nil
}
