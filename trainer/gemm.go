package trainer

// Matrix multiply. gemmRef is the definition (and the test oracle); sgemm computes the same in
// float32 the way GotoBLAS and BLIS do: op(b) is copied in blocks of kc×nc into column panels
// nr wide, op(a) in blocks of mc×kc into row panels mr tall, and a micro-kernel multiplies one
// row panel by one column panel into an mr×nr tile of c held in registers. The copies make every
// transpose the same to the kernel and keep its inputs contiguous and in cache.
//
//	for jc over N by nc:           b block (kc,nc) lives in L3
//	  for pc over K by kc:         pack b block
//	    for ic over M by mc:       pack a block (mc,kc), lives in L2
//	      for jr over nc by nr:    b panel (kc,nr) lives in L1
//	        for ir over mc by mr:  c[ic+ir : +mr, jc+jr : +nr] += a panel · b panel
//
// Where c is narrow (the model's products mostly are), a block of a is read by few b panels and
// copying it costs more than it saves, so the kernel reads a in place, with a row stride and a
// step, and only the ragged last panel is copied.
//
// The micro-kernel is kernelGo in Go, or kernelAVX2 (gemm_amd64.s, AVX2 + FMA) where the CPU
// has them.

import (
	"sync"
	"unsafe"
)

const (
	mr, nr = 6, 16 // the micro-kernel's tile: 12 ymm accumulators of 8 floats
	kc     = 256   // depth of a packed block
	mc     = 144   // rows of a packed a block: 144×256×4 B = 144 KiB, in L2
	nc     = 3072  // columns of a packed b block: 256×3072×4 B = 3 MiB, in L3
)

// gemm: c (M,N) = op(a) (M,K) · op(b) (K,N), or c += it when acc. op(a) is a with row stride
// lda, or when ta the transpose of a (K,M) with row stride lda; likewise op(b). It splits the
// work over the cores that on allows (oneCore: callers that are parallel already).
func gemm[F Float](on cores, c []F, ldc int, a []F, lda int, ta bool, b []F, ldb int, tb bool, M, N, K int, acc bool) {
	if c32, ok := any(c).([]float32); ok {
		workers := min(on.n(), max(1, 2*M*N*K/minGemmWork))
		sgemm(c32, ldc, any(a).([]float32), lda, ta, any(b).([]float32), ldb, tb, M, N, K, acc, workers)
		return
	}
	gemmRef(c, ldc, a, lda, ta, b, ldb, tb, M, N, K, acc)
}

