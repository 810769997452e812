//go:build !unix

package shard

// cpuSeconds is not measured here; the CPU-time rates come out as +Inf.
func cpuSeconds() float64 { return 0 }
