package gpu

import (
	"fmt"
	"sort"
	"testing"
	"unsafe"

	"github.com/pipe-dev/pipe/trainer"
)

// dryDevice is a device without a GPU: it hands out addresses, computes nothing, and checks
// every call: that each pointer lies inside an allocation of its element type, that a copy or
// a product stays inside its buffers, and that launch shapes are valid. It runs the backend's
// code paths here, so that a wrong argument, stride or buffer is found before the GPU run.
type dryDevice struct {
	t      *testing.T
	next   uintptr
	allocs map[uintptr]dryAlloc // by base address
	bases  []uintptr            // sorted
	counts map[string]int       // launches per kernel, and "gemm"

	noEpilogue bool // answer errNoEpilogue to products with a bias, as cuBLASLt may
}

type dryAlloc struct {
	kind  argKind
	bytes uintptr
}

func newDryDevice(t *testing.T) *dryDevice {
	return &dryDevice{t: t, next: 1 << 40, allocs: map[uintptr]dryAlloc{}, counts: map[string]int{}}
}

func (d *dryDevice) bind()       {}
func (d *dryDevice) sync() error { return nil }

func (d *dryDevice) alloc(kind argKind, n int) (uintptr, error) {
	if n < 0 {
		return 0, fmt.Errorf("alloc of %d", n)
	}
	p := d.next
	bytes := uintptr(max(n, 1)) * uintptr(elemSize(kind))
	d.next += (bytes + 255) &^ 255
	d.record(p, kind, bytes)
	return p, nil
}

// record notes an allocation of bytes at p.
func (d *dryDevice) record(p uintptr, kind argKind, bytes uintptr) {
	d.allocs[p] = dryAlloc{kind: kind, bytes: bytes}
	i := sort.Search(len(d.bases), func(i int) bool { return d.bases[i] > p })
	d.bases = append(d.bases[:i], append([]uintptr{p}, d.bases[i:]...)...)
}

func (d *dryDevice) free(p uintptr) {
	if _, ok := d.allocs[p]; !ok {
		d.t.Errorf("free of %#x, which is not an allocation", p)
	}
	delete(d.allocs, p)
	for i, b := range d.bases {
		if b == p {
			d.bases = append(d.bases[:i], d.bases[i+1:]...)
			break
		}
	}
}

// find is the allocation holding p, and the bytes from p to its end.
func (d *dryDevice) find(p uintptr) (dryAlloc, uintptr, bool) {
	i := sort.Search(len(d.bases), func(i int) bool { return d.bases[i] > p }) - 1
	if i < 0 {
		return dryAlloc{}, 0, false
	}
	a, ok := d.allocs[d.bases[i]]
	if !ok || p >= d.bases[i]+a.bytes {
		return dryAlloc{}, 0, false
	}
	return a, d.bases[i] + a.bytes - p, true
}

func (d *dryDevice) span(what string, p uintptr, kind argKind, bytes uintptr) error {
	a, left, ok := d.find(p)
	switch {
	case !ok:
		return fmt.Errorf("%s: %#x is in no allocation", what, p)
	case kind != "" && a.kind != kind:
		return fmt.Errorf("%s: %#x is in a %s allocation, used as %s", what, p, a.kind, kind)
	case bytes > left:
		return fmt.Errorf("%s: %d bytes from %#x, the allocation has %d left", what, bytes, p, left)
	case p%uintptr(elemSize(a.kind)) != 0:
		return fmt.Errorf("%s: %#x is not aligned to its %s elements", what, p, a.kind)
	}
	return nil
}

func (d *dryDevice) htod(dst uintptr, src unsafe.Pointer, bytes int) error {
	return d.span("htod", dst, "", uintptr(bytes))
}

func (d *dryDevice) dtoh(dst unsafe.Pointer, src uintptr, bytes int) error {
	return d.span("dtoh", src, "", uintptr(bytes))
}

