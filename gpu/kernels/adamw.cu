// the optimizer (trainer/ops.go sumSquares, adamW)

// sum_squares: partial (gridDim.x) = per block, Σ x² over a grid-stride share of x (n), in
// double; the host adds the partials. A fixed grid makes the result independent of timing.
extern "C" __global__ void sum_squares(double* partial, const float* x, i64 n) {
  __shared__ double part[32];
  double s = 0.0;
  FOR_EACH(i, n) {
    double v = x[i];
    s += v * v;
  }
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  s = warp_sum_d(s);
  if (lane == 0) part[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < warps ? part[lane] : 0.0;
    s = warp_sum_d(s);
    if (lane == 0) partial[blockIdx.x] = s;
  }
}

// adamw: one AdamW step of params (n) with grads · gradScale and the moments m, v (n), as
// torch.optim.AdamW: decoupled weight decay wd; inv1, inv2 are the bias corrections
// 1/(1−β₁ᵗ), 1/(1−β₂ᵗ).
extern "C" __global__ void adamw(float* params, float* m, float* v, const float* grads, i64 n, float lr, float beta1,
                                 float beta2, float eps, float wd, float gradScale, float inv1, float inv2) {
  FOR_EACH(i, n) {
    float g = grads[i] * gradScale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float mhat = mi * inv1, vhat = vi * inv2;
    params[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * params[i]);
  }
}
