// the loss (trainer/ops.go crossEntropyForward, crossEntropyBackward), and the fused classifier.
// One block per row of V logits.

// crossentropy_forward: probs (N,V) = softmax(logits) per row; losses (N) = log Σ exp(logits) −
// logits[target], 0 where the target is negative (ignored).
template <class T>
__device__ void crossentropy_forward_t(float* losses, float* probs, const T* logits, const int* targets, int N, int V) {
  int r = blockIdx.x;
  if (r >= N) return;
  const T* x = logits + (i64)r * V;
  float* p = probs + (i64)r * V;
  float m = -3.402823466e38f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, ld(x, i));
  m = block_max(m);
  float s = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float e = expf(ld(x, i) - m);
    p[i] = e;
    s += e;
  }
  s = block_sum(s);
  float inv = 1.0f / s;
  for (int i = threadIdx.x; i < V; i += blockDim.x) p[i] *= inv;
  if (threadIdx.x == 0) {
    int t = targets[r];
    losses[r] = t < 0 ? 0.0f : logf(s) + m - ld(x, t);
  }
}
extern "C" __global__ void crossentropy_forward(float* losses, float* probs, const float* logits, const int* targets, int N,
                                                int V) {
  crossentropy_forward_t(losses, probs, logits, targets, N, V);
}
extern "C" __global__ void crossentropy_forward_h(float* losses, float* probs, const bf16* logits, const int* targets, int N,
                                                  int V) {
  crossentropy_forward_t(losses, probs, logits, targets, N, V);
}

// crossentropy_backward: dlogits (N,V) = scale · (probs − onehot(target)), 0 in the rows of
// negative targets; dlogits may be probs.
extern "C" __global__ void crossentropy_backward(float* dlogits, const float* probs, const int* targets, float scale, int N,
                                                 int V) {
  FOR_EACH(i, (i64)N * V) {
    int r = (int)(i / V), v = (int)(i % V);
    int t = targets[r];
    dlogits[i] = t < 0 ? 0.0f : scale * (probs[i] - (v == t ? 1.0f : 0.0f));
  }
}

// classifier_fused: the loss and its gradient in two passes over logits (N,V), which become
// dlogits in place: losses (N) as crossentropy_forward, dlogits = scale · (softmax − onehot),
// 0 in the rows of negative targets. The probabilities are never stored. When V is a multiple
// of 8 (a padded vocabulary: rows then start at 16 bytes) each thread moves 8 logits at a time
// in 16-byte accesses, which keeps more bytes in flight than one 2-byte load per thread.
template <class T> __device__ void classifier_fused_t(T* logits, float* losses, const int* targets, float scale, int N, int V) {
  int r = blockIdx.x;
  if (r >= N) return;
  T* x = logits + (i64)r * V;
  bool wide = V % 8 == 0;
  // one pass for the max and the sum of exponentials (each thread rescales its sum when its
  // max grows), then the block's: its max, and the threads' sums rescaled to it
  float m = -3.402823466e38f, s = 0.0f;
  if (wide) {
    for (int i = threadIdx.x * 8; i < V; i += blockDim.x * 8) {
      float v[8];
      ld8(x + i, v);
      float vm = v[0];
      #pragma unroll
      for (int e = 1; e < 8; e++) vm = fmaxf(vm, v[e]);
      if (vm > m) {
        s *= expf(m - vm);
        m = vm;
      }
      #pragma unroll
      for (int e = 0; e < 8; e++) s += expf(v[e] - m);
    }
  } else {
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
      float v = ld(x, i);
      if (v > m) {
        s = s * expf(m - v) + 1.0f;
        m = v;
      } else {
        s += expf(v - m);
      }
    }
  }
  float bm = block_max(m);
  s = block_sum(s * expf(m - bm));
  m = bm;
  int t = targets[r];
  float xt = t < 0 ? 0.0f : ld(x, t);
  __syncthreads();  // every thread has read x[t] before it is overwritten
  float inv = 1.0f / s;
  if (wide) {
    for (int i = threadIdx.x * 8; i < V; i += blockDim.x * 8) {
      float v[8];
      ld8(x + i, v);
      #pragma unroll
      for (int e = 0; e < 8; e++) v[e] = t < 0 ? 0.0f : scale * (expf(v[e] - m) * inv - (i + e == t ? 1.0f : 0.0f));
      st8(x + i, v);
    }
  } else {
    for (int i = threadIdx.x; i < V; i += blockDim.x)
      st(x, i, t < 0 ? 0.0f : scale * (expf(ld(x, i) - m) * inv - (i == t ? 1.0f : 0.0f)));
  }
  if (threadIdx.x == 0) losses[r] = t < 0 ? 0.0f : logf(s) + m - xt;
}
extern "C" __global__ void classifier_fused(float* logits, float* losses, const int* targets, float scale, int N, int V) {
  classifier_fused_t(logits, losses, targets, scale, N, V);
}
extern "C" __global__ void classifier_fused_h(bf16* logits, float* losses, const int* targets, float scale, int N, int V) {
  classifier_fused_t(logits, losses, targets, scale, N, V);
}
