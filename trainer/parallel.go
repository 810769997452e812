package trainer

import (
	"runtime"
	"sync"
)

// minParallelWork is the work (roughly, floating-point operations) below which handing a job
// to other cores costs more than it saves: waking a parked goroutine on another core takes
// several microseconds, so each share should be worth some tens of microseconds.
const minParallelWork = 1 << 17

// parallelFor calls f over [0,n) split into contiguous ranges, one per core, in goroutines;
// work is the whole job's rough cost, and a small job runs inline.
func parallelFor(n, work int, f func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n, max(1, work/minParallelWork))
	if w <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i*n/w, (i+1)*n/w)
		}()
	}
	wg.Wait()
}
