package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/tokstream"
)

// LocalGroup's collectives: sums in rank order, rank 0's values by broadcast, the same bits on
// every rank; a mismatch or an abort ends every waiting rank with an error.
func TestLocalGroup(t *testing.T) {
	const n = 3
	g := NewLocalGroup(n)
	bufs := make([]Buf, n)
	for r := range bufs {
		bufs[r] = Buf{Host: []float32{float32(r + 1), 0.1 * float32(r), -1}, N: 3}
	}
	run := func(f func(r int) error) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for r := range n {
			wg.Go(func() { errs[r] = f(r) })
		}
		wg.Wait()
		return errs
	}
	for _, err := range run(func(r int) error { return g.Rank(r).AllReduce(bufs[r]) }) {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []float32{1 + 2 + 3, (0 + 0.1) + 0.2, -3}
	for r, b := range bufs {
		for i, v := range b.Host {
			if v != want[i] {
				t.Errorf("rank %d: all-reduce %v, want %v", r, b.Host, want)
				break
			}
		}
	}
	bufs[0].Host[1] = 42
	for _, err := range run(func(r int) error { return g.Rank(r).Broadcast(bufs[r]) }) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for r, b := range bufs {
		if b.Host[1] != 42 || b.Host[0] != 6 {
			t.Errorf("rank %d: broadcast gave %v", r, b.Host)
		}
	}
	// rank 2 gives a shorter buffer: every rank gets an error
	errs := run(func(r int) error {
		b := bufs[r]
		if r == 2 {
			b = b.View(0, 2)
		}
		return g.Rank(r).AllReduce(b)
	})
	for r, err := range errs {
		if !errors.Is(err, ErrAborted) {
			t.Errorf("rank %d: lengths differ: %v", r, err)
		}
	}
	// abort wakes a rank that waits for the others
	g2 := NewLocalGroup(2)
	done := make(chan error)
	go func() { done <- g2.Rank(1).AllReduce(Buf{Host: []float32{1}, N: 1}) }()
	g2.Abort(fmt.Errorf("rank 0 failed"))
	if err := <-done; !errors.Is(err, ErrAborted) {
		t.Errorf("after Abort: %v", err)
	}
	if err := g2.Rank(0).AllReduce(Buf{Host: []float32{1}, N: 1}); !errors.Is(err, ErrAborted) {
		t.Errorf("a call after Abort: %v", err)
	}
	if err := NewLocalGroup(1).Rank(0).AllReduce(Buf{N: 4, Dev: 256}); err == nil {
		t.Error("device buffer: no error")
	}
}

// writeWindows writes a shard directory of random documents over a vocabulary of V.
func writeWindows(t *testing.T, V int) string {
	t.Helper()
	dir := t.TempDir()
	w, err := shard.Create(dir, tokstream.Meta{TokenizerSHA256: fmt.Sprintf("%064x", 1), VocabSize: V, EOT: V - 1}, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for d := range 40 {
		toks := make([]uint32, 5+rng.IntN(30))
		for i := range toks {
			toks[i] = uint32(rng.IntN(V - 1))
		}
		if err := w.Write(fmt.Sprintf("doc-%d", d), toks); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Two ranks with micro-batches of B/2 each, their windows split by the shard loader and their
// gradients averaged by a LocalGroup, take the same steps as one rank with micro-batches of B:
// the same losses, gradient norms and weights (to float32 rounding, since the sums are taken
// in another order). Gradient norms are compared before clipping, so that a gradient scaled
// wrongly (AdamW alone is nearly blind to scale) fails too.
func TestDataParallelMatchesOneRank(t *testing.T) {
	const B, T, accum, steps = 4, 5, 2, 6
	dir := writeWindows(t, tinyConfig.VocabSize)
	ds, err := shard.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := LoopConfig{Batch: B, Context: T, Accum: accum, Steps: steps,
		Opt: AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}, Sched: Schedule{MaxLR: 1e-2, MinLR: 1e-3, Warmup: 2, Total: steps}}

	// run trains on rank r of world with micro-batches of b rows, from weights of seed.
	type result struct {
		mets   []Metric
		ckpts  []int
		params []float32
	}
	run := func(r, world, b int, red GradReducer, seed uint64) (result, error) {
		var res result
		l, err := shard.NewLoader(ds, "train", shard.LoaderConfig{Batch: b, Context: T, Seed: 3, Rank: r, WorldSize: world})
		if err != nil {
			return res, err
		}
		defer l.Close()
		m, err := New(tinyConfig, NewCPU())
		if err != nil {
			return res, err
		}
		m.Init(seed)
		c := cfg
		c.Batch, c.Reducer = b, red
		err = Train(m, &WindowSource{Loader: l, B: b, T: T}, nil, c, Hooks{
			Step:       func(met Metric) error { res.mets = append(res.mets, met); return nil },
			Checkpoint: func(step int) error { res.ckpts = append(res.ckpts, step); return nil },
		})
		res.params = m.Params.All.Host
		return res, err
	}
	one, err := run(0, 1, B, nil, 11)
	if err != nil {
		t.Fatal(err)
	}
	g := NewLocalGroup(2)
	two := make([]result, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			var err error
			// rank 1 starts from other weights: Train must give it rank 0's
			if two[r], err = run(r, 2, B/2, g.Rank(r), 11+uint64(r)); err != nil {
				g.Abort(err)
				t.Errorf("rank %d: %v", r, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(two[1].mets) != 0 || len(two[1].ckpts) != 0 {
		t.Errorf("rank 1 called the hooks: %d steps, checkpoints %v", len(two[1].mets), two[1].ckpts)
	}
	if len(two[0].mets) != steps || len(two[0].ckpts) != 1 {
		t.Fatalf("rank 0: %d steps, checkpoints %v", len(two[0].mets), two[0].ckpts)
	}
	near := func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-5*(1+math.Abs(float64(b))) }
	for i, want := range one.mets {
		got := two[0].mets[i]
		if !near(got.Loss, want.Loss) || !near(got.GradNorm, want.GradNorm) {
			t.Errorf("step %d: two ranks loss %v grad norm %v, one rank %v, %v", want.Step, got.Loss, got.GradNorm, want.Loss, want.GradNorm)
		}
	}
	for r := range 2 {
		var worst float64
		for i, want := range one.params {
			worst = max(worst, math.Abs(float64(two[r].params[i]-want)))
		}
		t.Logf("rank %d: largest weight difference from one rank %.2e", r, worst)
		if worst > 1e-5 {
			t.Errorf("rank %d: weights differ from one rank's by up to %.2e", r, worst)
		}
	}
	for i := range two[0].params {
		if two[0].params[i] != two[1].params[i] {
			t.Fatalf("the ranks' weights differ at %d: %v, %v", i, two[0].params[i], two[1].params[i])
		}
	}
}
