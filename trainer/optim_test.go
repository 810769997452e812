package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamWStep checks two AdamW steps against values worked by hand:
//
//	p = 1, g = 0.5, lr = 0.1, β = (0.9, 0.95), wd = 0.1
//	step 1: m = 0.05, v = 0.0125; m̂ = 0.5, v̂ = 0.25; p = 1 − 0.1·(0.5/0.5 + 0.1·1) = 0.89
//	step 2: m = 0.095, v = 0.024375; m̂ = 0.095/0.19 = 0.5, v̂ = 0.024375/0.0975 = 0.25;
//	        p = 0.89 − 0.1·(1 + 0.1·0.89) = 0.7811
//
// and with GradScale 0.5 (clipping) the same gradient counts as 0.25.
func TestAdamWStep(t *testing.T) {
	p, m, v, g := []float64{1}, []float64{0}, []float64{0}, []float64{0.5}
	a := AdamWStep{LR: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, GradScale: 1}
	for i, want := range []float64{0.89, 0.7811} {
		a.Step = i + 1
		adamW(allCores, p, m, v, g, a)
		if math.Abs(p[0]-want) > 1e-7 {
			t.Fatalf("step %d: p = %.9g, want %g", a.Step, p[0], want)
		}
	}
	p, m, v = []float64{1}, []float64{0}, []float64{0}
	a.GradScale, a.Step = 0.5, 1
	adamW(allCores, p, m, v, g, a)
	if math.Abs(m[0]-0.025) > 1e-7 || math.Abs(v[0]-0.003125) > 1e-7 {
		t.Errorf("scaled gradient: m = %g, v = %g", m[0], v[0])
	}
}

// TestAdamWFloat32 runs three AdamW steps in float32 over values of many sizes, vectorised and
// in Go: the two give the same bits (the vector loop keeps the scalar order of operations) and
// agree with float64.
func TestAdamWFloat32(t *testing.T) {
	const n = 8*40 + 5 // a tail past the last 8
	rng := rand.New(rand.NewPCG(6, 6))
	p0, g := make([]float64, n), make([][]float64, 3)
	for i := range p0 {
		p0[i] = rng.NormFloat64() * math.Exp(rng.NormFloat64()*3)
	}
	for s := range g {
		g[s] = make([]float64, n)
		for i := range g[s] {
			g[s][i] = rng.NormFloat64() * math.Exp(rng.NormFloat64()*4)
		}
	}
	a := AdamWStep{LR: 3e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, GradScale: 0.7}
	run := func() []float32 {
		p, m, v, g32 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range p {
			p[i] = float32(p0[i])
		}
		for s := range g {
			for i := range g32 {
				g32[i] = float32(g[s][i])
			}
			a.Step = s + 1
			adamW(allCores, p, m, v, g32, a)
		}
		return p
	}
	vec := adamWVec
	defer func() { adamWVec = vec }()
	if vec == nil {
		t.Log("no vectorised AdamW on this CPU")
	}
	pv := run()
	adamWVec = nil
	pg := run()
	p, m, v := append([]float64(nil), p0...), make([]float64, n), make([]float64, n)
	for s := range g {
		a.Step = s + 1
		adamW(allCores, p, m, v, g[s], a)
	}
	for i := range pv {
		if pv[i] != pg[i] {
			t.Fatalf("param %d: vectorised %g, Go %g", i, pv[i], pg[i])
		}
		if d := math.Abs(float64(pg[i]) - p[i]); d > 1e-6*math.Abs(p[i])+1e-9 {
			t.Fatalf("param %d: float32 %g, float64 %g", i, pg[i], p[i])
		}
	}
}

// TestUpdateDecay checks that Update decays matrices and embeddings only: with zero gradients,
// AdamW's step is zero and only the decay moves a weight, by the factor 1 − lr·wd.
func TestUpdateDecay(t *testing.T) {
	m, _ := New(tinyConfig, NewCPU())
	m.Init(1)
	before := append([]float32(nil), m.Params.All.Host...)
	m.ZeroGrad()
	opt := DefaultAdamW
	if norm := m.Update(opt, 0.5); norm != 0 {
		t.Errorf("norm of zero gradients = %g", norm)
	}
	for _, ts := range tinyConfig.Tensors() {
		factor := float32(1)
		if ts.Decay {
			factor = 1 - 0.5*opt.WeightDecay
		}
		for i := ts.Offset; i < ts.Offset+ts.Size(); i++ {
			if got, want := m.Params.All.Host[i], before[i]*factor; math.Abs(float64(got-want)) > 1e-7 {
				t.Fatalf("%s: %g, want %g", ts.Name, got, want)
			}
		}
	}
	if m.Step() != 1 {
		t.Errorf("step = %d", m.Step())
	}
}

func TestClipScale(t *testing.T) {
	for _, tc := range []struct{ norm, max, want float32 }{
		{2, 1, 1 / (2 + 1e-6)},
		{0.5, 1, 1},
		{100, 0, 1}, // no clipping
		{0, 1, 1},
	} {
		if got := ClipScale(tc.norm, tc.max); math.Abs(float64(got-tc.want)) > 1e-9 {
			t.Errorf("ClipScale(%g, %g) = %g, want %g", tc.norm, tc.max, got, tc.want)
		}
	}
}

