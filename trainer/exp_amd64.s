//go:build amd64 && !purego

#include "textflag.h"

// func expSumAVX2(dst, src *float32, n int, scale, shift float32, k *[expConstN][8]float32) float32
//
// dst[i] = e^(scale·src[i] − shift) for n values, n a multiple of 8, and returns their sum; as
// exp32: t = n·ln2 + r, e^r by its Taylor polynomial to r⁷, 2ⁿ into the exponent bits.
// dst may be src. R9 points at expConsts, each broadcast to 8 lanes (32 bytes); see fastmath.go.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y4
	VBROADCASTSS shift+28(FP), Y5
	MOVQ         k+32(FP), R9
	VXORPS       Y6, Y6, Y6
	SHRQ         $3, CX
	JZ           done

loop:
	VMOVUPS      (SI), Y0
	VMULPS       Y4, Y0, Y0
	VSUBPS       Y5, Y0, Y0       // t = scale·x − shift
	VMINPS       320(R9), Y0, Y0  // clamp to [−87.3, 88.7]
	VMAXPS       352(R9), Y0, Y0
	VMULPS       0(R9), Y0, Y1    // t·log2e
	VROUNDPS     $0, Y1, Y1       // n, to nearest
	VMOVAPS      Y0, Y2
	VFNMADD231PS 32(R9), Y1, Y2   // r = t − n·ln2hi
	VFNMADD231PS 64(R9), Y1, Y2   //     − n·ln2lo
	VMOVUPS      96(R9), Y3       // 1/5040
	VFMADD213PS  128(R9), Y2, Y3  // 1/720
	VFMADD213PS  160(R9), Y2, Y3  // 1/120
	VFMADD213PS  192(R9), Y2, Y3  // 1/24
	VFMADD213PS  224(R9), Y2, Y3  // 1/6
	VFMADD213PS  256(R9), Y2, Y3  // 1/2
	VFMADD213PS  288(R9), Y2, Y3  // 1
	VFMADD213PS  288(R9), Y2, Y3  // 1
	VCVTPS2DQ    Y1, Y7
	VPADDD       384(R9), Y7, Y7  // + 127
	VPSLLD       $23, Y7, Y7      // 2ⁿ
	VMULPS       Y7, Y3, Y3
	VMOVUPS      Y3, (DI)
	VADDPS       Y3, Y6, Y6
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          loop

done:
	VEXTRACTF128 $1, Y6, X7
	VADDPS       X7, X6, X6
	VHADDPS      X6, X6, X6
	VHADDPS      X6, X6, X6
	VZEROUPPER
	MOVSS        X6, ret+40(FP)
	RET