// gemmRef is gemm as three loops: the definition.
func gemmRef[F Float](c []F, ldc int, a []F, lda int, ta bool, b []F, ldb int, tb bool, M, N, K int, acc bool) {
	for i := range M {
		for j := range N {
			var s F
			for p := range K {
				ai, bi := i*lda+p, p*ldb+j // op(a)[i,p], op(b)[p,j]
				if ta {
					ai = p*lda + i
				}
				if tb {
					bi = j*ldb + p
				}
				s += a[ai] * b[bi]
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

// minGemmWork is the flop count below which sgemm does not split across cores: about 40 µs
// of one core's work.
var minGemmWork = 1 << 22 // a variable so that tests can split small products

// sgemm is gemm in float32 on up to workers goroutines, each taking a slab of c's rows (or of
// its columns, when c is wide) in whole micro-tiles, or, when K is much the longest, a slice of
// the sum.
func sgemm(c []float32, ldc int, a []float32, lda int, ta bool, b []float32, ldb int, tb bool, M, N, K int, acc bool, workers int) {
	if M <= 0 || N <= 0 {
		return
	}
	w := workers
	if w <= 1 {
		sgemmBlocked(c, ldc, a, lda, ta, b, ldb, tb, M, N, K, acc)
		return
	}
	var slabs []func() // one per worker
	var parts [][]float32
	switch {
	case K > 2*max(M, N): // a long sum (weight gradients): slices of K, each but the first into a c of its own
		step := (K + w - 1) / w
		for k0 := 0; k0 < K; k0 += step {
			kn := min(step, K-k0)
			ao, bo := k0, k0*ldb
			if ta {
				ao = k0 * lda
			}
			if tb {
				bo = k0
			}
			cc, ldcc, accc := c, ldc, acc
			if k0 > 0 {
				cc, ldcc, accc = make([]float32, M*N), N, false
				parts = append(parts, cc)
			}
			slabs = append(slabs, func() { sgemmBlocked(cc, ldcc, a[ao:], lda, ta, b[bo:], ldb, tb, M, N, kn, accc) })
		}
	case M >= N: // slabs of rows
		step := ((M+w-1)/w + mr - 1) / mr * mr
		for i0 := 0; i0 < M; i0 += step {
			rows := min(step, M-i0)
			ao := i0 * lda
			if ta {
				ao = i0
			}
			slabs = append(slabs, func() { sgemmBlocked(c[i0*ldc:], ldc, a[ao:], lda, ta, b, ldb, tb, rows, N, K, acc) })
		}
	default: // slabs of columns
		step := ((N+w-1)/w + nr - 1) / nr * nr
		for j0 := 0; j0 < N; j0 += step {
			cols := min(step, N-j0)
			bo := j0
			if tb {
				bo = j0 * ldb
			}
			slabs = append(slabs, func() { sgemmBlocked(c[j0:], ldc, a, lda, ta, b[bo:], ldb, tb, M, cols, K, acc) })
		}
	}
	parallelFor(cores(w), len(slabs), len(slabs)*minParallelWork, func(lo, hi int) {
		for _, slab := range slabs[lo:hi] {
			slab()
		}
	})
	for _, part := range parts { // in order, so that the sum does not depend on timing
		for i := range M {
			row, p := c[i*ldc:i*ldc+N], part[i*N:(i+1)*N]
			for j := range row {
				row[j] += p[j]
			}
		}
	}
}

// packBufs are the packed blocks of one sgemmBlocked call and the tile for ragged edges,
// reused through a pool.
type packBufs struct {
	a, b []float32
	tile [mr * nr]float32
}

var packPool = sync.Pool{New: func() any {
	return &packBufs{a: make([]float32, mc*kc), b: make([]float32, kc*nc)}
}}

// packAMinN is the width of c from which sgemmBlocked packs op(a): each block of a is then read
// by so many b panels that the copy pays. Narrower products read a where it lies, except that
// a transposed a (weight gradients: six values side by side, a row apart at each step) pays
// from packATransMinN.
var packAMinN, packATransMinN = 512, 128

// sgemmBlocked is sgemm on one goroutine.
func sgemmBlocked(c []float32, ldc int, a []float32, lda int, ta bool, b []float32, ldb int, tb bool, M, N, K int, acc bool) {
	if K <= 0 {
		if !acc {
			for i := range M {
				clear(c[i*ldc : i*ldc+N])
			}
		}
		return
	}
	bufs := packPool.Get().(*packBufs)
	defer packPool.Put(bufs)
	// op(a)[i, p] is a[i*ai + p*ap]
	ai, ap := lda, 1
	if ta {
		ai, ap = 1, lda
	}
	for jc := 0; jc < N; jc += nc {
		nb := min(nc, N-jc)
		for pc := 0; pc < K; pc += kc {
			kb := min(kc, K-pc)
			packB(bufs.b, b, ldb, tb, pc, jc, kb, nb)
			for ic := 0; ic < M; ic += mc {
				mb := min(mc, M-ic)
				whole := mb / mr * mr // rows in whole panels
				var panel func(ir int) (p *float32, ai, ap int)
				if N >= packAMinN || ta && N >= packATransMinN {
					packA(bufs.a, a, lda, ta, ic, pc, mb, kb)
					panel = func(ir int) (*float32, int, int) { return &bufs.a[ir*kb], 1, mr }
				} else { // whole panels in place, the ragged one packed
					packA(bufs.a, a, lda, ta, ic+whole, pc, mb-whole, kb)
					panel = func(ir int) (*float32, int, int) {
						if ir == whole {
							return &bufs.a[0], 1, mr
						}
						return &a[(ic+ir)*ai+pc*ap], ai, ap
					}
				}
				store := !acc && pc == 0 // the first block of the sum overwrites c
				macroKernel(c[ic*ldc+jc:], ldc, store, panel, bufs.b, &bufs.tile, mb, nb, kb)
			}
		}
	}
}

// packA copies op(a)[i0:i0+mb, p0:p0+kb] into dst as row panels mr tall: panel ir holds, for
// each p in turn, the mr values of column p. Rows past mb are zeros.
func packA(dst []float32, a []float32, lda int, ta bool, i0, p0, mb, kb int) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : ir*kb+mr*kb]
		rows := min(mr, mb-ir)
		if ta && rows == mr { // op(a)[i, p] = a[p, i]: mr values side by side in a
			for p := range kb {
				d, x := (*[mr]float32)(panel[p*mr:]), (*[mr]float32)(a[(p0+p)*lda+i0+ir:])
				d[0], d[1], d[2], d[3], d[4], d[5] = x[0], x[1], x[2], x[3], x[4], x[5]
			}
		} else if ta {
			for p := range kb {
				copy(panel[p*mr:p*mr+rows], a[(p0+p)*lda+i0+ir:])
			}
		} else if rows == mr { // six rows read side by side
			row := func(r int) []float32 { return a[(i0+ir+r)*lda+p0:][:kb] }
			r0, r1, r2, r3, r4, r5 := row(0), row(1), row(2), row(3), row(4), row(5)
			for p := range kb {
				d := (*[mr]float32)(panel[p*mr:])
				d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
		} else {
			for r := range rows {
				for p, x := range a[(i0+ir+r)*lda+p0:][:kb] {
					panel[p*mr+r] = x
				}
			}
		}
		if rows < mr {
			for p := range kb {
				clear(panel[p*mr+rows : (p+1)*mr])
			}
		}
	}
}

// packB copies op(b)[p0:p0+kb, j0:j0+nb] into dst as column panels nr wide: panel jr holds,
// for each p in turn, the nr values of row p. Columns past nb are zeros.
func packB(dst []float32, b []float32, ldb int, tb bool, p0, j0, kb, nb int) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : jr*kb+nr*kb]
		cols := min(nr, nb-jr)
		if tb { // op(b)[p, j] = b[j, p]
			for q := range cols {
				for p, x := range b[(j0+jr+q)*ldb+p0:][:kb] {
					panel[p*nr+q] = x
				}
			}
		} else if cols == nr {
			packRows(panel, b[p0*ldb+j0+jr:], kb, ldb)
		} else {
			for p := range kb {
				copy(panel[p*nr:p*nr+cols], b[(p0+p)*ldb+j0+jr:])
			}
		}
		if cols < nr {
			for p := range kb {
				clear(panel[p*nr+cols : (p+1)*nr])
			}
		}
	}
}

