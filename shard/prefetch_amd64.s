//go:build amd64 && !purego

#include "textflag.h"

// func prefetchLines(p unsafe.Pointer, n int)
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), AX
	MOVQ  n+8(FP), CX
	TESTQ CX, CX
	JLE   done

loop:
	PREFETCHT1 (AX)
	ADDQ       $64, AX
	SUBQ       $64, CX
	JG         loop

done:
	RET
