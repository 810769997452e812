// layernorm (trainer/ops.go layernormForward, layernormBackward); eps 1e-5. One warp per row.
// The normalised output and its gradient are activations, in fp32 or (the _h kernels) bf16; the
// input, the residual stream, is fp32.

// layernorm_row normalises row `row`, x (C), into o (C), keeping its mean and rstd: one warp's
// work, each lane taking the columns lane, lane+32, …
template <class T>
__device__ void layernorm_row(T* o, float* mean, float* rstd, const float* x, const float* weight, const float* bias, int row,
                              int C, int lane) {
  float s = 0.0f;
  for (int i = lane; i < C; i += 32) s += x[i];
  float m = warp_sum(s) / C;
  float v = 0.0f;
  for (int i = lane; i < C; i += 32) {
    float d = x[i] - m;
    v += d * d;
  }
  v = warp_sum(v) / C;
  float r = 1.0f / sqrtf(v + 1e-5f);
  for (int i = lane; i < C; i += 32) st(o, i, (x[i] - m) * r * weight[i] + bias[i]);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

// layernorm_forward: out (N,C) = (inp - mean) * rstd * weight + bias, keeping mean, rstd (N).
template <class T> __device__ void layernorm_forward_t(T* out, float* mean, float* rstd, const float* inp,
                                                       const float* weight, const float* bias, int N, int C) {
  int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;  // the whole warp
  layernorm_row(out + (i64)row * C, mean, rstd, inp + (i64)row * C, weight, bias, row, C, lane);
}
extern "C" __global__ void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                             const float* bias, int N, int C) {
  layernorm_forward_t(out, mean, rstd, inp, weight, bias, N, C);
}
extern "C" __global__ void layernorm_forward_h(bf16* out, float* mean, float* rstd, const float* inp, const float* weight,
                                               const float* bias, int N, int C) {
  layernorm_forward_t(out, mean, rstd, inp, weight, bias, N, C);
}

// layernorm_backward_row adds the gradient of one row x of inp to its row di of dinp, from its
// row d of dout, with one warp; with sdw and sdb, it also adds the row's terms of dweight and
// dbias to those (shared) sums.
template <class T>
__device__ __forceinline__ void layernorm_backward_row(float* di, const T* d, const float* x, const float* weight, float m,
                                                       float s, int C, int lane, float* sdw, float* sdb) {
  float dnormMean = 0.0f, dnormNormMean = 0.0f;
  for (int i = lane; i < C; i += 32) {
    float dnorm = weight[i] * ld(d, i);
    dnormMean += dnorm;
    dnormNormMean += dnorm * (x[i] - m) * s;
  }
  dnormMean = warp_sum(dnormMean) / C;
  dnormNormMean = warp_sum(dnormNormMean) / C;
  for (int i = lane; i < C; i += 32) {
    float norm = (x[i] - m) * s, dy = ld(d, i);
    float dnorm = weight[i] * dy;
    di[i] += (dnorm - dnormMean - norm * dnormNormMean) * s;
    if (sdw) {
      atomicAdd(&sdw[i], norm * dy);
      atomicAdd(&sdb[i], dy);
    }
  }
}

// layernorm_backward adds the gradient of inp to dinp (N,C), a warp per row.
template <class T> __device__ void layernorm_backward_t(float* dinp, const T* dout, const float* inp, const float* weight,
                                                        const float* mean, const float* rstd, int N, int C) {
  int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;
  layernorm_backward_row(dinp + (i64)row * C, dout + (i64)row * C, inp + (i64)row * C, weight, mean[row], rstd[row], C,
                         lane, (float*)0, (float*)0);
}
extern "C" __global__ void layernorm_backward(float* dinp, const float* dout, const float* inp, const float* weight,
                                              const float* mean, const float* rstd, int N, int C) {
  layernorm_backward_t(dinp, dout, inp, weight, mean, rstd, N, C);
}
extern "C" __global__ void layernorm_backward_h(float* dinp, const bf16* dout, const float* inp, const float* weight,
                                                const float* mean, const float* rstd, int N, int C) {
  layernorm_backward_t(dinp, dout, inp, weight, mean, rstd, N, C);
}

