package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// With some targets ignored, the loss is the mean over the others, and the gradient (checked
// against central differences in float64) is that mean's.
func TestModelGradIgnore(t *testing.T) {
	be := newCPU64()
	m, err := New(tinyConfig, be)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	params := be.s(m.Params.All)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range params {
		params[i] += rng.NormFloat64() * 0.3
	}
	B, T := 2, 4
	tokens, targets := randTokens(rng, B*T, tinyConfig.VocabSize), randTokens(rng, B*T, tinyConfig.VocabSize)
	kept := []int{1, 2, 6}
	keep := map[int]bool{}
	for _, i := range kept {
		keep[i] = true
	}
	for i := range targets {
		if !keep[i] {
			targets[i] = IgnoreTarget
		}
	}
	loss := func() float64 {
		got, err := m.Forward(tokens, targets, B, T)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, l := range be.s(m.Acts.Losses) {
			if !keep[i] && l != 0 {
				t.Fatalf("ignored target %d has loss %v", i, l)
			}
			s += l
		}
		s /= float64(len(kept))
		if math.Abs(float64(got)-s) > 1e-6 {
			t.Fatalf("Forward returned %v, the mean over the kept targets is %v", got, s)
		}
		return s
	}
	loss()
	m.ZeroGrad()
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	grads := append([]float64(nil), be.s(m.Grads.All)...)
	checkGrad(t, "model with ignored targets", params, grads, loss)

	targets[0] = -2
	if _, err := m.Forward(tokens, targets, B, T); err == nil {
		t.Error("target -2: no error")
	}
	for i := range targets {
		targets[i] = IgnoreTarget
	}
	if l, err := m.Forward(tokens, targets, B, T); err != nil || l != 0 {
		t.Errorf("all targets ignored: loss %v, %v", l, err)
	}
}

// A source that counts, for the loop's tests.
type countSource struct{ drawn uint64 }

func (c *countSource) Next(tokens, targets []int32) error {
	for i := range tokens {
		tokens[i] = int32((c.drawn + uint64(i)) % 7)
		targets[i] = int32((c.drawn + uint64(i) + 1) % 7)
	}
	c.drawn++
	return nil
}
func (c *countSource) State() SourceState          { return SourceState{Drawn: c.drawn} }
func (c *countSource) Restore(s SourceState) error { c.drawn = s.Drawn; return nil }

// Train with accumulation calls the hooks at the right steps and takes Accum micro-batches
// a step; stopping at a checkpoint and going on gives the same losses.
func TestTrain(t *testing.T) {
	cfg := LoopConfig{Batch: 2, Context: 5, Accum: 3, Steps: 8, EvalEvery: 3, CkptEvery: 4,
		Opt: DefaultAdamW, Sched: Schedule{MaxLR: 1e-2, MinLR: 1e-3, Warmup: 2, Total: 8}}
	runTo := func(m *Model, src *countSource, c LoopConfig) (losses []float32, evals, ckpts []int) {
		err := Train(m, src, LossEval{Src: &countSource{}, B: 2, T: 5, Batches: 2}, c, Hooks{
			Step: func(met Metric) error {
				losses = append(losses, met.Loss)
				if met.ValLoss != nil {
					evals = append(evals, met.Step)
				}
				return nil
			},
			Checkpoint: func(step int) error { ckpts = append(ckpts, step); return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	newModel := func() *Model {
		m, err := New(tinyConfig, NewCPU())
		if err != nil {
			t.Fatal(err)
		}
		m.Init(7)
		return m
	}
	m, src := newModel(), &countSource{}
	losses, evals, ckpts := runTo(m, src, cfg)
	if len(losses) != 8 || src.drawn != 24 || m.Step() != 8 {
		t.Fatalf("%d steps, %d micro-batches, model at step %d", len(losses), src.drawn, m.Step())
	}
	if want := []int{3, 6, 8}; !equalInts(evals, want) {
		t.Errorf("evaluations at %v, want %v", evals, want)
	}
	if want := []int{4, 8}; !equalInts(ckpts, want) {
		t.Errorf("checkpoints at %v, want %v", ckpts, want)
	}

	// stop after 4, carry the state over by hand, go on
	m2, src2 := newModel(), &countSource{}
	c := cfg
	c.StopAfter = 4
	first, _, _ := runTo(m2, src2, c)
	mom, vel := m2.Moments()
	m3 := newModel()
	m3.Backend.Upload(m3.Params.All, m2.Params.All.Host)
	if err := m3.SetMoments(mom, vel, m2.Step()); err != nil {
		t.Fatal(err)
	}
	rest, _, _ := runTo(m3, &countSource{drawn: src2.drawn}, cfg)
	if got := append(first, rest...); !equalF32(got, losses) {
		t.Errorf("stopped and resumed: %v\nthrough: %v", got, losses)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
