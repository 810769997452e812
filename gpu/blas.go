package gpu

import (
	"errors"
	"fmt"
	"unsafe"
)

// Matrix products: cuBLASLt, with cuBLAS's cublasGemmStridedBatchedEx where cuBLASLt's
// heuristic offers no algorithm for a shape. Operands are bf16, products accumulate and are
// stored in fp32 (CUBLAS_COMPUTE_32F).

type blasStatus int32

// Values from library_types.h, cublas_api.h and cublasLt.h, checked by TestConstants.
const (
	blasSuccess           = 0   // CUBLAS_STATUS_SUCCESS
	cudaR32F              = 0   // CUDA_R_32F
	cudaR16BF             = 14  // CUDA_R_16BF
	blasCompute32F        = 68  // CUBLAS_COMPUTE_32F
	blasOpN               = 0   // CUBLAS_OP_N
	blasOpT               = 1   // CUBLAS_OP_T
	blasGemmDefault       = -1  // CUBLAS_GEMM_DEFAULT
	ltDescTransA          = 3   // CUBLASLT_MATMUL_DESC_TRANSA
	ltDescEpilogue        = 7   // CUBLASLT_MATMUL_DESC_EPILOGUE
	ltDescBiasPointer     = 8   // CUBLASLT_MATMUL_DESC_BIAS_POINTER
	ltEpilogueBias        = 4   // CUBLASLT_EPILOGUE_BIAS
	ltEpilogueGeluAuxBias = 164 // CUBLASLT_EPILOGUE_GELU_AUX_BIAS
	ltEpilogueDGelu       = 192 // CUBLASLT_EPILOGUE_DGELU
	ltEpilogueBgradA      = 256 // CUBLASLT_EPILOGUE_BGRADA
	ltDescEpilogueAux     = 11  // CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER
	ltDescEpilogueAuxLd   = 12  // CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD
	ltDescTransB          = 4   // CUBLASLT_MATMUL_DESC_TRANSB
	ltLayoutBatchCount    = 5   // CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT
	ltLayoutBatchStride   = 6   // CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET
	ltPrefMaxWorkspace    = 1   // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
	ltPrefAlignA          = 5   // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES
	ltPrefAlignB          = 6   // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES
	ltPrefAlignC          = 7   // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES
	ltPrefAlignD          = 8   // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES
)

// ltHeuristic is cublasLtMatmulHeuristicResult_t: the algorithm (cublasLtMatmulAlgo_t, 8
// uint64), workspaceSize, state, wavesCount, reserved[4]; 96 bytes.
type ltHeuristic struct {
	algo          [8]uint64
	workspaceSize uint64
	state         int32
	wavesCount    float32
	reserved      [4]int32
}

type ltAPI struct {
	cublasLtGetVersion                   func() uint64
	cublasLtCreate                       func(h *uintptr) blasStatus
	cublasLtDestroy                      func(h uintptr) blasStatus
	cublasLtMatmulDescCreate             func(desc *uintptr, compute, scale int32) blasStatus
	cublasLtMatmulDescDestroy            func(desc uintptr) blasStatus
	cublasLtMatmulDescSetAttribute       func(desc uintptr, attr int32, buf unsafe.Pointer, size uint64) blasStatus
	cublasLtMatrixLayoutCreate           func(layout *uintptr, typ int32, rows, cols uint64, ld int64) blasStatus
	cublasLtMatrixLayoutDestroy          func(layout uintptr) blasStatus
	cublasLtMatrixLayoutSetAttribute     func(layout uintptr, attr int32, buf unsafe.Pointer, size uint64) blasStatus
	cublasLtMatmulPreferenceCreate       func(pref *uintptr) blasStatus
	cublasLtMatmulPreferenceDestroy      func(pref uintptr) blasStatus
	cublasLtMatmulPreferenceSetAttribute func(pref uintptr, attr int32, buf unsafe.Pointer, size uint64) blasStatus
	cublasLtMatmulAlgoGetHeuristic       func(h, desc, a, b, c, d, pref uintptr, requested int32, results *ltHeuristic, returned *int32) blasStatus
	cublasLtMatmul                       func(h, desc uintptr, alpha unsafe.Pointer, A, adesc, B, bdesc uintptr, beta unsafe.Pointer, C, cdesc, D, ddesc uintptr, algo unsafe.Pointer, workspace uintptr, workspaceSize uint64, stream uintptr) blasStatus
}

