//go:build amd64 && !purego

#include "textflag.h"

// func kernelAVX2(k int, a *float32, ai, ap int, b, c *float32, ldc int, store bool)
//
// c (6,16), row stride ldc floats, += A (6,k) · b (k,16), or = when store, k ≥ 1, where
// A[i,p] = a[i*ai + p*ap] and b is a packed panel (16 floats a step).
// Y0..Y11 hold c: row i is Y(2i) (columns 0-7) and Y(2i+1) (columns 8-15).
// Each step loads a row of b into Y12, Y13 and broadcasts A[i,p] into Y14 or Y15, from SI
// (rows 0-2) and R10 (rows 3-5) with R11 = ai in bytes.
TEXT ·kernelAVX2(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ai+16(FP), R11
	MOVQ ap+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R11
	SHLQ $2, R12
	SHLQ $2, R8
	LEAQ (SI)(R11*2), R10
	ADDQ R11, R10         // row 3

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

loop:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R11*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R11*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (R10), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (R10)(R11*1), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS (R10)(R11*2), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R12, SI
	ADDQ         R12, R10
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop

	MOVBQZX store+56(FP), AX
	TESTQ   AX, AX
	JNZ     write

	// c += the tile, row by row
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  (DX)(R8*1), Y2, Y2
	VADDPS  32(DX)(R8*1), Y3, Y3
	VADDPS  (DX)(R8*2), Y4, Y4
	VADDPS  32(DX)(R8*2), Y5, Y5
	LEAQ    (DX)(R8*2), R9
	ADDQ    R8, R9        // row 3
	VADDPS  (R9), Y6, Y6
	VADDPS  32(R9), Y7, Y7
	VADDPS  (R9)(R8*1), Y8, Y8
	VADDPS  32(R9)(R8*1), Y9, Y9
	VADDPS  (R9)(R8*2), Y10, Y10
	VADDPS  32(R9)(R8*2), Y11, Y11

write:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R8*1)
	VMOVUPS Y3, 32(DX)(R8*1)
	VMOVUPS Y4, (DX)(R8*2)
	VMOVUPS Y5, 32(DX)(R8*2)
	LEAQ    (DX)(R8*2), R9
	ADDQ    R8, R9
	VMOVUPS Y6, (R9)
	VMOVUPS Y7, 32(R9)
	VMOVUPS Y8, (R9)(R8*1)
	VMOVUPS Y9, 32(R9)(R8*1)
	VMOVUPS Y10, (R9)(R8*2)
	VMOVUPS Y11, 32(R9)(R8*2)
	VZEROUPPER
	RET

// func packRowsAVX2(dst, src *float32, k, ld int)
//
// dst[p*16 : p*16+16] = src[p*ld : p*ld+16] for p < k: a b panel out of row-major b.
TEXT ·packRowsAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ k+16(FP), CX
	MOVQ ld+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   pdone

ploop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     ploop

pdone:
	VZEROUPPER
	RET
