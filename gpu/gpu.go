// Package gpu is the CUDA backend of the trainer: trainer.Backend's layers as CUDA kernels
// (kernels/*.cu, compiled at run time by NVRTC for the device) and cuBLASLt products, with the
// CUDA driver, NVRTC, cuBLASLt and cuBLAS loaded at run time through purego, so that building
// pipe needs no CUDA.
//
// Precision: the master weights, gradients and AdamW moments are fp32; the activations that
// the model allocates with AllocHalf (all but the residual stream, LayerNorm's statistics and
// the losses) are bf16, and the layers that write and read them have _h kernels;
// matrix products (the Conv1D layers, the output layer, attention's products) take bf16
// operands and accumulate in fp32, as PyTorch's bf16 autocast does, and attention keeps its
// weights (or with the flash kernels, only each row's log-sum-exp) for the backward pass
// itself. Arithmetic in the kernels (LayerNorm, softmax, the loss, AdamW) is fp32.
package gpu

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/pipe-dev/pipe/trainer"
)

// GPU is the CUDA backend. Its methods panic with an error on a CUDA failure (the Backend
// interface has no error results); Recover turns that back into an error.
type GPU struct {
	dev     device
	cuda    *cudaDevice // nil on a dry device
	sigs    map[string]*kernelSig
	scratch map[string]scratchBuf
	profile map[string]ProfileEntry // nil unless profiling
	// what attention keeps of each layer's forward pass for its backward pass, by the address
	// of the model's one-value Att of the layer: the log-sum-exp of each row (B,NH,T) after the
	// flash forward, else the bf16 weights (B,NH,T,T)
	att map[uintptr]scratchBuf
	// attOut is, by the same key, the output of each layer's flash forward pass, which its
	// backward pass reads (the model keeps it for the projection after attention)
	attOut map[uintptr]trainer.Buf
	lnMaxC int // lnMaxC, or less
	// NoFlash makes attention run as cuBLAS's batched products whatever the head size;
	// NoFlashBackward keeps the flash forward but makes the weights again in the backward pass
	// and runs it as cuBLAS's products
	NoFlash, NoFlashBackward bool
	// NoHalf keeps every activation in fp32 (AllocHalf is Alloc)
	NoHalf bool
	// NoEpilogues runs every product without cuBLASLt's epilogues, as where its heuristic
	// offers none: the bias, GELU, its gradient and the bias gradient by kernels of ours
	NoEpilogues bool
	// the bf16 copies of the weights the products read, by address; a copy made at generation
	// gen is good while nothing has written device memory from the host or by AdamW since
	w16 map[uintptr]weight16
	gen int
}

type weight16 struct {
	p   bf16p
	n   int
	gen int
}

// weight is a product's weight in bf16: the copy made since the weights last changed, else a
// new one. Weights change only through AdamW and Upload (and memory through Free), which move
// the generation on; a step's forward and backward passes, over every micro-batch, then share
// one copy of each weight.
func (g *GPU) weight(w trainer.Buf, n int) bf16p {
	c, ok := g.w16[w.Dev]
	if ok && c.n == n && c.gen == g.gen {
		return c.p
	}
	if !ok || c.n < n {
		if ok {
			g.must(g.dev.sync())
			g.dev.free(uintptr(c.p))
		}
		p, err := g.dev.alloc(kBF16P, n)
		g.must(err)
		c.p = bf16p(p)
	}
	c.n, c.gen = n, g.gen
	g.launch1D("to_bf16", int64(n), c.p, f32p(w.Dev), int64(n))
	g.w16[w.Dev] = c
	return c.p
}

// ProfileEntry is the time one kernel (or the products of one shape) took while profiling,
// and how many times it ran.
type ProfileEntry struct {
	Time  time.Duration
	Calls int
}

// StartProfile makes every later launch and product wait for the device before and after it,
// and add its time to Profile's table: slower, but it says where a step's time goes.
func (g *GPU) StartProfile() { g.profile = map[string]ProfileEntry{} }

// Profile is the table since StartProfile, by kernel name and "gemm MxNxK×batch".
func (g *GPU) Profile() map[string]ProfileEntry { return g.profile }

// timed runs f, adding its time under name when profiling.
func (g *GPU) timed(name string, f func()) {
	if g.profile == nil {
		f()
		return
	}
	g.must(g.dev.sync())
	start := time.Now()
	f()
	g.must(g.dev.sync())
	e := g.profile[name]
	e.Time += time.Since(start)
	e.Calls++
	g.profile[name] = e
}

var (
	_ trainer.Backend              = (*GPU)(nil)
	_ trainer.FusedClassifier      = (*GPU)(nil)
	_ trainer.AttentionKeeper      = (*GPU)(nil)
	_ trainer.MatmulGeluer         = (*GPU)(nil)
	_ trainer.MatmulGeluBackwarder = (*GPU)(nil)
	_ trainer.ResidualLayerNormer  = (*GPU)(nil)
)

type scratchBuf struct {
	p    uintptr
	n    int
	kind argKind
}

// Error is the panic value of a failed CUDA call inside a Backend method.
type Error struct{ Err error }

