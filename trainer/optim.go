package trainer

import (
	"fmt"
	"math"
)

// AdamW is the optimizer's settings. Weight decay applies to the matrices and embeddings
// only (TensorSpec.Decay), not to biases and LayerNorm, as in nanoGPT.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float32
	MaxGradNorm                    float32 // clip the global gradient norm to this; 0: no clipping
}

// DefaultAdamW is GPT-3's and nanoGPT's choice: β = (0.9, 0.95), ε = 1e-8, decay 0.1, clip 1.
var DefaultAdamW = AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, MaxGradNorm: 1}

// Update takes one AdamW step with learning rate lr on every tensor, after scaling the
// gradients down so that their global norm is at most opt.MaxGradNorm, as
// torch.nn.utils.clip_grad_norm_ does. It returns the global norm before clipping.
func (m *Model) Update(opt AdamW, lr float32) float32 {
	be := m.Backend
	if m.mom.N == 0 {
		m.mom, m.vel = be.Alloc(m.Params.All.N), be.Alloc(m.Params.All.N)
	}
	norm := float32(math.Sqrt(be.SumSquares(m.Grads.All)))
	m.step++
	a := AdamWStep{LR: lr, Beta1: opt.Beta1, Beta2: opt.Beta2, Eps: opt.Eps, GradScale: ClipScale(norm, opt.MaxGradNorm), Step: m.step}
	for _, t := range m.Config.Tensors() { // the one optimizer loop, tensor by tensor for the decay
		a.WeightDecay = 0
		if t.Decay {
			a.WeightDecay = opt.WeightDecay
		}
		off, n := t.Offset, t.Size()
		be.AdamW(m.Params.All.View(off, n), m.mom.View(off, n), m.vel.View(off, n), m.Grads.All.View(off, n), a)
	}
	return norm
}

// Step is the number of optimizer steps taken.
func (m *Model) Step() int { return m.step }

// ClipScale is the factor that brings gradients of global norm `norm` down to maxNorm:
// maxNorm/(norm+1e-6) when that is below 1, else 1 (and 1 when maxNorm is 0), as in PyTorch.
func ClipScale(norm, maxNorm float32) float32 {
	if maxNorm <= 0 {
		return 1
	}
	return min(1, maxNorm/(norm+1e-6))
}

// Schedule is the learning rate over the steps: a linear warmup from MaxLR/Warmup to MaxLR
// over the first Warmup steps, then a cosine decay to MinLR at step Total, MinLR after.
type Schedule struct {
	MaxLR, MinLR  float32
	Warmup, Total int
}

// LR is the learning rate of step (counted from 0).
func (s Schedule) LR(step int) float32 {
	switch {
	case step < s.Warmup:
		return s.MaxLR * float32(step+1) / float32(s.Warmup)
	case step >= s.Total:
		return s.MinLR
	}
	ratio := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	coeff := 0.5 * (1 + math.Cos(math.Pi*ratio)) // 1 → 0
	return s.MinLR + float32(coeff)*(s.MaxLR-s.MinLR)
}

// AccumSteps is the number of micro-batches of B×T tokens that make one optimizer step of
// batchTokens tokens: batchTokens must be a positive multiple of B*T.
func AccumSteps(batchTokens, B, T int) (int, error) {
	if batchTokens <= 0 || batchTokens%(B*T) != 0 {
		return 0, fmt.Errorf("batch tokens %d: not a positive multiple of the micro-batch %d×%d = %d", batchTokens, B, T, B*T)
	}
	return batchTokens / (B * T), nil
}