func (l *ltAPI) bindings() []binding {
	return []binding{
		b("cublasLtGetVersion", "", &l.cublasLtGetVersion),
		b("cublasLtCreate", "", &l.cublasLtCreate),
		b("cublasLtDestroy", "", &l.cublasLtDestroy),
		b("cublasLtMatmulDescCreate", "", &l.cublasLtMatmulDescCreate),
		b("cublasLtMatmulDescDestroy", "", &l.cublasLtMatmulDescDestroy),
		b("cublasLtMatmulDescSetAttribute", "", &l.cublasLtMatmulDescSetAttribute),
		b("cublasLtMatrixLayoutCreate", "", &l.cublasLtMatrixLayoutCreate),
		b("cublasLtMatrixLayoutDestroy", "", &l.cublasLtMatrixLayoutDestroy),
		b("cublasLtMatrixLayoutSetAttribute", "", &l.cublasLtMatrixLayoutSetAttribute),
		b("cublasLtMatmulPreferenceCreate", "", &l.cublasLtMatmulPreferenceCreate),
		b("cublasLtMatmulPreferenceDestroy", "", &l.cublasLtMatmulPreferenceDestroy),
		b("cublasLtMatmulPreferenceSetAttribute", "", &l.cublasLtMatmulPreferenceSetAttribute),
		b("cublasLtMatmulAlgoGetHeuristic", "", &l.cublasLtMatmulAlgoGetHeuristic),
		b("cublasLtMatmul", "", &l.cublasLtMatmul),
	}
}

type blasAPI struct {
	cublasCreate               func(h *uintptr) blasStatus
	cublasDestroy              func(h uintptr) blasStatus
	cublasGemmStridedBatchedEx func(h uintptr, transa, transb int32, m, n, k int32, alpha unsafe.Pointer, A uintptr, atype int32, lda int32, strideA int64, B uintptr, btype int32, ldb int32, strideB int64, beta unsafe.Pointer, C uintptr, ctype int32, ldc int32, strideC int64, batch int32, compute int32, algo int32) blasStatus
}

func (l *blasAPI) bindings() []binding {
	return []binding{
		b("cublasCreate_v2", "", &l.cublasCreate),
		b("cublasDestroy_v2", "", &l.cublasDestroy),
		b("cublasGemmStridedBatchedEx", "", &l.cublasGemmStridedBatchedEx),
	}
}

func blasCheck(what string, s blasStatus) error {
	if s == blasSuccess {
		return nil
	}
	return fmt.Errorf("%s: cuBLAS status %d", what, int32(s))
}

// gemmArgs is one (batched) product in row-major terms, as trainer's gemm states it:
// c (M,N) = op(a) (M,K) · op(b) (K,N) + beta·c, where op transposes when trans is set (then a
// is stored (K,M), b (N,K)); lda, ldb, ldc are row strides in elements, a and b are bf16,
// c is fp32. Batch > 1 repeats it with element strides sa, sb, sc. With bias (fp32, N
// values; batch 1 only), c = op(a)·op(b) + bias broadcast over the rows, by cuBLASLt's bias
// epilogue; with geluAux too (fp32 (M,N), row stride ldc), geluAux gets that and c = gelu of
// it (GPT-2's tanh form), by the GELU_AUX_BIAS epilogue. With dgeluAux (c's type, (M,N), row
// stride ldc), c = gelu'(dgeluAux) ⊙ (op(a)·op(b) + beta·c), by the DGELU epilogue: GELU's
// backward pass fused with the product before it. With bgrad (fp32, N values), bgrad = the
// column sums of op(b), overwritten, by the BGRADA epilogue (cuBLAS's A is our b): a layer's bias
// gradient from the product of its weight gradient. A device without an algorithm for an
// epilogue returns errNoEpilogue and does nothing. With cBF16, c, and bias and geluAux with
// it, are bf16 (a bf16 activation).
type gemmArgs struct {
	transA, transB bool
	M, N, K        int
	a, b, c        uintptr
	lda, ldb, ldc  int
	sa, sb, sc     int64
	batch          int
	beta           float32
	bias           uintptr
	geluAux        uintptr
	dgeluAux       uintptr
	bgrad          uintptr
	cBF16          bool
}

