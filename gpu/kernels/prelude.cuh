// Prepended to every kernel file before NVRTC compiles it (the kernels use no #include).
// bf16 values travel as their 16-bit patterns: the top half of a float32.

typedef unsigned short bf16;
typedef long long i64;

__device__ __forceinline__ float bf16_to_f32(bf16 x) { return __uint_as_float(((unsigned int)x) << 16); }

// f32_to_bf16 rounds to nearest, ties to even; a NaN stays a NaN.
__device__ __forceinline__ bf16 f32_to_bf16(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0u) return (bf16)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16)(u >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// block_sum and block_max reduce over a block of at most 1024 threads (a multiple of 32);
// every thread gets the result.
__device__ float block_sum(float v) {
  __shared__ float part[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < warps ? part[lane] : 0.0f;
  return warp_sum(v);
}

__device__ float block_max(float v) {
  __shared__ float part[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < warps ? part[lane] : -3.402823466e38f;
  return warp_max(v);
}

// The grid-stride loop of the elementwise kernels: i over [0, n).
#define FOR_EACH(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// mma_16816 is one warp's tensor-core product D (16x8, fp32) = A (16x16, bf16) · B (16x8, bf16)
// + C, PTX's mma.m16n8k16.row.col (sm_80 and later), in its fragment layouts: with g = lane/4
// and q = lane%4, each 32-bit register holds two bf16 of consecutive k (the lower k in the low
// half), and
//   a[0] A[g][2q..2q+1]     a[1] A[g+8][2q..2q+1]   a[2] A[g][2q+8..]    a[3] A[g+8][2q+8..]
//   b[0] B[2q..2q+1][g]     b[1] B[2q+8..2q+9][g]
//   c[0], c[1] C[g][2q], C[g][2q+1]                 c[2], c[3] C[g+8][2q], C[g+8][2q+1]
// The emulated device (gpu/testdata/emu) computes it from the same layouts.
#ifndef PIPE_EMU
__device__ __forceinline__ void mma_16816(float* d, const unsigned* a, const unsigned* b, const float* c) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
#else
__device__ __forceinline__ void mma_16816(float* d, const unsigned* a, const unsigned* b, const float* c) {
  emu_mma_16816(d, a, b, c);
}
#endif

// u128 is 16 bytes that move in one load or store. ld128 and st128 need addresses that are
// multiples of 16, which the emulated device checks (a GPU faults).
struct alignas(16) u128 {
  unsigned x, y, z, w;
};
__device__ __forceinline__ u128 ld128(const void* p) {
#ifdef PIPE_EMU
  if ((unsigned long long)p & 15) emu_fail("a 16-byte load from an address that is not a multiple of 16");
#endif
  return *(const u128*)p;
}
__device__ __forceinline__ void st128(void* p, u128 v) {
#ifdef PIPE_EMU
  if ((unsigned long long)p & 15) emu_fail("a 16-byte store to an address that is not a multiple of 16");
#endif
  *(u128*)p = v;
}

// Two sm_80 instructions move the tiles of the tensor-core kernels through shared memory.
//
// ldsm_x4 is ldmatrix.x4: four 8x8 matrices of bf16 from shared memory into one register each,
// in the layout of an mma fragment register. Lane l gives the address of row l%8 of matrix l/8
// (8 bf16, 16 bytes, at a multiple of 16); register m of lane l is then the pair M[l/4][2(l%4)],
// M[l/4][2(l%4)+1] of matrix m, the first in the low half. ldsm_x4_t takes each matrix
// transposed: M[2(l%4)][l/4], M[2(l%4)+1][l/4].
//
// cp_async16 copies 16 bytes from global memory to shared memory without a register between
// (cp.async.cg); with in false it writes 16 zero bytes and reads nothing. A thread's copies land
// by its cp_async_wait<N>: cp_async_commit closes a group of the copies issued since the last,
// and wait<N> returns when all but the newest N groups have landed. Other threads see the bytes
// after a __syncthreads that follows the wait. The emulated device delays each copy to that
// wait, so a missing wait or barrier shows there as a stale tile.
#ifndef PIPE_EMU
__device__ __forceinline__ unsigned smem_addr(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void ldsm_x4(unsigned r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(unsigned r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool in) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(in ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
#else
__device__ __forceinline__ void ldsm_x4(unsigned r[4], const bf16* p) { emu_ldmatrix_x4(r, p, 0); }
__device__ __forceinline__ void ldsm_x4_t(unsigned r[4], const bf16* p) { emu_ldmatrix_x4(r, p, 1); }
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool in) { emu_cp_async16(dst, src, in); }
__device__ __forceinline__ void cp_async_commit() { emu_cp_commit(); }
template <int N> __device__ __forceinline__ void cp_async_wait() { emu_cp_wait(N); }
#endif

// pack_bf16 is two values as the bf16 pair of one mma register: lo in the low half.
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  return (unsigned)f32_to_bf16(lo) | ((unsigned)f32_to_bf16(hi) << 16);
}

// ld and st read and write an activation as float whether it is stored in fp32 or in bf16, so
// that one template serves both (the _h kernels are the bf16 ones).
__device__ __forceinline__ float ld(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, i64 i) { return bf16_to_f32(p[i]); }
__device__ __forceinline__ void st(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16* p, i64 i, float v) { p[i] = f32_to_bf16(v); }

// ld8 and st8 move 8 neighbouring values of an activation as float, in 16-byte accesses: one for
// bf16, two for fp32. p must be a multiple of 16 bytes (8 values of bf16, 4 of fp32).
__device__ __forceinline__ void ld8(const bf16* p, float v[8]) {
  u128 u = ld128(p);
  unsigned w[4] = {u.x, u.y, u.z, u.w};
  #pragma unroll
  for (int e = 0; e < 4; e++) {
    v[2 * e] = __uint_as_float(w[e] << 16);
    v[2 * e + 1] = __uint_as_float(w[e] & 0xffff0000u);
  }
}
__device__ __forceinline__ void ld8(const float* p, float v[8]) {
  u128 a = ld128(p), b = ld128(p + 4);
  unsigned w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
  #pragma unroll
  for (int e = 0; e < 8; e++) v[e] = __uint_as_float(w[e]);
}
__device__ __forceinline__ void st8(bf16* p, const float v[8]) {
  st128(p, u128{pack_bf16(v[0], v[1]), pack_bf16(v[2], v[3]), pack_bf16(v[4], v[5]), pack_bf16(v[6], v[7])});
}
__device__ __forceinline__ void st8(float* p, const float v[8]) {
  st128(p, u128{__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3])});
  st128(p + 4, u128{__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7])});
}
