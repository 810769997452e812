//go:build unix

package shard

import "syscall"

// cpuSeconds is the CPU time, user and system, that the process has used:
// rates per CPU second hold on a machine that others share.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