// epilogue is the cuBLASLt epilogue a product asks for, 0 for none.
func (a gemmArgs) epilogue() uint32 {
	switch {
	case a.geluAux != 0:
		return ltEpilogueGeluAuxBias
	case a.bias != 0:
		return ltEpilogueBias
	case a.dgeluAux != 0:
		return ltEpilogueDGelu
	case a.bgrad != 0:
		return ltEpilogueBgradA
	}
	return 0
}

// check refuses what no epilogue does: two at once, one with a batch, GELU without a bias.
func (a gemmArgs) check() error {
	n := 0
	for _, p := range []uintptr{a.bias, a.dgeluAux, a.bgrad} {
		if p != 0 {
			n++
		}
	}
	switch {
	case n > 1, n == 1 && a.batch > 1, a.geluAux != 0 && a.bias == 0, a.bgrad != 0 && a.cBF16:
		return fmt.Errorf("gemm %+v: epilogues two at once, with a batch, GELU without a bias, or a bias gradient beside bf16", a)
	}
	return nil
}

// errNoEpilogue is gemm's error when cuBLASLt has no algorithm for a product with the bias
// epilogue; the caller adds the bias itself.
var errNoEpilogue = errors.New("cuBLASLt has no algorithm with the bias epilogue for this product")

// planKey is what a cuBLASLt plan depends on: shapes, strides and pointer alignments.
type planKey struct {
	transA, transB         bool
	M, N, K, lda, ldb, ldc int
	sa, sb, sc             int64
	batch                  int
	alA, alB, alC          uint32
	epilogue               uint32 // 0 for none
	alBias                 uint32 // of the bias or the bias gradient
	alAux                  uint32 // of the aux matrix, for GELU or its gradient
	cBF16                  bool
}

type plan struct {
	desc, la, lb, lc uintptr
	algo             ltHeuristic
	ok               bool // cuBLASLt has an algorithm; else cuBLAS runs it
}

// alignment is the largest power of two up to 256 that divides p.
func alignment(p uintptr) uint32 {
	a := uint32(1)
	for a < 256 && p%uintptr(2*a) == 0 {
		a *= 2
	}
	return a
}

// colMajor is one of cuBLAS's operands: whether it is transposed, and its stored (rows, cols,
// ld) column-major layout and batch stride.
type colMajor struct {
	op         int32
	rows, cols int
	ld         int
	stride     int64
}

// ltOperands maps a row-major product onto cuBLAS's column-major one. Row-major c (M,N) is
// column-major cᵀ (N,M) = op(b)ᵀ · op(a)ᵀ, so cuBLAS's A is our b: stored column-major as (N,K)
// untransposed, or (K,N) and transposed with transB; its B is our a: (K,M), or (M,K) and
// transposed with transA; its C is (N,M). TestColumnMajorMapping checks this on the CPU.
func ltOperands(k planKey) (A, B, C colMajor) {
	A = colMajor{op: blasOpN, rows: k.N, cols: k.K, ld: k.ldb, stride: k.sb}
	if k.transB {
		A = colMajor{op: blasOpT, rows: k.K, cols: k.N, ld: k.ldb, stride: k.sb}
	}
	B = colMajor{op: blasOpN, rows: k.K, cols: k.M, ld: k.lda, stride: k.sa}
	if k.transA {
		B = colMajor{op: blasOpT, rows: k.M, cols: k.K, ld: k.lda, stride: k.sa}
	}
	return A, B, colMajor{op: blasOpN, rows: k.N, cols: k.M, ld: k.ldc, stride: k.sc}
}