func (e *Error) Error() string { return "cuda: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Recover, deferred, turns a panic of a GPU method into *err; other panics go on.
func Recover(err *error) {
	if r := recover(); r != nil {
		if e, ok := r.(*Error); ok {
			*err = e
			return
		}
		panic(r)
	}
}

// New opens CUDA device 0 and makes the backend: it loads the driver, NVRTC, cuBLASLt and
// cuBLAS, and compiles the kernels for the device (cached on disk). The error wraps
// ErrNoDevice when there is no driver or no device.
//
// $PIPE_GPU_FLASH (1, the default; forward: the flash forward with the cuBLAS backward; 0: no
// flash kernels), $PIPE_GPU_HALF (1, the default: bf16 activations; 0: fp32) and
// $PIPE_GPU_EPILOGUES (1, the default; 0: none) choose the paths the fields NoFlash,
// NoFlashBackward, NoHalf and NoEpilogues choose, for runs of pipe train.
func New() (*GPU, error) {
	flash, err := envChoice("PIPE_GPU_FLASH", "1", "forward", "0")
	if err != nil {
		return nil, err
	}
	half, err := envChoice("PIPE_GPU_HALF", "1", "0")
	if err != nil {
		return nil, err
	}
	epilogues, err := envChoice("PIPE_GPU_EPILOGUES", "1", "0")
	if err != nil {
		return nil, err
	}
	c, err := openCUDA()
	if err != nil {
		return nil, err
	}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("cuda %s (%s): %w", c.Name, c.Arch, err)
	}
	g, err := newGPU(c, c)
	if err != nil {
		return nil, err
	}
	g.NoFlash, g.NoFlashBackward = flash == "0", flash == "forward"
	g.NoHalf, g.NoEpilogues = half == "0", epilogues == "0"
	return g, nil
}

// envChoice is $name, which must be one of choices; unset or empty, the first.
func envChoice(name string, choices ...string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return choices[0], nil
	}
	if !slices.Contains(choices, v) {
		return "", fmt.Errorf("$%s=%q: want %s", name, v, strings.Join(choices, ", "))
	}
	return v, nil
}

// Available reports whether a CUDA device is there (for --device auto), and says which.
func Available() (string, bool) {
	c, err := openCUDA()
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%s (%s, %d SMs, %d MiB)", c.Name, c.Arch, c.SMs, c.TotalMem>>20), true
}

func newGPU(dev device, c *cudaDevice) (*GPU, error) {
	sigs, err := kernelSigs()
	if err != nil {
		return nil, err
	}
	return &GPU{dev: dev, cuda: c, sigs: sigs, scratch: map[string]scratchBuf{}, att: map[uintptr]scratchBuf{}, attOut: map[uintptr]trainer.Buf{}, lnMaxC: lnMaxC,
		w16: map[uintptr]weight16{}}, nil
}

// Describe names the device and the libraries in use.
func (g *GPU) Describe() string {
	if g.cuda == nil {
		return "no GPU: a dry or emulated device"
	}
	c := g.cuda
	return fmt.Sprintf("%s (%s, %d SMs, %d MiB), driver %d.%d, NVRTC %s, libraries %v", c.Name, c.Arch, c.SMs, c.TotalMem>>20,
		c.DriverVersion/1000, c.DriverVersion%1000/10, c.nvrtc.Version(), c.Libs)
}

// PeakTFLOPS is the device's dense bf16 peak, for MFU: 989 for H100/H200 SXM (the PyTorch
// peer's figure), 835 for H100 NVL, 756 for H100 PCIe, 312 for A100; 0 when unknown.
func (g *GPU) PeakTFLOPS() float64 {
	if g.cuda == nil {
		return 0
	}
	return peakTFLOPS(g.cuda.Arch, g.cuda.Name)
}

func peakTFLOPS(arch, name string) float64 {
	switch {
	case arch == "sm_90" && strings.Contains(name, "PCIe"):
		return 756
	case arch == "sm_90" && strings.Contains(name, "NVL"):
		return 835
	case arch == "sm_90":
		return 989
	case arch == "sm_80":
		return 312
	}
	return 0
}

// MemInfo is the device memory free and in all, in bytes (0, 0 on a dry device).
func (g *GPU) MemInfo() (free, total uint64) {
	if g.cuda == nil {
		return 0, 0
	}
	defer g.enter()()
	g.cuda.d.cuMemGetInfo(&free, &total)
	return free, total
}

// TrainBytes estimates the device memory that training cfg in micro-batches of B×T takes:
// parameters, gradients and AdamW's moments (fp32), the activations trainer.Model keeps (most
// in bf16), and this backend's scratch (bf16 operand copies, attention's buffers).
func TrainBytes(cfg trainer.Config, B, T int) uint64 {
	V, L, C, NH := uint64(cfg.VocabSize), uint64(cfg.Layers), uint64(cfg.Dim), uint64(cfg.Heads)
	N, P := uint64(B*T), uint64(cfg.NumParams())
	att := uint64(B) * NH * uint64(T) * uint64(T)
	// the activations trainer.Model allocates: fp32 (the residual stream, LayerNorm's
	// statistics, the losses) and bf16 (the rest, AllocHalf, the logits among them)
	acts := N*C + L*(2*N*C+4*N+1) + 3*N + N*C
	acts16 := L*16*N*C + 9*N*C + N*V
	// attention: the kept bf16 weights of each layer, the scores, their gradient (fp32) and
	// dpre; with the flash kernels (heads of 64) each layer keeps only its rows' log-sum-exp,
	// and the backward pass its rows' D
	attn := 2*L*att + att*(4+4+2)
	if C/NH == flashHS {
		attn = 4 * (L + 1) * uint64(B) * NH * uint64(T)
	}
	// the bf16 copies of the weights (2P), and operand copies of fp32 activations
	scratch := attn + 2*P + N*C*(2*3+4+2+4*3) + 2*max(N*V, N*4*C) + 2*N*4*C + 32<<20
	return 4*(4*P+acts) + 2*acts16 + scratch
}

func (g *GPU) must(err error) {
	if err != nil {
		panic(&Error{err})
	}
}

// enter locks the goroutine to its OS thread and makes the context current there, for one
// Backend method: CUDA's current context is per thread. Use as defer g.enter()().
func (g *GPU) enter() func() {
	runtime.LockOSThread()
	g.dev.bind()
	return runtime.UnlockOSThread
}

// Sync waits for the device to finish the work queued so far.
func (g *GPU) Sync() {
	defer g.enter()()
	g.must(g.dev.sync())
}

// get returns scratch buffer name, of at least n elements of kind, growing it as needed.
func (g *GPU) get(name string, kind argKind, n int) uintptr {
	s := g.scratch[name]
	if s.kind == kind && s.n >= n {
		return s.p
	}
	if s.p != 0 {
		g.must(g.dev.sync()) // no queued kernel may still use it
		g.dev.free(s.p)
	}
	p, err := g.dev.alloc(kind, n)
	g.must(err)
	g.scratch[name] = scratchBuf{p: p, n: n, kind: kind}
	return p
}

