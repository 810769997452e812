// the loss (trainer/ops.go crossEntropyForward, crossEntropyBackward), and the fused classifier.
// One block per row of V logits.

// crossentropy_forward: probs (N,V) = softmax(logits) per row; losses (N) = log Σ exp(logits) −
// logits[target], 0 where the target is negative (ignored).
extern "C" __global__ void crossentropy_forward(float* losses, float* probs, const float* logits, const int* targets, int N,
                                                int V) {
  int r = blockIdx.x;
  if (r >= N) return;
  const float* x = logits + (i64)r * V;
  float* p = probs + (i64)r * V;
  float m = -3.402823466e38f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, x[i]);
  m = block_max(m);
  float s = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float e = expf(x[i] - m);
    p[i] = e;
    s += e;
  }
  s = block_sum(s);
  float inv = 1.0f / s;
  for (int i = threadIdx.x; i < V; i += blockDim.x) p[i] *= inv;
  if (threadIdx.x == 0) {
    int t = targets[r];
    losses[r] = t < 0 ? 0.0f : logf(s) + m - x[t];
  }
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

// classifier_fused: the loss and its gradient in one pass over logits (N,V), which become
// dlogits in place: losses (N) as crossentropy_forward, dlogits = scale · (softmax − onehot),
// 0 in the rows of negative targets. The probabilities are never stored.
extern "C" __global__ void classifier_fused(float* logits, float* losses, const int* targets, float scale, int N, int V) {
  int r = blockIdx.x;
  if (r >= N) return;
  float* x = logits + (i64)r * V;
  float m = -3.402823466e38f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, x[i]);
  m = block_max(m);
  float s = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) s += expf(x[i] - m);
  s = block_sum(s);
  int t = targets[r];
  float xt = t < 0 ? 0.0f : x[t];
  __syncthreads();  // every thread has read x[t] before it is overwritten
  float inv = 1.0f / s;
  for (int i = threadIdx.x; i < V; i += blockDim.x)
    x[i] = t < 0 ? 0.0f : scale * (expf(x[i] - m) * inv - (i == t ? 1.0f : 0.0f));
  if (threadIdx.x == 0) losses[r] = t < 0 ? 0.0f : logf(s) + m - xt;
}
