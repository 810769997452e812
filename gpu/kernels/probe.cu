// layout_probe shows the fragment layouts that the tensor-core kernels (attention.cu) rest on,
// as the device has them, so that a wrong reading of PTX's layouts is found by itself
// (TestGPULayouts) rather than as a flash kernel's wrong answer. One warp copies the 16x16 bf16
// matrices a and b (row-major) into shared memory, takes a's four 8x8 blocks (rows 0-7 and
// 8-15 of columns 0-7, then of columns 8-15: the order of an A fragment) by ldsm_x4 and by
// ldsm_x4_t, b's blocks the same way by ldsm_x4_t as the B fragments of its two 8-column
// halves, and multiplies: d (16x16) = a·b by two mma_16816. It writes
//   regs[8l + m]      register m of lane l from ldsm_x4
//   regs[8l + 4 + m]  register m of lane l from ldsm_x4_t
//   d                 the product, row-major, read from the accumulators' layout
struct alignas(16) ProbeTiles {
  bf16 a[16 * 24], b[16 * 24];  // rows of 16 padded to 24 (48 bytes), so each starts at 16 bytes
};

extern "C" __global__ void layout_probe(float* d, int* regs, const bf16* a, const bf16* b) {
  __shared__ ProbeTiles sm;
  int lane = threadIdx.x, g = lane / 4, q = lane % 4;
  for (int i = lane; i < 256; i += 32) {
    sm.a[(i / 16) * 24 + i % 16] = a[i];
    sm.b[(i / 16) * 24 + i % 16] = b[i];
  }
  __syncthreads();
  int row = lane % 8 + 8 * (lane / 8 % 2), col = 8 * (lane / 16);  // the row this lane addresses
  unsigned fa[4], ft[4], fb[4];
  ldsm_x4(fa, sm.a + row * 24 + col);
  ldsm_x4_t(ft, sm.a + row * 24 + col);
  ldsm_x4_t(fb, sm.b + row * 24 + col);
  for (int m = 0; m < 4; m++) {
    regs[8 * lane + m] = (int)fa[m];
    regs[8 * lane + 4 + m] = (int)ft[m];
  }
  float lo[4] = {0.0f, 0.0f, 0.0f, 0.0f}, hi[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_16816(lo, fa, fb, lo);      // columns 0-7
  mma_16816(hi, fa, fb + 2, hi);  // columns 8-15
  for (int e = 0; e < 4; e++) {
    int r = g + 8 * (e / 2), c = 2 * q + e % 2;
    d[r * 16 + c] = lo[e];
    d[r * 16 + 8 + c] = hi[e];
  }
}