// packRows copies k rows of nr values, ld apart in src, into dst one after another.
var packRows = func(dst, src []float32, k, ld int) {
	for p := range k {
		d, x := (*[nr]float32)(dst[p*nr:]), (*[nr]float32)(src[p*ld:])
		for q := range nr {
			d[q] = x[q]
		}
	}
}

// macroKernel: c (mb,nb) += op(a) block (mb,kb) · packed b (kb,nb), or = when store, where
// panel(ir) gives the a panel of rows ir…ir+mr: where it starts, its row stride and its step
// along k. Whole tiles go straight to c; the ragged edge goes through tile.
func macroKernel(c []float32, ldc int, store bool, panel func(ir int) (*float32, int, int), pb []float32, tile *[mr * nr]float32, mb, nb, kb int) {
	for jr := 0; jr < nb; jr += nr {
		bp := &pb[jr*kb]
		for ir := 0; ir < mb; ir += mr {
			ap, ai, ak := panel(ir)
			if ir+mr <= mb && jr+nr <= nb {
				kernel(kb, ap, ai, ak, bp, &c[ir*ldc+jr], ldc, store)
				continue
			}
			kernel(kb, ap, ai, ak, bp, &tile[0], nr, true)
			for r := range min(mr, mb-ir) {
				row := c[(ir+r)*ldc+jr:]
				for q := range min(nr, nb-jr) {
					if store {
						row[q] = tile[r*nr+q]
					} else {
						row[q] += tile[r*nr+q]
					}
				}
			}
		}
	}
}

// kernel is the micro-kernel in use: c (mr,nr) with row stride ldc += A (mr,k) · b (k,nr), or
// = when store, where A[i,p] is a[i*ai + p*ap] (a packed panel has ai = 1, ap = mr) and b is a
// packed panel. It is kernelGo unless the CPU has a faster one.
var kernel = kernelGo

// KernelName names the matrix multiply's micro-kernel in use: "go", or "avx2" with AVX2 and FMA.
var KernelName = "go"

// kernelGo is the micro-kernel in plain Go.
func kernelGo(k int, a *float32, ai, ap int, b, c *float32, ldc int, store bool) {
	as, bs := unsafe.Slice(a, (mr-1)*ai+(k-1)*ap+1), unsafe.Slice(b, k*nr)
	var acc [mr][nr]float32
	for p := range k {
		bv := (*[nr]float32)(bs[p*nr:])
		for i := range mr {
			ai := as[i*ai+p*ap]
			for j := range nr {
				acc[i][j] += ai * bv[j]
			}
		}
	}
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := range mr {
		row := cs[i*ldc : i*ldc+nr]
		for j := range nr {
			if store {
				row[j] = acc[i][j]
			} else {
				row[j] += acc[i][j]
			}
		}
	}
}
