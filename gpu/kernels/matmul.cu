// matmul helpers (trainer/ops.go matmulForward, matmulBackward): the products themselves run in
// cuBLASLt on bf16 copies of the operands; these kernels make the copies and do the bias.

// to_bf16: out (n) = inp (n) rounded to bf16.
extern "C" __global__ void to_bf16(bf16* out, const float* inp, i64 n) {
  FOR_EACH(i, n) out[i] = f32_to_bf16(inp[i]);
}

// bias_broadcast: out (N,OC) = bias (OC) in every row, before the product adds inp · weight.
template <class T> __device__ void bias_broadcast_t(T* out, const float* bias, int N, int OC) {
  FOR_EACH(i, (i64)N * OC) st(out, i, bias[i % OC]);
}
extern "C" __global__ void bias_broadcast(float* out, const float* bias, int N, int OC) { bias_broadcast_t(out, bias, N, OC); }
extern "C" __global__ void bias_broadcast_h(bf16* out, const float* bias, int N, int OC) { bias_broadcast_t(out, bias, N, OC); }

// matmul_backward_bias: dbias (OC) += the column sums of dout (N,OC); a thread per column sums
// rowsPerBlock rows (blockIdx.y picks which) and adds atomically.
template <class T> __device__ void matmul_backward_bias_t(float* dbias, const T* dout, int N, int OC, int rowsPerBlock) {
  int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  int r0 = blockIdx.y * rowsPerBlock, r1 = min(N, r0 + rowsPerBlock);
  float s = 0.0f;
  for (int r = r0; r < r1; r++) s += ld(dout, (i64)r * OC + o);
  atomicAdd(&dbias[o], s);
}
extern "C" __global__ void matmul_backward_bias(float* dbias, const float* dout, int N, int OC, int rowsPerBlock) {
  matmul_backward_bias_t(dbias, dout, N, OC, rowsPerBlock);
}
extern "C" __global__ void matmul_backward_bias_h(float* dbias, const bf16* dout, int N, int OC, int rowsPerBlock) {
  matmul_backward_bias_t(dbias, dout, N, OC, rowsPerBlock);
}

// zero_h: x (n) = 0 in bf16.
extern "C" __global__ void zero_h(bf16* x, i64 n) {
  FOR_EACH(i, n) x[i] = 0;
}