// layernorm_backward_fused is layernorm_backward and layernorm_backward_params in one pass over
// dout and inp, for C ≤ LN_MAXC: a warp per row, the grid's warps stepping over the rows; each
// block sums its rows' dweight and dbias terms in shared memory, then adds them to the global
// sums with one atomic per column.
#define LN_MAXC 2048
template <class T>
__device__ void layernorm_backward_fused_t(float* dinp, float* dweight, float* dbias, const T* dout, const float* inp,
                                           const float* weight, const float* mean, const float* rstd, int N, int C) {
  __shared__ float sdw[LN_MAXC], sdb[LN_MAXC];
  for (int i = threadIdx.x; i < C; i += blockDim.x) sdw[i] = sdb[i] = 0.0f;
  __syncthreads();
  int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int row = blockIdx.x * warps + threadIdx.x / 32; row < N; row += gridDim.x * warps)
    layernorm_backward_row(dinp + (i64)row * C, dout + (i64)row * C, inp + (i64)row * C, weight, mean[row], rstd[row], C,
                           lane, sdw, sdb);
  __syncthreads();
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    atomicAdd(&dweight[i], sdw[i]);
    atomicAdd(&dbias[i], sdb[i]);
  }
}
extern "C" __global__ void layernorm_backward_fused(float* dinp, float* dweight, float* dbias, const float* dout,
                                                    const float* inp, const float* weight, const float* mean,
                                                    const float* rstd, int N, int C) {
  layernorm_backward_fused_t(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
extern "C" __global__ void layernorm_backward_fused_h(float* dinp, float* dweight, float* dbias, const bf16* dout,
                                                      const float* inp, const float* weight, const float* mean,
                                                      const float* rstd, int N, int C) {
  layernorm_backward_fused_t(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

// layernorm_backward_params: dweight, dbias (C) += sums over the rows; a thread per column sums
// rowsPerBlock rows (blockIdx.y picks which) and adds atomically.
template <class T>
__device__ void layernorm_backward_params_t(float* dweight, float* dbias, const T* dout, const float* inp, const float* mean,
                                            const float* rstd, int N, int C, int rowsPerBlock) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  int r0 = blockIdx.y * rowsPerBlock, r1 = min(N, r0 + rowsPerBlock);
  float dw = 0.0f, db = 0.0f;
  for (int r = r0; r < r1; r++) {
    float d = ld(dout, (i64)r * C + c);
    dw += (inp[(i64)r * C + c] - mean[r]) * rstd[r] * d;
    db += d;
  }
  atomicAdd(&dweight[c], dw);
  atomicAdd(&dbias[c], db);
}
extern "C" __global__ void layernorm_backward_params(float* dweight, float* dbias, const float* dout, const float* inp,
                                                     const float* mean, const float* rstd, int N, int C, int rowsPerBlock) {
  layernorm_backward_params_t(dweight, dbias, dout, inp, mean, rstd, N, C, rowsPerBlock);
}
extern "C" __global__ void layernorm_backward_params_h(float* dweight, float* dbias, const bf16* dout, const float* inp,
                                                       const float* mean, const float* rstd, int N, int C, int rowsPerBlock) {
  layernorm_backward_params_t(dweight, dbias, dout, inp, mean, rstd, N, C, rowsPerBlock);
}

// residual_layernorm_forward: residual (N,C) = a + b, then out, mean, rstd as layernorm_forward of
// it, in one pass over the rows (each lane reads back only what it wrote). One warp per row. b
// (a layer's output) and out are activations.
template <class T>
__device__ void residual_layernorm_forward_t(float* residual, T* out, float* mean, float* rstd, const float* a, const T* b,
                                             const float* weight, const float* bias, int N, int C) {
  int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;  // the whole warp
  const float* x = a + (i64)row * C;
  const T* y = b + (i64)row * C;
  float* r = residual + (i64)row * C;
  for (int i = lane; i < C; i += 32) r[i] = x[i] + ld(y, i);
  layernorm_row(out + (i64)row * C, mean, rstd, r, weight, bias, row, C, lane);  // r from cache
}
extern "C" __global__ void residual_layernorm_forward(float* residual, float* out, float* mean, float* rstd, const float* a,
                                                      const float* b, const float* weight, const float* bias, int N, int C) {
  residual_layernorm_forward_t(residual, out, mean, rstd, a, b, weight, bias, N, C);
}
extern "C" __global__ void residual_layernorm_forward_h(float* residual, bf16* out, float* mean, float* rstd, const float* a,
                                                        const bf16* b, const float* weight, const float* bias, int N, int C) {
  residual_layernorm_forward_t(residual, out, mean, rstd, a, b, weight, bias, N, C);
}