// TestUpdateClips checks that Update returns the global norm and clips by it: a single
// nonzero gradient of 3 in one tensor and 4 in another make a norm of 5, and a first Adam step
// moves each by lr whatever the scale, so clipping shows in the moments only.
func TestUpdateClips(t *testing.T) {
	m, _ := New(tinyConfig, NewCPU())
	m.ZeroGrad()
	m.Grads.Wpe.Host[0], m.Grads.LnfB.Host[1] = 3, 4
	opt := AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, MaxGradNorm: 1}
	if norm := m.Update(opt, 0.01); math.Abs(float64(norm-5)) > 1e-6 {
		t.Fatalf("norm = %g, want 5", norm)
	}
	off := tinyConfig.Tensors()[1].Offset // wpe
	if got, want := m.mom.Host[off], float32(0.1*3/(5+1e-6)); math.Abs(float64(got-want)) > 1e-7 {
		t.Errorf("first moment of the clipped gradient = %g, want %g", got, want)
	}
	if got := m.Params.Wpe.Host[0]; math.Abs(float64(got+0.01)) > 1e-6 {
		t.Errorf("wpe[0] after one step = %g, want -0.01", got)
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{MaxLR: 1, MinLR: 0.1, Warmup: 10, Total: 110}
	for _, tc := range []struct {
		step int
		want float32
	}{
		{0, 0.1}, {4, 0.5}, {9, 1}, // warmup: (step+1)/10
		{10, 1},    // the top of the cosine
		{60, 0.55}, // halfway: min + (max−min)/2
		{85, 0.1 + 0.9*0.5*(1+float32(math.Cos(math.Pi*0.75)))},
		{110, 0.1}, {1000, 0.1},
	} {
		if got := s.LR(tc.step); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("LR(%d) = %g, want %g", tc.step, got, tc.want)
		}
	}
}

func TestAccumSteps(t *testing.T) {
	if n, err := AccumSteps(4096, 4, 256); n != 4 || err != nil {
		t.Errorf("AccumSteps(4096, 4, 256) = %d, %v", n, err)
	}
	for _, bt := range []int{1000, 0, -1024} {
		if _, err := AccumSteps(bt, 4, 256); err == nil {
			t.Errorf("AccumSteps(%d, 4, 256): no error", bt)
		}
	}
}

// TestAccumulation checks that two micro-batches of one row, each backward with scale ½, give
// the gradient of the batch of both rows.
func TestAccumulation(t *testing.T) {
	cfg := tinyConfig
	rng := rand.New(rand.NewPCG(5, 5))
	T := cfg.Context
	tokens, targets := randTokens(rng, 2*T, cfg.VocabSize), randTokens(rng, 2*T, cfg.VocabSize)
	whole, _ := New(cfg, NewCPU())
	whole.Init(2)
	whole.ZeroGrad()
	whole.Forward(tokens, targets, 2, T)
	whole.Backward(1)
	parts, _ := New(cfg, NewCPU())
	parts.Init(2)
	parts.ZeroGrad()
	for i := range 2 {
		parts.Forward(tokens[i*T:(i+1)*T], targets[i*T:(i+1)*T], 1, T)
		parts.Backward(0.5)
	}
	for i, g := range whole.Grads.All.Host {
		if d := math.Abs(float64(g - parts.Grads.All.Host[i])); d > 1e-6*max(1, math.Abs(float64(g))) {
			t.Fatalf("grad[%d]: whole batch %g, accumulated %g", i, g, parts.Grads.All.Host[i])
		}
	}
}

// TestTrainNano trains the nano model on one batch of its visualization's task, sorting three
// letters, and expects the loss to fall well below chance (ln 3 ≈ 1.1).
func TestTrainNano(t *testing.T) {
	cfg, _ := NamedConfig("nano", 0, 0)
	m, _ := New(cfg, NewCPU())
	m.Init(1)
	rng := rand.New(rand.NewPCG(6, 6))
	B, T := 16, cfg.Context
	tokens, targets := make([]int32, B*T), make([]int32, B*T)
	for b := range B { // six letters, then the same sorted: the model must learn the second half
		seq := make([]int32, 12)
		for i := range 6 {
			seq[i] = int32(rng.IntN(3))
		}
		copy(seq[6:], seq[:6])
		for i := 6; i < 12; i++ {
			for j := i + 1; j < 12; j++ {
				if seq[j] < seq[i] {
					seq[i], seq[j] = seq[j], seq[i]
				}
			}
		}
		copy(tokens[b*T:], seq[:11])
		copy(targets[b*T:], seq[1:])
	}
	opt := DefaultAdamW
	sched := Schedule{MaxLR: 1e-2, MinLR: 1e-3, Warmup: 10, Total: 150}
	var first, loss float32
	for step := range 150 {
		var err error
		if loss, err = m.Forward(tokens, targets, B, T); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = loss
		}
		m.ZeroGrad()
		m.Backward(1)
		m.Update(opt, sched.LR(step))
	}
	if first < 1 || loss > 0.5 {
		t.Errorf("loss %g at the start, %g after 150 steps", first, loss)
	}
}
