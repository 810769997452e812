package trainer

import "fmt"

// Buf is a run of float32 values owned by a backend: host memory for the CPU backend (Host),
// device memory for a GPU backend (Dev, an address). The model's named tensors are views of
// one Buf, made the same way on every backend.
type Buf struct {
	Host []float32 // the values, on the CPU backend; nil on a device
	Dev  uintptr   // the address of the first value, on a device; 0 on the CPU
	N    int       // the number of values
	// Half says that the backend keeps the values in bf16 (2 bytes each on a device): an
	// activation from HalfAllocator. The CPU keeps float32 whatever it says.
	Half bool
}

// HalfAllocator is a Backend that can keep activations in bf16: AllocHalf is Alloc with Half
// set (or Alloc itself, where the backend is told to keep them in fp32). The model allocates
// with it the activations that only products, GELU, LayerNorm and the loss read (not the
// residual stream, LayerNorm's statistics or the losses).
type HalfAllocator interface {
	AllocHalf(n int) Buf
}

// View is the n values from off.
func (b Buf) View(off, n int) Buf {
	if off < 0 || n < 0 || off+n > b.N {
		panic(fmt.Sprintf("trainer: view [%d:%d] of a buffer of %d", off, off+n, b.N))
	}
	v := Buf{N: n, Half: b.Half}
	if b.Host != nil {
		v.Host = b.Host[off : off+n : off+n]
	}
	if b.Dev != 0 {
		size := 4
		if b.Half {
			size = 2
		}
		v.Dev = b.Dev + uintptr(size*off)
	}
	return v
}

// Backend computes the model's layers. Each forward has its backward; arguments are ordered
// outputs, inputs, weights, sizes, as in llm.c. Gradients of parameters (dwte, dweight, dbias)
// are always added to, so that micro-batches accumulate; gradients of activations (dinp) are
// overwritten unless the method says otherwise. Token ids stay on the host: a device backend
// copies them over itself.
//
// The CPU backend (NewCPU) is the reference; a GPU backend computes the same functions.
type Backend interface {
	Name() string
	Alloc(n int) Buf                 // n zeroed values
	Upload(dst Buf, src []float32)   // host to backend
	Download(dst []float32, src Buf) // backend to host
	Zero(x Buf)

	// EncoderForward: out (B,T,C) = wte[tokens] + wpe[t]; tokens (B,T), wte (V,C), wpe (maxT,C).
	EncoderForward(out Buf, tokens []int32, wte, wpe Buf, B, T, C int)
	EncoderBackward(dwte, dwpe Buf, dout Buf, tokens []int32, B, T, C int)

	// LayerNormForward: out (N,C) = (inp - mean) * rstd * weight + bias, keeping mean, rstd (N).
	LayerNormForward(out, mean, rstd Buf, inp, weight, bias Buf, N, C int)
	// LayerNormBackward adds to dinp (N,C): it is the residual stream's gradient.
	LayerNormBackward(dinp, dweight, dbias Buf, dout, inp, weight, mean, rstd Buf, N, C int)

	// MatmulForward: out (N,OC) = inp (N,C) · weight (C,OC) + bias (OC), HF Conv1D layout.
	MatmulForward(out Buf, inp, weight, bias Buf, N, C, OC int)
	MatmulBackward(dinp, dweight, dbias Buf, dout, inp, weight Buf, N, C, OC int)

	// AttentionForward: causal multi-head attention of qkv (B,T,3C) into out (B,T,C), keeping
	// the attention weights att (B,NH,T,T) after softmax.
	AttentionForward(out, att Buf, qkv Buf, B, T, C, NH int)
	AttentionBackward(dqkv Buf, dout, qkv, att Buf, B, T, C, NH int)
	// AttentionDecode is attention for one new position t of one sequence, given the keys and
	// values of positions 0…t-1 in kcache and vcache (maxT,C): it stores position t's key and
	// value from qkv (3C) in row t of the caches, then per head out (C) = softmax(q·K[:t+1]ᵀ/√hs)
	// · V[:t+1]. att (NH,maxT) is scratch. Sampling with a KV cache runs on it.
	AttentionDecode(out, att, kcache, vcache Buf, qkv Buf, t, maxT, C, NH int)

	// GeluForward: out (N) = gelu(inp), the tanh approximation GPT-2 uses.
	GeluForward(out Buf, inp Buf, N int)
	// GeluBackward may be called with dinp and dout the same buffer.
	GeluBackward(dinp Buf, inp, dout Buf, N int)

	// ResidualForward: out (N) = a + b. Its backward is the identity, so it has none.
	ResidualForward(out Buf, a, b Buf, N int)

	// LogitsForward: logits (N,V) = inp (N,C) · wteᵀ, the output layer tied to the embedding.
	LogitsForward(logits Buf, inp, wte Buf, N, C, V int)
	LogitsBackward(dinp, dwte Buf, dlogits, inp, wte Buf, N, C, V int)

	// CrossEntropyForward: probs (N,V) = softmax(logits), losses (N) = -log probs[target];
	// a negative target (IgnoreTarget) has loss 0.
	CrossEntropyForward(losses, probs Buf, logits Buf, targets []int32, N, V int)
	// CrossEntropyBackward: dlogits (N,V) = scale * (probs - onehot(targets)), the gradient of
	// scale × the summed loss, and 0 in the rows of negative targets. dlogits may be probs itself.
	CrossEntropyBackward(dlogits Buf, probs Buf, targets []int32, scale float32, N, V int)

	// SumSquares is Σ x², for the global gradient norm.
	SumSquares(x Buf) float64
	// AdamW updates one tensor's params, with its gradients multiplied by a.GradScale first.
	AdamW(params, m, v Buf, grads Buf, a AdamWStep)
}

// AdamWStep is one AdamW update's settings for one tensor.
type AdamWStep struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	GradScale                          float32 // from clipping; 1 leaves the gradients as they are
	Step                               int     // t, from 1, for the bias corrections
}
