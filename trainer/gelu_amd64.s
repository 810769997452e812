//go:build amd64 && !purego

#include "textflag.h"

// GELU, 8 values at a time, as geluForward and geluBackward compute it with tanh32:
//
//	u = clamp(x·(s + s·c·x²)),  th = u·p(u²)/q(u²),  gelu = ½x + ½x·th
//	gelu' = ½ + ½·th + ½x·(1 − th²)·(s + 3·s·c·x²)
//
// R9 points at geluConsts, each constant broadcast to 8 lanes (32 bytes); see gelu.go.
#define S 0(R9)
#define SC 32(R9)
#define CLAMP 64(R9)
#define NCLAMP 96(R9)
#define A13 128(R9)
#define A11 160(R9)
#define A9 192(R9)
#define A7 224(R9)
#define A5 256(R9)
#define A3 288(R9)
#define A1 320(R9)
#define B6 352(R9)
#define B4 384(R9)
#define B2 416(R9)
#define B0 448(R9)
#define HALF 480(R9)
#define ONE 512(R9)
#define SC3 544(R9)
#define NONE 576(R9)

// TANH: Y0 = x → Y1 = x², Y2 = u, Y3 = u², Y4 = tanh u, exactly ±1 past the clamp. Uses Y5.
#define TANH \
	VMULPS      Y0, Y0, Y1; \
	VMOVUPS     SC, Y2; \
	VFMADD213PS S, Y1, Y2; \
	VMULPS      Y2, Y0, Y2; \
	VMINPS      CLAMP, Y2, Y2; \
	VMAXPS      NCLAMP, Y2, Y2; \
	VMULPS      Y2, Y2, Y3; \
	VMOVUPS     A13, Y4; \
	VFMADD213PS A11, Y3, Y4; \
	VFMADD213PS A9, Y3, Y4; \
	VFMADD213PS A7, Y3, Y4; \
	VFMADD213PS A5, Y3, Y4; \
	VFMADD213PS A3, Y3, Y4; \
	VFMADD213PS A1, Y3, Y4; \
	VMOVUPS     B6, Y5; \
	VFMADD213PS B4, Y3, Y5; \
	VFMADD213PS B2, Y3, Y5; \
	VFMADD213PS B0, Y3, Y5; \
	VMULPS      Y4, Y2, Y4; \
	VDIVPS      Y5, Y4, Y4; \
	VCMPPS      $0x0d, CLAMP, Y2, Y5; \
	VBLENDVPS   Y5, ONE, Y4, Y4; \
	VCMPPS      $0x02, NCLAMP, Y2, Y5; \
	VBLENDVPS   Y5, NONE, Y4, Y4

// func geluAVX2(out, inp *float32, n int, k *[geluConstN][8]float32)
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ k+24(FP), R9
	SHRQ $3, CX
	JZ   fdone

floop:
	VMOVUPS     (SI), Y0
	TANH
	VMULPS      HALF, Y0, Y6 // ½x
	VFMADD213PS Y6, Y6, Y4   // ½x·th + ½x
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         floop

fdone:
	VZEROUPPER
	RET

// func geluBackwardAVX2(dinp, inp, dout *float32, n int, k *[geluConstN][8]float32)
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ dinp+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ dout+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ k+32(FP), R9
	SHRQ $3, CX
	JZ   bdone

bloop:
	VMOVUPS     (SI), Y0
	TANH
	VMOVUPS     SC3, Y7
	VFMADD213PS S, Y1, Y7    // s + 3·s·c·x²
	VMULPS      Y4, Y4, Y8   // th²
	VMOVUPS     ONE, Y9
	VSUBPS      Y8, Y9, Y9   // 1 − th²
	VMULPS      HALF, Y0, Y6 // ½x
	VMULPS      Y6, Y9, Y9
	VMULPS      Y7, Y9, Y9   // ½x·(1 − th²)·(s + 3·s·c·x²)
	VMOVUPS     HALF, Y10
	VFMADD213PS HALF, Y4, Y10 // ½·th + ½
	VADDPS      Y9, Y10, Y10
	VMULPS      (DX), Y10, Y10
	VMOVUPS     Y10, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         bloop

bdone:
	VZEROUPPER
	RET