// ints copies host ids (tokens or targets) to a device scratch buffer.
func (g *GPU) ints(name string, ids []int32) i32p {
	p := g.get(name, kI32P, len(ids))
	if len(ids) > 0 {
		g.must(g.dev.htod(p, unsafe.Pointer(&ids[0]), 4*len(ids)))
	}
	return i32p(p)
}

// bf16 copies x (n fp32 values) into scratch buffer name as bf16.
func (g *GPU) bf16(name string, x uintptr, n int) bf16p {
	p := bf16p(g.get(name, kBF16P, n))
	g.launch1D("to_bf16", int64(n), p, f32p(x), int64(n))
	return p
}

const threads = 256

// launch1D runs an elementwise kernel (a grid-stride loop) over n items.
func (g *GPU) launch1D(name string, n int64, args ...any) {
	if n == 0 {
		return
	}
	blocks := min((n+threads-1)/threads, 1<<20)
	g.launch(name, [3]uint32{uint32(blocks), 1, 1}, [3]uint32{threads, 1, 1}, args...)
}

// launchRows runs a kernel with one warp per row, 8 rows a block.
func (g *GPU) launchRows(name string, rows int64, args ...any) {
	if rows == 0 {
		return
	}
	g.launch(name, [3]uint32{uint32((rows + 7) / 8), 1, 1}, [3]uint32{threads, 1, 1}, args...)
}

// rowsPerBlock is how many rows a thread sums in the column-sum kernels.
const rowsPerBlock = 128

// launchColumns runs a column-sum kernel: a thread per column, blocks of rowsPerBlock rows.
func (g *GPU) launchColumns(name string, cols, rows int, args ...any) {
	if cols == 0 || rows == 0 {
		return
	}
	g.launch(name, [3]uint32{uint32((cols + threads - 1) / threads), uint32((rows + rowsPerBlock - 1) / rowsPerBlock), 1},
		[3]uint32{threads, 1, 1}, args...)
}

func (g *GPU) launch(name string, grid, block [3]uint32, args ...any) {
	s := g.sigs[name]
	if s == nil {
		g.must(fmt.Errorf("no kernel %s", name))
	}
	g.must(s.check(args))
	g.timed(name, func() { g.must(g.dev.launch(s, grid, block, args)) })
}

func (g *GPU) Name() string { return "cuda" }

func (g *GPU) Alloc(n int) trainer.Buf {
	defer g.enter()()
	p, err := g.dev.alloc(kF32P, n)
	g.must(err)
	return trainer.Buf{Dev: p, N: n}
}

// AllocHalf allocates n activations kept in bf16 (trainer.HalfAllocator): the products read
// them as they are, and the layers that make and read them have _h kernels. With NoHalf it is
// Alloc.
func (g *GPU) AllocHalf(n int) trainer.Buf {
	if g.NoHalf {
		return g.Alloc(n)
	}
	defer g.enter()()
	p, err := g.dev.alloc(kBF16P, n)
	g.must(err)
	return trainer.Buf{Dev: p, N: n, Half: true}
}

// act is an activation as a kernel argument: bf16 when the backend keeps it so.
func act(b trainer.Buf) any {
	if b.Half {
		return bf16p(b.Dev)
	}
	return f32p(b.Dev)
}

// kernelFor is the kernel of name for activations kept as bs are: name_h for bf16 ones (all of
// bs alike), name for fp32.
func (g *GPU) kernelFor(name string, bs ...trainer.Buf) string {
	for _, b := range bs[1:] {
		if b.Half != bs[0].Half {
			g.must(fmt.Errorf("%s: activations of mixed precision", name))
		}
	}
	if bs[0].Half {
		return name + "_h"
	}
	return name
}

// fp32 refuses bf16 buffers where a layer has only an fp32 kernel.
func (g *GPU) fp32(what string, bs ...trainer.Buf) {
	for _, b := range bs {
		if b.Half {
			g.must(fmt.Errorf("%s: a bf16 buffer where the layer takes fp32", what))
		}
	}
}

// in16 is a product's operand in bf16: the activation itself when it is kept so, else a copy
// in scratch buffer name.
func (g *GPU) in16(name string, b trainer.Buf, n int) bf16p {
	if b.Half {
		return bf16p(b.Dev)
	}
	return g.bf16(name, b.Dev, n)
}

// bias16 is the bias a product's epilogue adds to an output kept as out is: in bf16 for a bf16
// output (the epilogue's bias has the output's type).
func (g *GPU) bias16(out, bias trainer.Buf, n int) uintptr {
	if out.Half {
		return uintptr(g.bf16("mm.bias", bias.Dev, n))
	}
	return bias.Dev
}

// Free releases a buffer that Alloc returned (not a view of one), and the attention weights
// kept for the layers whose Att lies in it.
func (g *GPU) Free(x trainer.Buf) {
	defer g.enter()()
	if x.Dev == 0 {
		return
	}
	g.gen++ // the address may come back as other weights
	for key, s := range g.att {
		if !x.Half && key >= x.Dev && key < x.Dev+4*uintptr(x.N) {
			g.dev.free(s.p)
			delete(g.att, key)
			delete(g.attOut, key)
		}
	}
	g.dev.free(x.Dev)
}

// KeepsAttention says that the backend keeps what attention's backward pass needs itself:
// the rows' log-sum-exp after the flash forward, else the weights in bf16.
func (g *GPU) KeepsAttention() bool { return true }

// kept is the buffer of n values of kind kept for the backward pass of the layer whose Att is
// att: the flash forward's log-sum-exp (fp32) or the weights (bf16).
func (g *GPU) kept(att trainer.Buf, kind argKind, n int) uintptr {
	s := g.att[att.Dev]
	if s.p == 0 || s.n < n || s.kind != kind {
		if s.p != 0 {
			g.must(g.dev.sync())
			g.dev.free(s.p)
		}
		p, err := g.dev.alloc(kind, n)
		g.must(err)
		s = scratchBuf{p: p, n: n, kind: kind}
		g.att[att.Dev] = s
	}
	return s.p
}

