package trainer

import (
	"errors"
	"fmt"
	"sync"
)

// Data parallelism: n ranks, each with its own model on its own backend, train one model.
// Every rank draws its own micro-batches (shard.LoaderConfig's Rank and WorldSize split the
// windows), runs forward and backward on them with the loss scaled by 1/n, and then the ranks
// sum their gradients (AllReduce), so each holds the gradient of the mean loss over all their
// micro-batches: what one rank with n times the batch computes. Clipping and AdamW then run on
// identical gradients on every rank, which keeps the weights identical without sending them.

// GradReducer joins the ranks of a data-parallel run. gpu.Comm (over NCCL) and LocalGroup's
// ranks (goroutines in one process) implement it.
type GradReducer interface {
	Rank() int      // this rank, 0 ≤ Rank < WorldSize
	WorldSize() int // the number of ranks
	// AllReduce replaces x, on every rank, by the sum over the ranks of their x; the ranks
	// call it in the same order with buffers of the same length, and all get the same values.
	AllReduce(x Buf) error
	// Broadcast replaces x on every rank by rank 0's x.
	Broadcast(x Buf) error
}

// LocalGroup is a data-parallel group of ranks in one process, each a goroutine with its own
// model on a CPU backend, reducing through shared memory: the last rank to arrive at a
// collective adds the ranks' buffers in rank order into each of them, so every rank gets the
// same bits whatever the timing.
type LocalGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n       int
	bufs    []Buf // the buffers of the ranks that have arrived at the current collective
	arrived int
	gen     uint64 // collectives completed
	err     error  // set by Abort: every call fails from then on
	sum     []float32
}

// NewLocalGroup makes a group of n ranks.
func NewLocalGroup(n int) *LocalGroup {
	if n < 1 {
		panic(fmt.Sprintf("trainer: a group of %d ranks", n))
	}
	g := &LocalGroup{n: n, bufs: make([]Buf, n)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Rank is rank r's reducer.
func (g *LocalGroup) Rank(r int) GradReducer {
	if r < 0 || r >= g.n {
		panic(fmt.Sprintf("trainer: rank %d of a group of %d", r, g.n))
	}
	return localRank{g, r}
}

// ErrAborted is what the collectives of an aborted group return.
var ErrAborted = errors.New("data-parallel group aborted")

// Abort ends the group: the ranks waiting in a collective, and every later call, return an
// error that wraps ErrAborted and err. A rank that fails calls it so that the others do not
// wait for it forever.
func (g *LocalGroup) Abort(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = fmt.Errorf("%w: %v", ErrAborted, err)
	}
	g.cond.Broadcast()
}

type localRank struct {
	g *LocalGroup
	r int
}

var _ GradReducer = localRank{}

func (l localRank) Rank() int      { return l.r }
func (l localRank) WorldSize() int { return l.g.n }

func (l localRank) AllReduce(x Buf) error { return l.g.collective(l.r, x, reduceSum) }
func (l localRank) Broadcast(x Buf) error { return l.g.collective(l.r, x, fromRank0) }

func reduceSum(sum []float32, bufs []Buf) {
	copy(sum, bufs[0].Host)
	for _, b := range bufs[1:] {
		for i, v := range b.Host {
			sum[i] += v
		}
	}
}

func fromRank0(out []float32, bufs []Buf) { copy(out, bufs[0].Host) }

// collective waits until every rank has given its buffer, then the last to arrive computes
// op over them (in rank order) and writes the result into every buffer.
func (g *LocalGroup) collective(r int, x Buf, op func(out []float32, bufs []Buf)) error {
	if x.Host == nil && x.N > 0 {
		return fmt.Errorf("rank %d: the in-process group reduces host buffers (the CPU backend), not device memory", r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	if g.bufs[r].Host != nil {
		return fmt.Errorf("rank %d: a second collective before the first completed", r)
	}
	g.bufs[r] = x
	g.arrived++
	gen := g.gen
	if g.arrived < g.n {
		for g.gen == gen && g.err == nil {
			g.cond.Wait()
		}
		if g.gen == gen {
			return g.err
		}
		return nil
	}
	for q, b := range g.bufs {
		if b.N != x.N {
			g.err = fmt.Errorf("%w: rank %d gave %d values, rank %d %d", ErrAborted, q, b.N, r, x.N)
			g.cond.Broadcast()
			return g.err
		}
	}
	if cap(g.sum) < x.N {
		g.sum = make([]float32, x.N)
	}
	out := g.sum[:x.N]
	op(out, g.bufs)
	for q, b := range g.bufs {
		copy(b.Host, out)
		g.bufs[q] = Buf{}
	}
	g.arrived = 0
	g.gen++
	g.cond.Broadcast()
	return nil
}