func (d *dryDevice) memset32(dst uintptr, v uint32, n int) error {
	return d.span("memset", dst, "", uintptr(4*n))
}

func (d *dryDevice) launch(s *kernelSig, grid, block [3]uint32, args []any) error {
	if err := s.check(args); err != nil {
		return err
	}
	for i := range 3 {
		if grid[i] == 0 || block[i] == 0 {
			return fmt.Errorf("kernel %s: grid %v block %v", s.name, grid, block)
		}
	}
	if block[0]*block[1]*block[2] > 1024 || block[0]%32 != 0 {
		return fmt.Errorf("kernel %s: block %v", s.name, block)
	}
	if grid[1] > 65535 || grid[2] > 65535 {
		return fmt.Errorf("kernel %s: grid %v", s.name, grid)
	}
	for i, a := range args {
		var p uintptr
		k, _ := kindOfArg(a)
		switch v := a.(type) {
		case f32p:
			p = uintptr(v)
		case bf16p:
			p = uintptr(v)
		case i32p:
			p = uintptr(v)
		case f64p:
			p = uintptr(v)
		default:
			continue
		}
		if err := d.span(fmt.Sprintf("kernel %s argument %d", s.name, i), p, k, 1); err != nil {
			return err
		}
	}
	d.counts[s.name]++
	return nil
}

// gemm checks the operands' kinds and that every element the product touches is inside them.
func (d *dryDevice) gemm(a gemmArgs) error {
	batch := max(a.batch, 1)
	operand := func(name string, p uintptr, kind argKind, rows, cols, ld int, stride int64) error {
		if ld < cols {
			return fmt.Errorf("gemm %+v: %s has ld %d < %d columns", a, name, ld, cols)
		}
		if batch > 1 && stride < int64((rows-1)*ld+cols) {
			return fmt.Errorf("gemm %+v: %s's batch stride %d overlaps its (%d,%d) matrices", a, name, stride, rows, cols)
		}
		last := int64(batch-1)*stride + int64((rows-1)*ld+cols)
		return d.span(fmt.Sprintf("gemm %+v: %s", a, name), p, kind, uintptr(last)*uintptr(elemSize(kind)))
	}
	ar, ac := a.M, a.K
	if a.transA {
		ar, ac = a.K, a.M
	}
	br, bc := a.K, a.N
	if a.transB {
		br, bc = a.N, a.K
	}
	if err := operand("a", a.a, kBF16P, ar, ac, a.lda, a.sa); err != nil {
		return err
	}
	if err := operand("b", a.b, kBF16P, br, bc, a.ldb, a.sb); err != nil {
		return err
	}
	ckind := kF32P
	if a.cBF16 {
		ckind = kBF16P
	}
	if err := operand("c", a.c, ckind, a.M, a.N, a.ldc, a.sc); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	if a.epilogue() != 0 && d.noEpilogue {
		return errNoEpilogue
	}
	if a.dgeluAux != 0 {
		if err := operand("dgeluAux", a.dgeluAux, ckind, a.M, a.N, a.ldc, 0); err != nil {
			return err
		}
	}
	if a.bgrad != 0 {
		if err := d.span(fmt.Sprintf("gemm %+v: bgrad", a), a.bgrad, kF32P, uintptr(4*a.N)); err != nil {
			return err
		}
	}
	if a.bias != 0 {
		if a.geluAux != 0 {
			if err := operand("geluAux", a.geluAux, ckind, a.M, a.N, a.ldc, 0); err != nil {
				return err
			}
		}
		if err := d.span(fmt.Sprintf("gemm %+v: bias", a), a.bias, ckind, uintptr(elemSize(ckind))*uintptr(a.N)); err != nil {
			return err
		}
	}
	d.counts["gemm"]++
	return nil
}