// Upload copies values to the device, rounding them to bf16 for a Half buffer.
func (g *GPU) Upload(dst trainer.Buf, src []float32) {
	defer g.enter()()
	g.gen++ // perhaps weights
	n := min(len(src), dst.N)
	if n == 0 {
		return
	}
	if dst.Half {
		h := make([]uint16, n)
		for i, v := range src[:n] {
			h[i] = toBF16(v)
		}
		g.must(g.dev.htod(dst.Dev, unsafe.Pointer(&h[0]), 2*n))
		return
	}
	g.must(g.dev.htod(dst.Dev, unsafe.Pointer(&src[0]), 4*n))
}

// Download copies values from the device, widening a Half buffer's.
func (g *GPU) Download(dst []float32, src trainer.Buf) {
	defer g.enter()()
	n := min(len(dst), src.N)
	if n == 0 {
		return
	}
	if src.Half {
		h := make([]uint16, n)
		g.must(g.dev.dtoh(unsafe.Pointer(&h[0]), src.Dev, 2*n))
		for i, b := range h {
			dst[i] = math.Float32frombits(uint32(b) << 16)
		}
		return
	}
	g.must(g.dev.dtoh(unsafe.Pointer(&dst[0]), src.Dev, 4*n))
}

// toBF16 rounds v to bf16 as the kernels' f32_to_bf16 does: to nearest, ties to even.
func toBF16(v float32) uint16 {
	u := math.Float32bits(v)
	if u&0x7f800000 == 0x7f800000 && u&0x007fffff != 0 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

func (g *GPU) Zero(x trainer.Buf) {
	defer g.enter()()
	if !x.Half {
		for key := range g.w16 { // zeroing weights (gradients, the usual case, leave the copies be)
			if key >= x.Dev && key < x.Dev+4*uintptr(x.N) {
				g.gen++
				break
			}
		}
	}
	if x.Half {
		g.launch1D("zero_h", int64(x.N), bf16p(x.Dev), int64(x.N))
		return
	}
	g.must(g.dev.memset32(x.Dev, 0, x.N))
}

// ----------------------------------------------------------------------------
// the layers, in model order, as trainer.Backend lists them

func (g *GPU) EncoderForward(out trainer.Buf, tokens []int32, wte, wpe trainer.Buf, B, T, C int) {
	defer g.enter()()
	g.fp32("EncoderForward", out)
	tok := g.ints("tokens", tokens[:B*T])
	g.launch1D("encoder_forward", int64(B*T*C), f32p(out.Dev), tok, f32p(wte.Dev), f32p(wpe.Dev), int32(B), int32(T), int32(C))
}

func (g *GPU) EncoderBackward(dwte, dwpe trainer.Buf, dout trainer.Buf, tokens []int32, B, T, C int) {
	defer g.enter()()
	g.fp32("EncoderBackward", dout)
	tok := g.ints("tokens", tokens[:B*T])
	g.launch1D("encoder_backward_wte", int64(B*T*C), f32p(dwte.Dev), f32p(dout.Dev), tok, int32(B), int32(T), int32(C))
	g.launch1D("encoder_backward_wpe", int64(T*C), f32p(dwpe.Dev), f32p(dout.Dev), int32(B), int32(T), int32(C))
}

func (g *GPU) LayerNormForward(out, mean, rstd trainer.Buf, inp, weight, bias trainer.Buf, N, C int) {
	defer g.enter()()
	g.fp32("LayerNormForward", inp)
	g.launchRows(g.kernelFor("layernorm_forward", out), int64(N), act(out), f32p(mean.Dev), f32p(rstd.Dev), f32p(inp.Dev),
		f32p(weight.Dev), f32p(bias.Dev), int32(N), int32(C))
}

// ResidualLayerNormForward: residual = a + b and its LayerNorm in one pass; see layernorm.cu.
func (g *GPU) ResidualLayerNormForward(residual, out, mean, rstd trainer.Buf, a, b, weight, bias trainer.Buf, N, C int) {
	defer g.enter()()
	g.fp32("ResidualLayerNormForward", residual, a)
	g.launchRows(g.kernelFor("residual_layernorm_forward", out, b), int64(N), f32p(residual.Dev), act(out), f32p(mean.Dev),
		f32p(rstd.Dev), f32p(a.Dev), act(b), f32p(weight.Dev), f32p(bias.Dev), int32(N), int32(C))
}

func (g *GPU) LayerNormBackward(dinp, dweight, dbias trainer.Buf, dout, inp, weight, mean, rstd trainer.Buf, N, C int) {
	defer g.enter()()
	g.fp32("LayerNormBackward", dinp, inp)
	if C <= g.lnMaxC {
		blocks := min((N+7)/8, 4*max(g.sms(), 1))
		g.launch(g.kernelFor("layernorm_backward_fused", dout), [3]uint32{uint32(blocks), 1, 1}, [3]uint32{threads, 1, 1},
			f32p(dinp.Dev), f32p(dweight.Dev), f32p(dbias.Dev), act(dout), f32p(inp.Dev), f32p(weight.Dev),
			f32p(mean.Dev), f32p(rstd.Dev), int32(N), int32(C))
		return
	}
	g.launchRows(g.kernelFor("layernorm_backward", dout), int64(N), f32p(dinp.Dev), act(dout), f32p(inp.Dev), f32p(weight.Dev),
		f32p(mean.Dev), f32p(rstd.Dev), int32(N), int32(C))
	g.launchColumns(g.kernelFor("layernorm_backward_params", dout), C, N, f32p(dweight.Dev), f32p(dbias.Dev), act(dout),
		f32p(inp.Dev), f32p(mean.Dev), f32p(rstd.Dev), int32(N), int32(C), int32(rowsPerBlock))
}

// lnMaxC is the widest row layernorm_backward_fused takes (LN_MAXC in layernorm.cu); wider
// ones take layernorm_backward then layernorm_backward_params (GPU.lnMaxC, which tests lower).
const lnMaxC = 2048

// sms is the device's count of multiprocessors, 0 on the emulated and dry devices.
func (g *GPU) sms() int {
	if g.cuda == nil {
		return 0
	}
	return g.cuda.SMs
}

// MatmulForward: out (N,OC) = inp (N,C) · weight (C,OC) in bf16 + bias, the bias added by
// cuBLASLt's epilogue; where it has no algorithm for that, bias_broadcast then out += the product.
func (g *GPU) MatmulForward(out trainer.Buf, inp, weight, bias trainer.Buf, N, C, OC int) {
	defer g.enter()()
	a := g.in16("mm.a", inp, N*C)
	w := g.weight(weight, C*OC)
	mm := gemmArgs{M: N, N: OC, K: C, a: uintptr(a), lda: C, b: uintptr(w), ldb: OC, c: out.Dev, ldc: OC,
		bias: g.bias16(out, bias, OC), cBF16: out.Half}
	if err := g.gemmErr(mm); err != errNoEpilogue {
		g.must(err)
		return
	}
	g.launch1D(g.kernelFor("bias_broadcast", out), int64(N*OC), act(out), f32p(bias.Dev), int32(N), int32(OC))
	mm.bias, mm.beta = 0, 1
	g.gemm(mm)
}

// MatmulGeluForward: pre (N,OC) = inp · weight + bias and out = gelu(pre), both from cuBLASLt's
// GELU_AUX_BIAS epilogue (GELU's tanh form, as GPT-2's); where it has no algorithm for that,
// MatmulForward then gelu_forward.
func (g *GPU) MatmulGeluForward(pre, out trainer.Buf, inp, weight, bias trainer.Buf, N, C, OC int) {
	defer g.enter()()
	gelu := g.kernelFor("gelu_forward", out, pre) // the aux matrix has the output's type
	a := g.in16("mm.a", inp, N*C)
	w := g.weight(weight, C*OC)
	mm := gemmArgs{M: N, N: OC, K: C, a: uintptr(a), lda: C, b: uintptr(w), ldb: OC, c: out.Dev, ldc: OC,
		bias: g.bias16(out, bias, OC), geluAux: pre.Dev, cBF16: out.Half}
	if err := g.gemmErr(mm); err != errNoEpilogue {
		g.must(err)
		return
	}
	mm.c, mm.geluAux = pre.Dev, 0
	if err := g.gemmErr(mm); err == errNoEpilogue {
		g.launch1D(g.kernelFor("bias_broadcast", pre), int64(N*OC), act(pre), f32p(bias.Dev), int32(N), int32(OC))
		mm.bias, mm.beta = 0, 1
		g.gemm(mm)
	} else {
		g.must(err)
	}
	g.launch1D(gelu, int64(N*OC), act(out), act(pre), int64(N*OC))
}

// MatmulBackward: dinp (N,C) = dout · weightᵀ; dweight (C,OC) += inpᵀ · dout; dbias += Σ rows of dout.
func (g *GPU) MatmulBackward(dinp, dweight, dbias trainer.Buf, dout, inp, weight trainer.Buf, N, C, OC int) {
	defer g.enter()()
	d := g.in16("mm.a", dout, N*OC)
	w := g.weight(weight, C*OC)
	g.gemm(gemmArgs{transB: true, M: N, N: C, K: OC, a: uintptr(d), lda: OC, b: uintptr(w), ldb: OC, c: dinp.Dev, ldc: C,
		cBF16: dinp.Half})
	g.weightGrads(dweight, dbias, d, dout, inp, N, C, OC)
}

// MatmulGeluBackward is MatmulBackward with GeluBackward after it, for the MLP's second layer:
// dpre (N,C) = (dout · weightᵀ) ⊙ gelu'(pre), by cuBLASLt's DGELU epilogue (else the product,
// then gelu_backward in place).
func (g *GPU) MatmulGeluBackward(dpre, dweight, dbias trainer.Buf, dout, inp, weight, pre trainer.Buf, N, C, OC int) {
	defer g.enter()()
	gelu := g.kernelFor("gelu_backward", dpre, pre) // the aux matrix has the output's type
	d := g.in16("mm.a", dout, N*OC)
	w := g.weight(weight, C*OC)
	mm := gemmArgs{transB: true, M: N, N: C, K: OC, a: uintptr(d), lda: OC, b: uintptr(w), ldb: OC, c: dpre.Dev, ldc: C,
		cBF16: dpre.Half, dgeluAux: pre.Dev}
	if err := g.gemmErr(mm); err == errNoEpilogue {
		mm.dgeluAux = 0
		g.gemm(mm)
		g.launch1D(gelu, int64(N*C), act(dpre), act(pre), act(dpre), int64(N*C))
	} else {
		g.must(err)
	}
	g.weightGrads(dweight, dbias, d, dout, inp, N, C, OC)
}

// weightGrads: dweight (C,OC) += inpᵀ · dout, with d dout in bf16; dbias += Σ rows of dout.
// The sums come from the same product by cuBLASLt's BGRADA epilogue, which sums d, into a
// scratch vector then added (the epilogue overwrites, and gradients accumulate), as PyTorch's
// bf16 autocast sums the bf16 gradient; with fp32 activations (NoHalf), and where cuBLASLt has
// no algorithm, matmul_backward_bias sums dout as it is.
func (g *GPU) weightGrads(dweight, dbias trainer.Buf, d bf16p, dout, inp trainer.Buf, N, C, OC int) {
	x := g.in16("mm.c", inp, N*C)
	mm := gemmArgs{transA: true, M: C, N: OC, K: N, a: uintptr(x), lda: C, b: uintptr(d), ldb: OC, c: dweight.Dev, ldc: OC, beta: 1}
	if !g.NoHalf {
		mm.bgrad = g.get("mm.bgrad", kF32P, OC)
		err := g.gemmErr(mm)
		if err != errNoEpilogue {
			g.must(err)
			g.launch1D("residual_forward", int64(OC), f32p(dbias.Dev), f32p(dbias.Dev), f32p(mm.bgrad), int64(OC))
			return
		}
		mm.bgrad = 0
	}
	g.gemm(mm)
	g.launchColumns(g.kernelFor("matmul_backward_bias", dout), OC, N, f32p(dbias.Dev), act(dout), int32(N), int32(OC),
		int32(rowsPerBlock))
}

// flashHS is the head size attention_flash_forward is written for (GPT-2's at every size).
const flashHS = 64

// useFlash says whether attention of this shape runs as attention_flash_forward: heads of 64,
// and a context whose rows fit the grids' second dimension (65,535 blocks of 4, in dsum's).
func (g *GPU) useFlash(T, hs int) bool {
	return !g.NoFlash && hs == flashHS && (T+3)/4 <= 65535
}

// AttentionForward: per (batch, head), att = softmax(q·kᵀ/√hs) causal, out = att·v; see attention.cu.
// With heads of 64, attention_flash_forward computes it without the (T,T) matrices and keeps
// only each row's log-sum-exp for the backward pass; otherwise cuBLAS's batched products with
// attention_softmax between them, keeping the weights in bf16.
func (g *GPU) AttentionForward(out, att trainer.Buf, qkv trainer.Buf, B, T, C, NH int) {
	defer g.enter()()
	hs, BNH := C/NH, B*NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	if g.useFlash(T, hs) {
		lse := g.kept(att, kF32P, BNH*T)
		g.attOut[att.Dev] = out
		q, k, v, view := g.flashQKV(qkv, B, T, NH)
		g.launch(g.kernelFor("attention_flash_forward", out), [3]uint32{uint32(BNH), uint32((T + 63) / 64), 1},
			[3]uint32{128, 1, 1}, act(out), f32p(lse), q, k, v, int32(T), int32(NH), view.sb, view.sh, view.st, scale)
		return
	}
	q, k, v := g.permute(qkv, B, T, NH, hs)
	vacc := g.get("att.vaccum", kF32P, B*T*C)
	th, tt := int64(T*hs), int64(T*T)
	// pre (T,T) = q (T,hs) · kᵀ, per (b,h)
	pre := g.get("att.pre", kF32P, BNH*T*T)
	g.gemm(gemmArgs{transB: true, M: T, N: T, K: hs, a: uintptr(q), lda: hs, sa: th, b: uintptr(k), ldb: hs, sb: th,
		c: pre, ldc: T, sc: tt, batch: BNH})
	ab := bf16p(g.kept(att, kBF16P, BNH*T*T))
	g.launchRows("attention_softmax", int64(BNH*T), ab, f32p(pre), int32(BNH), int32(T), scale)
	// vaccum (T,hs) = att (T,T) · v (T,hs)
	g.gemm(gemmArgs{M: T, N: hs, K: T, a: uintptr(ab), lda: T, sa: tt, b: uintptr(v), ldb: hs, sb: th,
		c: vacc, ldc: hs, sc: th, batch: BNH})
	g.launch1D(g.kernelFor("attention_unpermute", out), int64(B*T*C), act(out), f32p(vacc), int32(B), int32(T), int32(NH), int32(hs))
}

// headView says where the flash kernels find a head's rows: head (b, h) begins b·sb + h·sh
// values after the pointer, and its row t t·st values after that.
type headView struct {
	sb     int64
	sh, st int32
}

// permutedView is the view of (B,NH,T,64) tensors.
func permutedView(T, NH int) headView {
	return headView{int64(NH * T * flashHS), int32(T * flashHS), flashHS}
}

// flashQKV gives the flash kernels q, k, v: in the bf16 qkv (B,T,3C) itself, or in copies of
// an fp32 one permuted to (B,NH,T,64).
func (g *GPU) flashQKV(qkv trainer.Buf, B, T, NH int) (q, k, v bf16p, view headView) {
	C := NH * flashHS
	if qkv.Half {
		q = bf16p(qkv.Dev)
		return q, q + bf16p(2*C), q + bf16p(4*C), headView{int64(T * 3 * C), flashHS, int32(3 * C)}
	}
	q, k, v = g.permute(qkv, B, T, NH, flashHS)
	return q, k, v, permutedView(T, NH)
}

// permute makes the bf16 q, k, v (B,NH,T,hs) from qkv (B,T,3C).
func (g *GPU) permute(qkv trainer.Buf, B, T, NH, hs int) (q, k, v bf16p) {
	n := B * T * NH * hs
	q, k, v = bf16p(g.get("att.q", kBF16P, n)), bf16p(g.get("att.k", kBF16P, n)), bf16p(g.get("att.v", kBF16P, n))
	g.launch1D(g.kernelFor("attention_permute", qkv), int64(n), q, k, v, act(qkv), int32(B), int32(T), int32(NH), int32(hs))
	return q, k, v
}

// AttentionBackward: dqkv (B,T,3C) from dout (B,T,C), recomputing q, k, v from qkv; see attention.cu.
// After the flash forward it also reads that pass's output, which must be as the forward left it.
func (g *GPU) AttentionBackward(dqkv trainer.Buf, dout, qkv, att trainer.Buf, B, T, C, NH int) {
	defer g.enter()()
	hs, BNH := C/NH, B*NH
	n := B * T * C
	scale := float32(1 / math.Sqrt(float64(hs)))
	kept := g.att[att.Dev]
	if kept.kind == kF32P && kept.n >= BNH*T && !g.NoFlashBackward { // after the flash forward
		o, ok := g.attOut[att.Dev]
		if !ok || o.N < n {
			g.must(fmt.Errorf("attention backward: no output of a flash forward pass of this shape for the layer at %#x", att.Dev))
		}
		q, k, v, view := g.flashQKV(qkv, B, T, NH)
		do, dview := bf16p(dout.Dev), headView{int64(T * C), flashHS, int32(C)}
		if !dout.Half {
			do, dview = bf16p(g.get("att.dvaccum", kBF16P, n)), permutedView(T, NH)
			g.launch1D("attention_unpermute_backward", int64(n), do, f32p(dout.Dev), int32(B), int32(T), int32(NH), int32(hs))
		}
		dsum := g.get("att.dsum", kF32P, BNH*T)
		g.launch(g.kernelFor("attention_flash_backward_dsum", o), [3]uint32{uint32(BNH), uint32((T + 3) / 4), 1},
			[3]uint32{128, 1, 1}, f32p(dsum), do, dview.sb, dview.sh, dview.st, act(o), int32(T), int32(NH))
		grid := [3]uint32{uint32(BNH), uint32((T + 63) / 64), 1}
		for _, name := range []string{"attention_flash_backward_dq", "attention_flash_backward_dkdv"} {
			g.launch(g.kernelFor(name, dqkv), grid, [3]uint32{128, 1, 1}, act(dqkv), q, k, v, view.sb, view.sh, view.st,
				do, dview.sb, dview.sh, dview.st, f32p(kept.p), f32p(dsum), int32(T), int32(NH), scale)
		}
		return
	}
	q, k, v := g.permute(qkv, B, T, NH, hs)
	th, tt := int64(T*hs), int64(T*T)
	var ab bf16p
	switch {
	case kept.kind == kF32P && kept.n >= BNH*T: // the flash forward's log-sum-exp: the weights again
		pre := g.get("att.pre", kF32P, BNH*T*T)
		g.gemm(gemmArgs{transB: true, M: T, N: T, K: hs, a: uintptr(q), lda: hs, sa: th, b: uintptr(k), ldb: hs, sb: th,
			c: pre, ldc: T, sc: tt, batch: BNH})
		ab = bf16p(g.get("att.w", kBF16P, BNH*T*T))
		g.launch1D("attention_weights_lse", int64(BNH*T*T), ab, f32p(pre), f32p(kept.p), int32(BNH), int32(T), scale)
	case kept.kind == kBF16P && kept.n >= BNH*T*T:
		ab = bf16p(kept.p)
	default:
		g.must(fmt.Errorf("attention backward: nothing kept from a forward pass of this shape for the layer at %#x", att.Dev))
	}
	dvacc := bf16p(g.get("att.dvaccum", kBF16P, n))
	g.launch1D(g.kernelFor("attention_unpermute_backward", dout), int64(n), dvacc, act(dout), int32(B), int32(T), int32(NH), int32(hs))
	// datt (T,T) = dvaccum (T,hs) · vᵀ
	datt := g.get("att.datt", kF32P, BNH*T*T)
	g.gemm(gemmArgs{transB: true, M: T, N: T, K: hs, a: uintptr(dvacc), lda: hs, sa: th, b: uintptr(v), ldb: hs, sb: th,
		c: datt, ldc: T, sc: tt, batch: BNH})
	// dv (T,hs) = attᵀ · dvaccum
	dq, dk, dv := g.get("att.dq", kF32P, n), g.get("att.dk", kF32P, n), g.get("att.dv", kF32P, n)
	g.gemm(gemmArgs{transA: true, M: T, N: hs, K: T, a: uintptr(ab), lda: T, sa: tt, b: uintptr(dvacc), ldb: hs, sb: th,
		c: dv, ldc: hs, sc: th, batch: BNH})
	dpre := bf16p(g.get("att.dpre", kBF16P, BNH*T*T))
	g.launchRows("attention_softmax_backward", int64(BNH*T), dpre, f32p(datt), ab, int32(BNH), int32(T), scale)
	// dq (T,hs) = dpre (T,T) · k; dk (T,hs) = dpreᵀ · q
	g.gemm(gemmArgs{M: T, N: hs, K: T, a: uintptr(dpre), lda: T, sa: tt, b: uintptr(k), ldb: hs, sb: th,
		c: dq, ldc: hs, sc: th, batch: BNH})
	g.gemm(gemmArgs{transA: true, M: T, N: hs, K: T, a: uintptr(dpre), lda: T, sa: tt, b: uintptr(q), ldb: hs, sb: th,
		c: dk, ldc: hs, sc: th, batch: BNH})
	g.launch1D(g.kernelFor("attention_permute_backward", dqkv), int64(n), act(dqkv), f32p(dq), f32p(dk), f32p(dv),
		int32(B), int32(T), int32(NH), int32(hs))
}

// AttentionDecode: one new position t with a KV cache, one block per head; see attention.cu.
func (g *GPU) AttentionDecode(out, att, kcache, vcache trainer.Buf, qkv trainer.Buf, t, maxT, C, NH int) {
	defer g.enter()()
	g.fp32("AttentionDecode", out, att, kcache, vcache, qkv)
	g.launch("attention_decode", [3]uint32{uint32(NH), 1, 1}, [3]uint32{threads, 1, 1}, f32p(out.Dev), f32p(att.Dev),
		f32p(kcache.Dev), f32p(vcache.Dev), f32p(qkv.Dev), int32(t), int32(maxT), int32(C), int32(NH),
		float32(1/math.Sqrt(float64(C/NH))))
}

func (g *GPU) GeluForward(out trainer.Buf, inp trainer.Buf, N int) {
	defer g.enter()()
	g.launch1D(g.kernelFor("gelu_forward", out, inp), int64(N), act(out), act(inp), int64(N))
}

func (g *GPU) GeluBackward(dinp trainer.Buf, inp, dout trainer.Buf, N int) {
	defer g.enter()()
	g.launch1D(g.kernelFor("gelu_backward", dinp, inp, dout), int64(N), act(dinp), act(inp), act(dout), int64(N))
}

func (g *GPU) ResidualForward(out trainer.Buf, a, b trainer.Buf, N int) {
	defer g.enter()()
	g.fp32("ResidualForward", out, a, b)
	g.launch1D("residual_forward", int64(N), f32p(out.Dev), f32p(a.Dev), f32p(b.Dev), int64(N))
}

// LogitsForward: logits (N,V) = inp (N,C) · wteᵀ in bf16.
func (g *GPU) LogitsForward(logits trainer.Buf, inp, wte trainer.Buf, N, C, V int) {
	defer g.enter()()
	x := g.in16("mm.a", inp, N*C)
	w := g.weight(wte, V*C)
	g.gemm(gemmArgs{transB: true, M: N, N: V, K: C, a: uintptr(x), lda: C, b: uintptr(w), ldb: C, c: logits.Dev, ldc: V,
		cBF16: logits.Half})
}

// LogitsBackward: dinp (N,C) = dlogits · wte; dwte (V,C) += dlogitsᵀ · inp.
func (g *GPU) LogitsBackward(dinp, dwte trainer.Buf, dlogits, inp, wte trainer.Buf, N, C, V int) {
	defer g.enter()()
	d := g.in16("mm.a", dlogits, N*V)
	w := g.weight(wte, V*C)
	g.gemm(gemmArgs{M: N, N: C, K: V, a: uintptr(d), lda: V, b: uintptr(w), ldb: C, c: dinp.Dev, ldc: C, cBF16: dinp.Half})
	x := g.in16("mm.c", inp, N*C)
	g.gemm(gemmArgs{transA: true, M: V, N: C, K: N, a: uintptr(d), lda: V, b: uintptr(x), ldb: C, c: dwte.Dev, ldc: C, beta: 1})
}

// ceThreads is the block size of the per-row loss kernels.
func ceThreads(V int) uint32 {
	if V >= 4096 {
		return 1024
	}
	return 128
}

func (g *GPU) CrossEntropyForward(losses, probs trainer.Buf, logits trainer.Buf, targets []int32, N, V int) {
	defer g.enter()()
	tg := g.ints("targets", targets[:N])
	g.fp32("CrossEntropyForward", losses, probs)
	g.launch(g.kernelFor("crossentropy_forward", logits), [3]uint32{uint32(N), 1, 1}, [3]uint32{ceThreads(V), 1, 1},
		f32p(losses.Dev), f32p(probs.Dev), act(logits), tg, int32(N), int32(V))
}

func (g *GPU) CrossEntropyBackward(dlogits trainer.Buf, probs trainer.Buf, targets []int32, scale float32, N, V int) {
	defer g.enter()()
	g.fp32("CrossEntropyBackward", dlogits, probs)
	tg := g.ints("targets", targets[:N])
	g.launch1D("crossentropy_backward", int64(N*V), f32p(dlogits.Dev), f32p(probs.Dev), tg, scale, int32(N), int32(V))
}

// ClassifierFused is CrossEntropyForward and CrossEntropyBackward in one pass that never stores
// the probabilities: losses (N) as CrossEntropyForward, and logits (N,V) become dlogits =
// scale · (softmax − onehot(targets)) in place, 0 in the rows of negative targets.
func (g *GPU) ClassifierFused(logits, losses trainer.Buf, targets []int32, scale float32, N, V int) {
	defer g.enter()()
	tg := g.ints("targets", targets[:N])
	g.fp32("ClassifierFused", losses)
	g.launch(g.kernelFor("classifier_fused", logits), [3]uint32{uint32(N), 1, 1}, [3]uint32{ceThreads(V), 1, 1},
		act(logits), f32p(losses.Dev), tg, scale, int32(N), int32(V))
}

// sumSquaresBlocks is the fixed grid of sum_squares, so that the sum does not depend on timing.
const sumSquaresBlocks = 1024

func (g *GPU) SumSquares(x trainer.Buf) float64 {
	defer g.enter()()
	if x.N == 0 {
		return 0
	}
	blocks := min(sumSquaresBlocks, (x.N+threads-1)/threads)
	part := g.get("sumsq", kF64P, sumSquaresBlocks)
	g.launch("sum_squares", [3]uint32{uint32(blocks), 1, 1}, [3]uint32{threads, 1, 1}, f64p(part), f32p(x.Dev), int64(x.N))
	host := make([]float64, blocks)
	g.must(g.dev.dtoh(unsafe.Pointer(&host[0]), part, 8*blocks))
	var s float64
	for _, v := range host {
		s += v
	}
	return s
}

func (g *GPU) AdamW(params, m, v trainer.Buf, grads trainer.Buf, a trainer.AdamWStep) {
	defer g.enter()()
	g.gen++ // the weights change
	inv1 := float32(1 / (1 - math.Pow(float64(a.Beta1), float64(a.Step))))
	inv2 := float32(1 / (1 - math.Pow(float64(a.Beta2), float64(a.Step))))
	n := int64(params.N)
	g.launch1D("adamw", n, f32p(params.Dev), f32p(m.Dev), f32p(v.Dev), f32p(grads.Dev), n, a.LR, a.Beta1, a.Beta2, a.Eps,
		a.WeightDecay, a.GradScale, inv1, inv2)
}

func (g *GPU) gemm(a gemmArgs) { g.must(g.gemmErr(a)) }

// gemmErr runs a product, timed when profiling, and returns its error.
func (g *GPU) gemmErr(a gemmArgs) (err error) {
	if g.NoEpilogues && a.epilogue() != 0 {
		return errNoEpilogue
	}
	name := ""
	if g.profile != nil {
		name = fmt.Sprintf("gemm %dx%dx%d", a.M, a.N, a.K)
		if a.batch > 1 {
			name += fmt.Sprintf("×%d", a.batch)
		}
		switch a.epilogue() {
		case ltEpilogueGeluAuxBias:
			name += "+gelu"
		case ltEpilogueBias:
			name += "+bias"
		case ltEpilogueDGelu:
			name += "+dgelu"
		case ltEpilogueBgradA:
			name += "+bgrad"
		}
	}
	g.timed(name, func() { err = g.dev.gemm(a) })
	return err
}
