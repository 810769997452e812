package gpu

import (
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/pipe-dev/pipe/trainer"
)

// emuDevice runs the backend without a GPU, computing: the kernels of kernels/*.cu are compiled
// for the CPU by the host's C++ compiler (with testdata/emu/cuda.h standing in for CUDA's
// device vocabulary) and run thread by thread by testdata/emu/runtime.cc; the products are
// cuBLAS's column-major definition (colMajorGemm) applied to the operands ltOperands gives,
// so that the row-major to column-major mapping is exercised by every product of the model.
// It checks each call as the dry device does first. The parity tests run on it when there is
// no GPU, so that a kernel's arithmetic, a wrong index or a race on a barrier is found here;
// what it cannot find is anything about the GPU itself (timing, memory ordering between
// blocks, NVRTC's code generation).
type emuDevice struct {
	*dryDevice
	rt      *emuRuntime
	mem     map[uintptr][]byte // by base address
	reverse bool               // run threads and blocks last first (see TestGPUReversedOrder)
}

// emuRuntime is the compiled kernels: one shared library, loaded once per test binary.
type emuRuntime struct {
	launch     func(fn uintptr, args unsafe.Pointer, gx, gy, gz, bx, by, bz uint32) int32
	setReverse func(r int32)
	errorFn    func() *byte
	entries    map[string]uintptr // kernel name to its wrapper
}

var (
	emuOnce sync.Once
	emuRT   *emuRuntime
	emuErr  error
)

// errNoCompiler is emuRuntimeLoad's error when there is no C++ compiler to build the kernels.
type errNoCompiler struct{ err error }

func (e errNoCompiler) Error() string {
	return "no C++ compiler for the emulated device: " + e.err.Error()
}

// cTypes maps a parameter kind to its C type in the kernels.
var cTypes = map[argKind]string{kF32P: "float*", kBF16P: "bf16*", kI32P: "int*", kF64P: "double*", kInt: "int",
	kI64: "i64", kFloat: "float"}

// emuSource is one kernel file as the host compiler takes it: the stand-in header, the file
// (with the prelude, as NVRTC gets it), and a wrapper per kernel that unpacks cuLaunchKernel's
// argument array.
func emuSource(f KernelFile, sigs map[string]*kernelSig) string {
	var b strings.Builder
	b.WriteString("#include \"cuda.h\"\n")
	b.WriteString(f.Source)
	b.WriteString("\n")
	for _, k := range f.Kernels {
		s := sigs[k]
		fmt.Fprintf(&b, "extern \"C\" void emu_k_%s(void** a) { %s(", k, k)
		for i, p := range s.params {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*(%s*)a[%d]", cTypes[p], i)
		}
		b.WriteString("); }\n")
	}
	return b.String()
}

