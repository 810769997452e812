//go:build amd64 && !purego

package shard

import "golang.org/x/sys/cpu"

// widenAVX2 widens n uint16 tokens (n a multiple of 32) with VPMOVZXWD, 32
// a step: about three times the Go loop's rate, which made the widening
// most of the loader's time.
//
//go:noescape
func widenAVX2(dst *uint32, src *uint16, n int)

func init() {
	if cpu.X86.HasAVX2 {
		widenBlocks = func(dst []uint32, src []uint16) int {
			n := len(src) &^ 31
			if n > 0 {
				widenAVX2(&dst[0], &src[0], n)
			}
			return n
		}
	}
}
