//go:build amd64 && !purego

package shard

import "unsafe"

// prefetchLines asks the CPU to bring the n bytes at p into its caches
// (PREFETCHT0 on each 64-byte line), without waiting for them. It reads
// nothing: p may be any address, mapped or not.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, n int)
