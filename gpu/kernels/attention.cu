// attention (trainer/ops.go attentionForward, attentionBackward), as cuBLAS batched products
// over the B*NH (batch, head) pairs with these kernels between them:
//
//	forward:  q, k, v = permute(qkv); pre = q·kᵀ; att = softmax(pre); vaccum = att·v;
//	          out = unpermute(vaccum)
//	backward: dvaccum = unpermute⁻¹(dout); datt = dvaccum·vᵀ; dv = attᵀ·dvaccum;
//	          dpre = softmax_backward(datt); dq = dpre·k; dk = dpreᵀ·q; dqkv = permute⁻¹(dq, dk, dv)
//
// Shapes: qkv (B,T,3C) holds q, k, v side by side, each (B,T,NH,hs); q, k, v, vaccum
// (B,NH,T,hs); pre, att, datt, dpre (B,NH,T,T); C = NH*hs. The scores pre and their gradient
// datt are fp32 (a bf16 score would be off by up to 0.4% before the exponential); the weights
// att, kept for the backward pass, and dpre are bf16, the precision the products read them in.

// attention_permute: q, k, v (B,NH,T,hs) in bf16 from qkv (B,T,3C).
extern "C" __global__ void attention_permute(bf16* q, bf16* k, bf16* v, const float* qkv, int B, int T, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * T * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % T);
    int h = (int)((i / ((i64)hs * T)) % NH);
    i64 b = i / ((i64)hs * T * NH);
    i64 src = (b * T + t) * 3 * C + h * hs + d;
    q[i] = f32_to_bf16(qkv[src]);
    k[i] = f32_to_bf16(qkv[src + C]);
    v[i] = f32_to_bf16(qkv[src + 2 * C]);
  }
}

// attention_softmax: row t of att (B*NH rows of (T,T)) = softmax(scale * row t of pre[:t+1]),
// and 0 after t (the causal mask). One warp per row.
extern "C" __global__ void attention_softmax(bf16* att, const float* pre, int BNH, int T, float scale) {
  i64 row = (i64)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= (i64)BNH * T) return;
  int t = (int)(row % T);
  const float* x = pre + row * T;
  bf16* a = att + row * T;
  float m = -3.402823466e38f;
  for (int i = lane; i <= t; i += 32) m = fmaxf(m, x[i]);
  m = warp_max(m);
  float s = 0.0f;
  for (int i = lane; i <= t; i += 32) s += expf(scale * (x[i] - m));
  float inv = 1.0f / warp_sum(s);
  for (int i = lane; i < T; i += 32) a[i] = f32_to_bf16(i <= t ? expf(scale * (x[i] - m)) * inv : 0.0f);
}

// attention_unpermute: out (B,T,C) from vaccum (B,NH,T,hs).
extern "C" __global__ void attention_unpermute(float* out, const float* vaccum, int B, int T, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * T * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % T);
    int h = (int)((i / ((i64)hs * T)) % NH);
    i64 b = i / ((i64)hs * T * NH);
    out[(b * T + t) * C + h * hs + d] = vaccum[i];
  }
}

// attention_unpermute_backward: dvaccum (B,NH,T,hs) in bf16 from dout (B,T,C).
extern "C" __global__ void attention_unpermute_backward(bf16* dvaccum, const float* dout, int B, int T, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * T * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % T);
    int h = (int)((i / ((i64)hs * T)) % NH);
    i64 b = i / ((i64)hs * T * NH);
    dvaccum[i] = f32_to_bf16(dout[(b * T + t) * C + h * hs + d]);
  }
}

// attention_softmax_backward: per row t, dpre[:t+1] = att ⊙ (datt − Σ att⊙datt) · scale, and 0
// after t; dpre in bf16. datt, att and dpre are (B*NH rows of (T,T)). One warp per row.
extern "C" __global__ void attention_softmax_backward(bf16* dpre, const float* datt, const bf16* att, int BNH, int T,
                                                      float scale) {
  i64 row = (i64)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= (i64)BNH * T) return;
  int t = (int)(row % T);
  const bf16* a = att + row * T;
  const float* d = datt + row * T;
  bf16* o = dpre + row * T;
  float dot = 0.0f;
  for (int i = lane; i <= t; i += 32) dot += bf16_to_f32(a[i]) * d[i];
  dot = warp_sum(dot);
  for (int i = lane; i < T; i += 32) o[i] = f32_to_bf16(i <= t ? bf16_to_f32(a[i]) * (d[i] - dot) * scale : 0.0f);
}

// attention_permute_backward: dqkv (B,T,3C) from dq, dk, dv (B,NH,T,hs); overwrites dqkv.
extern "C" __global__ void attention_permute_backward(float* dqkv, const float* dq, const float* dk, const float* dv, int B,
                                                      int T, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * T * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % T);
    int h = (int)((i / ((i64)hs * T)) % NH);
    i64 b = i / ((i64)hs * T * NH);
    i64 dst = (b * T + t) * 3 * C + h * hs + d;
    dqkv[dst] = dq[i];
    dqkv[dst + C] = dk[i];
    dqkv[dst + 2 * C] = dv[i];
  }
}

// attention_decode (trainer/ops.go attentionDecode): one new position t of one sequence, with
// the keys and values of positions 0…t-1 in kcache, vcache (maxT,C). One block per head: it
// stores its head's part of position t's key and value from qkv (3C), then att[h] (maxT) =
// softmax(q·kᵀ·scale) over s ≤ t, then out (C) = att·v for its head.
extern "C" __global__ void attention_decode(float* out, float* att, float* kcache, float* vcache, const float* qkv, int t,
                                            int maxT, int C, int NH, float scale) {
  int h = blockIdx.x, hs = C / NH;
  const float* q = qkv + h * hs;
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    kcache[(i64)t * C + h * hs + i] = qkv[C + h * hs + i];
    vcache[(i64)t * C + h * hs + i] = qkv[2 * C + h * hs + i];
  }
  __syncthreads();  // the block's writes to the caches are visible to it
  float* a = att + (i64)h * maxT;
  float m = -3.402823466e38f;
  for (int s = threadIdx.x; s <= t; s += blockDim.x) {
    const float* k = kcache + (i64)s * C + h * hs;
    float dot = 0.0f;
    for (int i = 0; i < hs; i++) dot += q[i] * k[i];
    a[s] = dot * scale;
    m = fmaxf(m, a[s]);
  }
  m = block_max(m);
  float sum = 0.0f;
  for (int s = threadIdx.x; s <= t; s += blockDim.x) {
    a[s] = expf(a[s] - m);
    sum += a[s];
  }
  sum = block_sum(sum);
  __syncthreads();  // every weight is written
  float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s <= t; s++) o += a[s] * vcache[(i64)s * C + h * hs + i];
    out[h * hs + i] = o * inv;
  }
}