// loadEmuRuntime compiles the kernel files and the scheduler into one shared library in a
// temporary directory and loads it.
func loadEmuRuntime(files []KernelFile) (*emuRuntime, error) {
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		return nil, errNoCompiler{err}
	}
	sigs := map[string]*kernelSig{}
	for _, f := range files {
		s, err := parseSigs(f.Name, f.Source[strings.Index(f.Source, "#line 1"):])
		if err != nil {
			return nil, err
		}
		maps.Copy(sigs, s)
	}
	dir, err := os.MkdirTemp("", "pipe-gpu-emu-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // the loaded library stays mapped
	srcs := []string{filepath.Join(dir, "runtime.cc")}
	for _, name := range []string{"cuda.h", "runtime.cc"} {
		b, err := os.ReadFile(filepath.Join("testdata", "emu", name))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, strings.TrimSuffix(f.Name, ".cu")+".cc")
		if err := os.WriteFile(p, []byte(emuSource(f, sigs)), 0o644); err != nil {
			return nil, err
		}
		srcs = append(srcs, p)
	}
	so := filepath.Join(dir, "emu.so")
	args := append([]string{"-O2", "-fPIC", "-shared", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas", "-o", so}, srcs...)
	if out, err := exec.Command(cxx, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", cxx, strings.Join(args, " "), err, out)
	}
	h, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	rt := &emuRuntime{entries: map[string]uintptr{}}
	purego.RegisterLibFunc(&rt.launch, h, "emu_launch")
	purego.RegisterLibFunc(&rt.errorFn, h, "emu_error")
	purego.RegisterLibFunc(&rt.setReverse, h, "emu_set_reverse")
	for name := range sigs {
		sym, err := purego.Dlsym(h, "emu_k_"+name)
		if err != nil {
			return nil, err
		}
		rt.entries[name] = sym
	}
	return rt, nil
}

// newEmuDevice is an emulated device; the test skips when there is no C++ compiler, unless
// PIPE_PEERS=1 (CI, where scripts/peers.sh has installed one) says it must run.
func newEmuDevice(t *testing.T) *emuDevice {
	t.Helper()
	emuOnce.Do(func() {
		start := time.Now()
		files, err := KernelFiles()
		if err != nil {
			emuErr = err
			return
		}
		emuRT, emuErr = loadEmuRuntime(files)
		if emuErr == nil {
			t.Logf("emulated device: kernels compiled for the CPU in %.1fs", time.Since(start).Seconds())
		}
	})
	return emuDeviceOn(t, emuRT, emuErr)
}

func emuDeviceOn(t *testing.T, rt *emuRuntime, err error) *emuDevice {
	t.Helper()
	if err != nil {
		if _, ok := err.(errNoCompiler); ok && os.Getenv("PIPE_PEERS") != "1" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return &emuDevice{dryDevice: newDryDevice(t), rt: rt, mem: map[uintptr][]byte{}}
}

func (d *emuDevice) alloc(kind argKind, n int) (uintptr, error) {
	if n < 0 {
		return 0, fmt.Errorf("alloc of %d", n)
	}
	bytes := uintptr(max(n, 1)) * uintptr(elemSize(kind))
	buf := make([]byte, bytes+256) // zeroed; aligned to 256 below, as cuMemAlloc's are
	p := uintptr(unsafe.Pointer(&buf[0]))
	off := (256 - p%256) % 256
	d.mem[p+off] = buf[off : off+bytes]
	d.record(p+off, kind, bytes)
	return p + off, nil
}

func (d *emuDevice) free(p uintptr) {
	d.dryDevice.free(p)
	delete(d.mem, p)
}

// bytes is the device memory [p, p+n) as a slice of its allocation.
func (d *emuDevice) bytes(p uintptr, n int) []byte {
	a, left, ok := d.find(p)
	if !ok || uintptr(n) > left {
		panic(fmt.Sprintf("emulated device: %d bytes at %#x are outside the allocations", n, p))
	}
	base := p + left - a.bytes
	off := p - base
	return d.mem[base][off : off+uintptr(n)]
}

func (d *emuDevice) htod(dst uintptr, src unsafe.Pointer, n int) error {
	if err := d.dryDevice.htod(dst, src, n); err != nil || n == 0 {
		return err
	}
	copy(d.bytes(dst, n), unsafe.Slice((*byte)(src), n))
	return nil
}

func (d *emuDevice) dtoh(dst unsafe.Pointer, src uintptr, n int) error {
	if err := d.dryDevice.dtoh(dst, src, n); err != nil || n == 0 {
		return err
	}
	copy(unsafe.Slice((*byte)(dst), n), d.bytes(src, n))
	return nil
}

func (d *emuDevice) memset32(dst uintptr, v uint32, n int) error {
	if err := d.dryDevice.memset32(dst, v, n); err != nil || n == 0 {
		return err
	}
	b := d.bytes(dst, 4*n)
	for i := 0; i < len(b); i += 4 {
		*(*uint32)(unsafe.Pointer(&b[i])) = v
	}
	return nil
}

func (d *emuDevice) launch(s *kernelSig, grid, block [3]uint32, args []any) error {
	if err := d.dryDevice.launch(s, grid, block, args); err != nil {
		return err
	}
	vals, ptrs := packArgs(args)
	order := int32(0)
	if d.reverse {
		order = 1
	}
	d.rt.setReverse(order)
	r := d.rt.launch(d.rt.entries[s.name], unsafe.Pointer(&ptrs[0]), grid[0], grid[1], grid[2], block[0], block[1], block[2])
	runtime.KeepAlive(vals)
	runtime.KeepAlive(d.mem)
	if r != 0 {
		return fmt.Errorf("kernel %s grid %v block %v: %s", s.name, grid, block, cString(d.rt.errorFn()))
	}
	return nil
}

// gemm computes the product as cuBLAS would be asked to (see cudaDevice.gemm): with cuBLAS's
// A the row-major b, its B the row-major a, in bf16, accumulated in float64 and stored fp32.
func (d *emuDevice) gemm(a gemmArgs) error {
	if err := d.dryDevice.gemm(a); err != nil {
		return err
	}
	batch := max(a.batch, 1)
	if a.M == 0 || a.N == 0 {
		return nil
	}
	if a.K == 0 {
		return fmt.Errorf("gemm %+v: empty inner dimension", a)
	}
	k := planKey{transA: a.transA, transB: a.transB, M: a.M, N: a.N, K: a.K, lda: a.lda, ldb: a.ldb, ldc: a.ldc,
		sa: a.sa, sb: a.sb, sc: a.sc, batch: batch}
	A, B, C := ltOperands(k)
	extent := func(x colMajor) int { // elements from the first to past the last
		return int(int64(batch-1)*x.stride) + (x.cols-1)*x.ld + x.rows
	}
	bf16s := func(p uintptr, n int) []float64 {
		raw := d.bytes(p, 2*n)
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(math.Float32frombits(uint32(raw[2*i])<<16 | uint32(raw[2*i+1])<<24))
		}
		return v
	}
	av, bv := bf16s(a.b, extent(A)), bf16s(a.a, extent(B))
	// c, the bias and the aux matrix are fp32, or bf16 with cBF16, as the epilogue has them
	size := 4
	if a.cBF16 {
		size = 2
	}
	get := func(raw []byte, i int) float32 {
		if a.cBF16 {
			return math.Float32frombits(uint32(*(*uint16)(unsafe.Pointer(&raw[2*i]))) << 16)
		}
		return *(*float32)(unsafe.Pointer(&raw[4*i]))
	}
	put := func(raw []byte, i int, v float32) {
		if a.cBF16 {
			*(*uint16)(unsafe.Pointer(&raw[2*i])) = toBF16(v)
			return
		}
		*(*float32)(unsafe.Pointer(&raw[4*i])) = v
	}
	nc := extent(C)
	craw := d.bytes(a.c, size*nc)
	cv := make([]float64, nc)
	for i := range cv {
		cv[i] = float64(get(craw, i))
	}
	fastColMajorGemm(A, B, C, av, bv, cv, a.K, batch, float64(a.beta))
	if a.bias != 0 { // the epilogue: bias[i] to row i of cuBLAS's D, which is column i of ours
		braw := d.bytes(a.bias, size*a.N)
		for j := range C.cols {
			for i := range C.rows {
				cv[i+j*C.ld] += float64(get(braw, i))
			}
		}
	}
	if a.geluAux != 0 { // GELU_AUX_BIAS: the aux matrix (ld ldc) gets x, D gets gelu(x)
		aux := d.bytes(a.geluAux, size*nc)
		for j := range C.cols {
			for i := range C.rows {
				x := float32(cv[i+j*C.ld])
				put(aux, i+j*C.ld, x)
				cv[i+j*C.ld] = float64(0.5 * x * (1 + float32(math.Tanh(float64(0.7978845608*(x+0.044715*x*x*x))))))
			}
		}
	}
	if a.dgeluAux != 0 { // DGELU: D = gelu'(aux) ⊙ D, the aux matrix with ld ldc
		aux := d.bytes(a.dgeluAux, size*nc)
		for j := range C.cols {
			for i := range C.rows {
				x := float64(get(aux, i+j*C.ld))
				th := math.Tanh(0.7978845608 * (x + 0.044715*x*x*x))
				local := 0.5*(1+th) + 0.5*x*(1-th*th)*0.7978845608*(1+3*0.044715*x*x)
				cv[i+j*C.ld] *= local
			}
		}
	}
	if a.bgrad != 0 { // BGRADA: the sums over k of cuBLAS's A (our op(b)), one per row of its D
		out := make([]float32, C.rows)
		for i := range C.rows {
			var s float64
			for kk := range a.K {
				if A.op == blasOpN {
					s += av[i+kk*A.ld]
				} else {
					s += av[kk+i*A.ld]
				}
			}
			out[i] = float32(s)
		}
		copy(unsafe.Slice((*float32)(unsafe.Pointer(&d.bytes(a.bgrad, 4*C.rows)[0])), C.rows), out)
	}
	for i := range cv {
		put(craw, i, float32(cv[i]))
	}
	return nil
}

// openEmu is the backend on an emulated device.
func openEmu(t *testing.T) *GPU { return openEmuOrder(t, false) }

// openEmuOrder is a GPU on the emulated device, running threads and blocks last first when
// reverse is set.
func openEmuOrder(t *testing.T, reverse bool) *GPU {
	t.Helper()
	d := newEmuDevice(t)
	d.reverse = reverse
	g, err := newGPU(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// fastColMajorGemm is colMajorGemm (the definition) with op(A)'s rows and op(B)'s columns
// gathered first, so that each element of C is one contiguous dot product.
func fastColMajorGemm(A, B, C colMajor, a, b, c []float64, k, batch int, beta float64) {
	m, n := C.rows, C.cols
	at := opAt
	rows, cols := make([]float64, m*k), make([]float64, n*k)
	for bi := range batch {
		for i := range m {
			for p := range k {
				rows[i*k+p] = at(A, a, bi, i, p)
			}
		}
		for j := range n {
			for p := range k {
				cols[j*k+p] = at(B, b, bi, p, j)
			}
		}
		for j := range n {
			cj := cols[j*k : j*k+k]
			for i := range m {
				ri := rows[i*k : i*k+k]
				var s float64
				for p, x := range ri {
					s += x * cj[p]
				}
				o := int64(bi)*C.stride + int64(i+j*C.ld)
				if beta != 0 {
					s += beta * c[o]
				}
				c[o] = s
			}
		}
	}
}

// TestEmulator checks the emulated device itself on the kernels of testdata/emu/selftest.cu:
// a block reduction gives the sum, and a barrier that half the block never reaches, or a
// shuffle with a lane that has exited, is an error naming the kernel, not a hang or garbage.
func TestEmulator(t *testing.T) {
	prelude, err := kernelFS.ReadFile("kernels/prelude.cuh")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "emu", "selftest.cu"))
	if err != nil {
		t.Fatal(err)
	}
	f := KernelFile{Name: "selftest.cu", Source: string(prelude) + "\n#line 1 \"selftest.cu\"\n" + string(src), Kernels: kernelNames(string(src))}
	rt, err := loadEmuRuntime([]KernelFile{f})
	d := emuDeviceOn(t, rt, err)
	sigs, err := parseSigs(f.Name, string(src))
	if err != nil {
		t.Fatal(err)
	}
	const blocks, threads = 3, 128
	x := make([]float32, blocks*threads)
	want := make([]float32, blocks)
	for i := range x {
		x[i] = float32(i%7) - 2.5
		want[i/threads] += x[i]
	}
	xp, _ := d.alloc(kF32P, len(x))
	out, _ := d.alloc(kF32P, threads)
	if err := d.htod(xp, unsafe.Pointer(&x[0]), 4*len(x)); err != nil {
		t.Fatal(err)
	}
	if err := d.launch(sigs["emu_block_sum"], [3]uint32{blocks, 1, 1}, [3]uint32{threads, 1, 1}, []any{f32p(out), f32p(xp)}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, blocks)
	if err := d.dtoh(unsafe.Pointer(&got[0]), out, 4*blocks); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block sums %v, want %v", got, want)
	}
	// A race shows as a difference between the two orders.
	var race [2][threads]float32
	for i, reverse := range []bool{false, true} {
		d.reverse = reverse
		if err := d.launch(sigs["emu_race"], [3]uint32{1, 1, 1}, [3]uint32{threads, 1, 1}, []any{f32p(out)}); err != nil {
			t.Fatal(err)
		}
		if err := d.dtoh(unsafe.Pointer(&race[i][0]), out, 4*threads); err != nil {
			t.Fatal(err)
		}
	}
	d.reverse = false
	if race[0][0] != -1 || race[1][0] != 1 {
		t.Errorf("emu_race: thread 0 read %v first to last and %v last to first, want -1 and 1", race[0][0], race[1][0])
	}
	for name, msg := range map[string]string{
		"emu_divergent_sync": "64 threads wait at __syncthreads",
		"emu_exited_lane":    "reads lane 0, which exited before it",
	} {
		err := d.launch(sigs[name], [3]uint32{1, 1, 1}, [3]uint32{threads, 1, 1}, []any{f32p(out)})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one saying %q", name, err, msg)
		}
	}
}