// TestDryRun runs a model's forward, backward and AdamW step, a fused classifier and the
// sampling path through the backend on the dry device, for a few shapes (odd sizes included).
func TestDryRun(t *testing.T) {
	launched := map[string]int{}
	for _, c := range []struct {
		cfg             trainer.Config
		B, T            int
		noEpilogue      bool // as where cuBLASLt has no algorithm with the bias epilogue
		noFlashBackward bool
		noHalf          bool // every activation in fp32
		lnMaxC          int  // as GPU.lnMaxC; 0: the default, -1: LayerNorm's backward pass unfused
	}{
		{trainer.Config{VocabSize: 3, Context: 11, Layers: 3, Heads: 3, Dim: 48}, 5, 11, true, false, false, -1},
		{trainer.Config{VocabSize: 1001, Context: 64, Layers: 2, Heads: 4, Dim: 128}, 3, 37, true, false, true, -1},
		{trainer.Config{VocabSize: 1001, Context: 64, Layers: 2, Heads: 2, Dim: 128}, 3, 37, false, false, true, 0}, // flash, fp32
		{trainer.Config{VocabSize: 1001, Context: 130, Layers: 2, Heads: 2, Dim: 128}, 3, 130, false, true, false, 0},
		{trainer.Config{VocabSize: 50257, Context: 1024, Layers: 2, Heads: 12, Dim: 768}, 2, 1024, false, false, false, 0},
	} {
		t.Run(fmt.Sprintf("V%d_T%d_C%d_NH%d_B%d", c.cfg.VocabSize, c.T, c.cfg.Dim, c.cfg.Heads, c.B), func(t *testing.T) {
			dev := newDryDevice(t)
			dev.noEpilogue = c.noEpilogue
			g, err := newGPU(dev, nil)
			if err != nil {
				t.Fatal(err)
			}
			g.NoFlashBackward, g.NoHalf = c.noFlashBackward, c.noHalf
			if c.lnMaxC != 0 {
				g.lnMaxC = c.lnMaxC
			}
			var runErr error
			func() {
				defer Recover(&runErr)
				m, err := trainer.New(c.cfg, g)
				if err != nil {
					t.Fatal(err)
				}
				m.Init(1)
				tokens, targets := make([]int32, c.B*c.T), make([]int32, c.B*c.T)
				for i := range tokens {
					tokens[i] = int32(i % c.cfg.VocabSize)
					targets[i] = int32((i + 1) % c.cfg.VocabSize)
				}
				targets[0] = trainer.IgnoreTarget
				m.ZeroGrad()
				if _, err := m.Forward(tokens, targets, c.B, c.T); err != nil {
					t.Fatal(err)
				}
				if err := m.Backward(1); err != nil {
					t.Fatal(err)
				}
				m.Update(trainer.DefaultAdamW, 1e-3)
				N := c.B * c.T
				g.ClassifierFused(m.Acts.Logits, m.Acts.Losses, targets, 1, N, c.cfg.VocabSize)
				g.Zero(m.Acts.Layers[0].Ln1)                                    // an activation, fp32 or bf16
				if _, err := m.Forward(tokens[:c.T], nil, 1, c.T); err != nil { // logits only, as sampling does
					t.Fatal(err)
				}
				if err := m.Sample(tokens[:3], trainer.SampleConfig{Tokens: 2}, func(int32) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}()
			if runErr != nil {
				t.Fatal(runErr)
			}
			for name, n := range dev.counts {
				launched[name] += n
			}
			t.Logf("launches: %v", dev.counts)
		})
	}
	// the probe of the fragment layouts, which only TestGPULayouts runs
	dev := newDryDevice(t)
	g, err := newGPU(dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	var probeErr error
	func() {
		defer Recover(&probeErr)
		defer g.enter()()
		runLayoutProbe(g, [256]uint16{}, [256]uint16{})
	}()
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	launched["layout_probe"] += dev.counts["layout_probe"]
	sigs, _ := kernelSigs()
	for name := range sigs {
		if launched[name] == 0 {
			t.Errorf("kernel %s was never launched", name)
		}
	}
}

// opAt is element (i,j) of op(x) in matrix bi of the batch whose values are v.
func opAt(x colMajor, v []float64, bi, i, j int) float64 {
	if x.op == blasOpT {
		i, j = j, i
	}
	return v[int64(bi)*x.stride+int64(i+j*x.ld)]
}

// colMajorGemm is cuBLAS's strided batched product on the CPU, from its definition:
// D (m,n) = op(A) · op(B) + beta·C per batch, column-major (element (i,j) at i + j·ld).
func colMajorGemm(A, B, C colMajor, a, b, c []float64, k, batch int, beta float64) {
	m, n := C.rows, C.cols
	at := opAt
	for bi := range batch {
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					s += at(A, a, bi, i, p) * at(B, b, bi, p, j)
				}
				o := int64(bi)*C.stride + int64(i+j*C.ld)
				if beta != 0 { // with beta 0, C is not read (it may hold NaN)
					s += beta * c[o]
				}
				c[o] = s
			}
		}
	}
}

