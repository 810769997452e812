package trainer

import (
	"runtime"
	"sync"
)

// cores is how many goroutines an operation may split its work into: allCores is one per
// core (GOMAXPROCS); oneCore keeps it on the calling goroutine, for the parts of a batch that
// Model spreads over the cores itself (see Model.parts).
type cores int

const (
	allCores cores = 0
	oneCore  cores = 1
)

// n is the number of goroutines.
func (on cores) n() int {
	if on == allCores {
		return runtime.GOMAXPROCS(0)
	}
	return int(on)
}

// minParallelWork is the work (roughly, floating-point operations) below which handing a job
// to other cores costs more than it saves: waking a parked goroutine on another core takes
// several microseconds, so each share should be worth some tens of microseconds.
var minParallelWork = 1 << 17 // a variable so that tests can split small jobs

// parallelFor calls f over [0,n) split into contiguous ranges, one per goroutine that on
// allows, the first on the calling goroutine; work is the whole job's rough cost, and a small
// job runs inline. How [0,n) is split does not depend on timing.
func parallelFor(on cores, n, work int, f func(lo, hi int)) {
	w := min(on.n(), n, max(1, work/minParallelWork))
	if w <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i*n/w, (i+1)*n/w)
		}()
	}
	f(0, n/w)
	wg.Wait()
}

// runParts calls f(i) for each of n parts at once, part 0 on the calling goroutine.
func runParts(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	f(0)
	wg.Wait()
}