func (g *cudaDevice) newPlan(k planKey) (*plan, error) {
	lt := &g.lt
	p := &plan{}
	if err := blasCheck("cublasLtMatmulDescCreate", lt.cublasLtMatmulDescCreate(&p.desc, blasCompute32F, cudaR32F)); err != nil {
		return nil, err
	}
	A, B, C := ltOperands(k)
	if err := blasCheck("set TRANSA", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescTransA, unsafe.Pointer(&A.op), 4)); err != nil {
		return nil, err
	}
	if err := blasCheck("set TRANSB", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescTransB, unsafe.Pointer(&B.op), 4)); err != nil {
		return nil, err
	}
	if epi := k.epilogue; epi != 0 {
		// the heuristic reads the pointers' alignment: ones of the alignments the key has
		ptr := uint64(k.alBias)
		if epi == ltEpilogueGeluAuxBias || epi == ltEpilogueDGelu {
			aux, ld := uint64(k.alAux), int64(k.ldc)
			if err := blasCheck("set EPILOGUE_AUX_POINTER", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescEpilogueAux, unsafe.Pointer(&aux), 8)); err != nil {
				return nil, err
			}
			if err := blasCheck("set EPILOGUE_AUX_LD", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescEpilogueAuxLd, unsafe.Pointer(&ld), 8)); err != nil {
				return nil, err
			}
		}
		if err := blasCheck("set EPILOGUE", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescEpilogue, unsafe.Pointer(&epi), 4)); err != nil {
			return nil, err
		}
		if epi != ltEpilogueDGelu {
			if err := blasCheck("set BIAS_POINTER", lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescBiasPointer, unsafe.Pointer(&ptr), 8)); err != nil {
				return nil, err
			}
		}
	}
	layout := func(out *uintptr, typ int32, x colMajor) error {
		if err := blasCheck("cublasLtMatrixLayoutCreate", lt.cublasLtMatrixLayoutCreate(out, typ, uint64(x.rows), uint64(x.cols), int64(x.ld))); err != nil {
			return err
		}
		if k.batch > 1 {
			n, stride := int32(k.batch), x.stride
			if err := blasCheck("set BATCH_COUNT", lt.cublasLtMatrixLayoutSetAttribute(*out, ltLayoutBatchCount, unsafe.Pointer(&n), 4)); err != nil {
				return err
			}
			if err := blasCheck("set STRIDED_BATCH_OFFSET", lt.cublasLtMatrixLayoutSetAttribute(*out, ltLayoutBatchStride, unsafe.Pointer(&stride), 8)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := layout(&p.la, cudaR16BF, A); err != nil {
		return nil, err
	}
	if err := layout(&p.lb, cudaR16BF, B); err != nil {
		return nil, err
	}
	ctype := int32(cudaR32F)
	if k.cBF16 {
		ctype = cudaR16BF
	}
	if err := layout(&p.lc, ctype, C); err != nil {
		return nil, err
	}
	var pref uintptr
	if err := blasCheck("cublasLtMatmulPreferenceCreate", lt.cublasLtMatmulPreferenceCreate(&pref)); err != nil {
		return nil, err
	}
	defer lt.cublasLtMatmulPreferenceDestroy(pref)
	ws := uint64(g.workspaceBytes)
	lt.cublasLtMatmulPreferenceSetAttribute(pref, ltPrefMaxWorkspace, unsafe.Pointer(&ws), 8)
	for _, x := range []struct {
		attr int32
		al   uint32
	}{{ltPrefAlignA, k.alB}, {ltPrefAlignB, k.alA}, {ltPrefAlignC, k.alC}, {ltPrefAlignD, k.alC}} {
		al := x.al
		lt.cublasLtMatmulPreferenceSetAttribute(pref, x.attr, unsafe.Pointer(&al), 4)
	}
	var n int32
	s := lt.cublasLtMatmulAlgoGetHeuristic(g.ltHandle, p.desc, p.la, p.lb, p.lc, p.lc, pref, 1, &p.algo, &n)
	p.ok = s == blasSuccess && n > 0 && p.algo.state == blasSuccess
	return p, nil
}

// gemm runs one (batched) product on the default stream.
func (g *cudaDevice) gemm(a gemmArgs) error {
	if a.batch == 0 {
		a.batch = 1
	}
	if a.M == 0 || a.N == 0 {
		return nil
	}
	// every matrix of a batch must be as aligned as the preference says, not only the first
	al := func(p uintptr, stride int64, elem uintptr) uint32 {
		if a.batch > 1 {
			return min(alignment(p), alignment(uintptr(stride)*elem))
		}
		return alignment(p)
	}
	if err := a.check(); err != nil {
		return err
	}
	k := planKey{transA: a.transA, transB: a.transB, M: a.M, N: a.N, K: a.K, lda: a.lda, ldb: a.ldb, ldc: a.ldc,
		sa: a.sa, sb: a.sb, sc: a.sc, batch: a.batch, alA: al(a.a, a.sa, 2), alB: al(a.b, a.sb, 2), alC: al(a.c, a.sc, 4),
		epilogue: a.epilogue(), alBias: alignment(a.bias | a.bgrad), alAux: alignment(a.geluAux | a.dgeluAux), cBF16: a.cBF16}
	if a.cBF16 {
		k.alC = al(a.c, a.sc, 2)
	}
	if (a.geluAux != 0 || a.dgeluAux != 0) && a.ldc%8 != 0 { // cuBLASLt's rule for the aux matrix
		return errNoEpilogue
	}
	p := g.plans[k]
	if p == nil {
		var err error
		if p, err = g.newPlan(k); err != nil {
			return err
		}
		g.plans[k] = p
	}
	alpha, beta := float32(1), a.beta
	if a.K == 0 {
		return fmt.Errorf("gemm %+v: empty inner dimension", k)
	}
	if k.epilogue != 0 {
		if !p.ok {
			return errNoEpilogue
		}
		if ptr := uint64(a.bias | a.bgrad); ptr != 0 {
			if err := blasCheck("set BIAS_POINTER", g.lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescBiasPointer, unsafe.Pointer(&ptr), 8)); err != nil {
				return err
			}
		}
		if a.geluAux != 0 || a.dgeluAux != 0 {
			aux := uint64(a.geluAux | a.dgeluAux)
			if err := blasCheck("set EPILOGUE_AUX_POINTER", g.lt.cublasLtMatmulDescSetAttribute(p.desc, ltDescEpilogueAux, unsafe.Pointer(&aux), 8)); err != nil {
				return err
			}
		}
	}
	if p.ok {
		return blasCheck(fmt.Sprintf("cublasLtMatmul %+v", k), g.lt.cublasLtMatmul(g.ltHandle, p.desc, unsafe.Pointer(&alpha),
			a.b, p.la, a.a, p.lb, unsafe.Pointer(&beta), a.c, p.lc, a.c, p.lc,
			unsafe.Pointer(&p.algo.algo), g.workspace, uint64(g.workspaceBytes), 0))
	}
	A, B, C := ltOperands(k)
	ctype := int32(cudaR32F)
	if a.cBF16 {
		ctype = cudaR16BF
	}
	return blasCheck(fmt.Sprintf("cublasGemmStridedBatchedEx %+v", k), g.blas.cublasGemmStridedBatchedEx(g.blasHandle, A.op, B.op,
		int32(C.rows), int32(C.cols), int32(a.K), unsafe.Pointer(&alpha),
		a.b, cudaR16BF, int32(A.ld), A.stride, a.a, cudaR16BF, int32(B.ld), B.stride,
		unsafe.Pointer(&beta), a.c, ctype, int32(C.ld), C.stride, int32(a.batch), blasCompute32F, blasGemmDefault))
}