// TestColumnMajorMapping checks ltOperands: the row-major product of trainer's gemm, done as
// the column-major product cuBLAS computes, for every transposition, padded leading
// dimensions and a batch.
func TestColumnMajorMapping(t *testing.T) {
	rng := uint64(1)
	rnd := func() float64 {
		rng = rng*6364136223846793005 + 1442695040888963407
		return float64(int64(rng>>33)%1000) / 500
	}
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			M, N, K, batch := 5, 3, 4, 2
			ar, ac := M, K
			if tA {
				ar, ac = K, M
			}
			br, bc := K, N
			if tB {
				br, bc = N, K
			}
			lda, ldb, ldc := ac+2, bc+1, N+3
			sa, sb, sc := int64(ar*lda+1), int64(br*ldb+2), int64(M*ldc)
			a, b := make([]float64, batch*int(sa)), make([]float64, batch*int(sb))
			c, want := make([]float64, batch*int(sc)), make([]float64, batch*int(sc))
			for i := range a {
				a[i] = rnd()
			}
			for i := range b {
				b[i] = rnd()
			}
			for i := range c {
				c[i] = rnd()
				want[i] = c[i]
			}
			// row-major, from the definition
			for bi := range batch {
				for i := range M {
					for j := range N {
						var s float64
						for p := range K {
							ai, bi2 := i*lda+p, p*ldb+j
							if tA {
								ai = p*lda + i
							}
							if tB {
								bi2 = j*ldb + p
							}
							x, y := a[int64(bi)*sa+int64(ai)], b[int64(bi)*sb+int64(bi2)]
							s += x * y
						}
						want[int64(bi)*sc+int64(i*ldc+j)] = s + 0.5*want[int64(bi)*sc+int64(i*ldc+j)]
					}
				}
			}
			A, B, C := ltOperands(planKey{transA: tA, transB: tB, M: M, N: N, K: K, lda: lda, ldb: ldb, ldc: ldc, sa: sa, sb: sb, sc: sc, batch: batch})
			colMajorGemm(A, B, C, b, a, c, K, batch, 0.5)
			for i := range c {
				if d := c[i] - want[i]; d > 1e-9 || d < -1e-9 {
					t.Fatalf("transA %v transB %v: element %d is %v, want %v", tA, tB, i, c[i], want[i])
				}
			}
		}
	}
}

// TestOpCasesDry runs the parity tests' cases on the dry device, and on the CPU twice to see
// that the harness itself is sound (the CPU agrees with itself exactly), so that the GPU run
// spends its time on the GPU's answers.
func TestOpCasesDry(t *testing.T) {
	g, err := newGPU(newDryDevice(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range opCases() {
		var err error
		func() {
			defer Recover(&err)
			runOp(g, c)
		}()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		a, b := runOp(trainer.NewCPU(), c), runOp(trainer.NewCPU(), c)
		for _, name := range c.check {
			if e := relErr(a[name], b[name]); e != 0 {
				t.Errorf("%s: %s differs between two CPU runs: %v", c.name, name, e)
			}
		}
	}
}