// TestMatmulWithoutEpilogue runs the products of the Conv1D layers (MatmulForward,
// MatmulGeluForward, MatmulBackward, MatmulGeluBackward) where cuBLASLt offers no algorithm
// with an epilogue: the backend adds the bias and GELU, sums the bias gradient and applies
// GELU's gradient itself, with the same result.
func TestMatmulWithoutEpilogue(t *testing.T) {
	dev := newEmuDevice(t)
	dev.noEpilogue = true
	g, err := newGPU(dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range opCases() {
		if !strings.HasPrefix(c.name, "matmul_") || !strings.Contains(c.name, "_74x") {
			continue
		}
		var err error
		func() {
			defer Recover(&err)
			want, got := runOp(trainer.NewCPU(), c), runOp(g, c)
			for _, name := range c.check {
				if e := relErr(got[name], want[name]); !(e <= c.tol) {
					t.Errorf("%s: %s: rel err %.3e", c.name, name, e)
				}
			}
		}()
		if err != nil {
			t.Fatal(err)
		}
	}
	// per shape (2): 2 forward products with a bias, 1 with GELU; 2 backward products with a
	// bias gradient, 1 with GELU's gradient, each of the backward cases run twice
	for name, want := range map[string]int{"bias_broadcast": 4, "gelu_forward": 2, "matmul_backward_bias": 8, "gelu_backward": 4} {
		if dev.counts[name] != want {
			t.Errorf("%s ran %d times, want %d", name, dev.counts[name], want)
		}
	}
}
