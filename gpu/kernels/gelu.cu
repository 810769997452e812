// gelu and residual (trainer/ops.go geluForward, geluBackward, residualForward)

#define GELU_SCALE 0.7978845608028654f  // sqrt(2/pi)

// gelu_forward: out (n) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))).
template <class T> __device__ void gelu_forward_t(T* out, const T* inp, i64 n) {
  FOR_EACH(i, n) {
    float x = ld(inp, i);
    st(out, i, 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x))));
  }
}
extern "C" __global__ void gelu_forward(float* out, const float* inp, i64 n) { gelu_forward_t(out, inp, n); }
extern "C" __global__ void gelu_forward_h(bf16* out, const bf16* inp, i64 n) { gelu_forward_t(out, inp, n); }

// gelu_backward: dinp (n) = gelu'(inp) · dout; dinp may be dout.
template <class T> __device__ void gelu_backward_t(T* dinp, const T* inp, const T* dout, i64 n) {
  FOR_EACH(i, n) {
    float x = ld(inp, i);
    float th = tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
    float sech2 = 1.0f - th * th;
    float local = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    st(dinp, i, local * ld(dout, i));
  }
}
extern "C" __global__ void gelu_backward(float* dinp, const float* inp, const float* dout, i64 n) {
  gelu_backward_t(dinp, inp, dout, n);
}
extern "C" __global__ void gelu_backward_h(bf16* dinp, const bf16* inp, const bf16* dout, i64 n) {
  gelu_backward_t(dinp, inp, dout, n);
}

// residual_forward: out (n) = a + b.
extern "C" __global__ void residual_forward(float* out, const float* a, const float* b, i64 n) {
  FOR_EACH(i, n) out[i] = a[i] + b[i];
}
