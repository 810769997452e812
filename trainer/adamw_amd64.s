//go:build amd64 && !purego

#include "textflag.h"

// func adamWAVX2(params, m, v, grads *float32, n int, k *[adamWConstN][8]float32)
//
// adamW's update over n values, n a multiple of 8, 8 at a time and in the same order of
// operations (no fused multiply-adds), so that it gives the same bits as the scalar loop:
//
//	g = grads·gs;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g·g
//	params −= lr·((m·inv1) / (√(v·inv2) + ε) + wd·params)
//
// R9 points at the constants, each broadcast to 8 lanes (32 bytes); see adamWVec in ops.go.
#define GS 0(R9)
#define B1 32(R9)
#define C1 64(R9)
#define B2 96(R9)
#define C2 128(R9)
#define INV1 160(R9)
#define INV2 192(R9)
#define EPS 224(R9)
#define WD 256(R9)
#define LR 288(R9)

TEXT ·adamWAVX2(SB), NOSPLIT, $0-48
	MOVQ params+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ grads+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), R9
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (R8), Y0
	VMULPS  GS, Y0, Y0   // g
	VMOVUPS (SI), Y1
	VMULPS  B1, Y1, Y1
	VMULPS  C1, Y0, Y2
	VADDPS  Y2, Y1, Y1   // m
	VMOVUPS Y1, (SI)
	VMOVUPS (DX), Y3
	VMULPS  B2, Y3, Y3
	VMULPS  C2, Y0, Y4
	VMULPS  Y0, Y4, Y4
	VADDPS  Y4, Y3, Y3   // v
	VMOVUPS Y3, (DX)
	VMULPS  INV1, Y1, Y1 // m̂
	VMULPS  INV2, Y3, Y3 // v̂
	VSQRTPS Y3, Y3
	VADDPS  EPS, Y3, Y3
	VDIVPS  Y3, Y1, Y1   // m̂ / (√v̂ + ε)
	VMOVUPS (DI), Y5
	VMULPS  WD, Y5, Y6
	VADDPS  Y6, Y1, Y1
	VMULPS  LR, Y1, Y1
	VSUBPS  Y1, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
