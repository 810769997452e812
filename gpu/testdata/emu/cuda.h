// The CUDA device-code vocabulary our kernels use, for a host C++ compiler, so that the tests
// run the kernels themselves on the CPU (gpu/emu_test.go). Every thread of a block is a fiber;
// runtime.cc schedules them, and __syncthreads and the warp shuffles are points where a fiber
// waits for the others of its block or warp. Blocks run one after another on one OS thread, so
// __shared__ arrays are static and atomics are plain read-modify-writes.
#include <math.h>
#include <string.h>

struct emu_dim3 {
  unsigned x, y, z;
};
extern "C" {
extern emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
void emu_syncthreads(void);
void emu_shfl(void* v, int size, int arg, int mode, unsigned mask);
void emu_fail(const char* msg);
void emu_mma_16816(float* d, const unsigned* a, const unsigned* b, const float* c);
void emu_ldmatrix_x4(unsigned* r, const void* p, int trans);
void emu_cp_async16(void* dst, const void* src, int in);
void emu_cp_commit(void);
void emu_cp_wait(int n);
}
#define PIPE_EMU 1  // the prelude calls emu_mma_16816, emu_ldmatrix_x4 and emu_cp_* instead of PTX
enum { EMU_SHFL_XOR, EMU_SHFL_DOWN, EMU_SHFL_UP, EMU_SHFL_IDX };

#define __global__
#define __device__ static
#define __host__
#define __forceinline__ inline
#define __noinline__
// The __shared__ variables of the kernels are the library's only zero-initialised data (.bss):
// runtime.cc keeps its own state elsewhere and fills .bss with 0xff bytes (NaN as float and as
// bf16) before each block, as a GPU leaves in shared memory whatever was there before.
#define __shared__ static
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __syncthreads() emu_syncthreads()
#define warpSize 32

static inline float __uint_as_float(unsigned u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline unsigned __float_as_uint(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
}
static inline int __float_as_int(float f) { return (int)__float_as_uint(f); }
static inline float __int_as_float(int i) { return __uint_as_float((unsigned)i); }

template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int laneMask) {
  emu_shfl(&v, sizeof v, laneMask, EMU_SHFL_XOR, mask);
  return v;
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta) {
  emu_shfl(&v, sizeof v, (int)delta, EMU_SHFL_DOWN, mask);
  return v;
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned delta) {
  emu_shfl(&v, sizeof v, (int)delta, EMU_SHFL_UP, mask);
  return v;
}
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src) {
  emu_shfl(&v, sizeof v, src, EMU_SHFL_IDX, mask);
  return v;
}
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
  int x = 0;
  emu_shfl(&x, sizeof x, 0, EMU_SHFL_IDX, mask);
}

template <class T> static inline T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <class T> static inline T atomicMax(T* p, T v) {
  T old = *p;
  if (v > old) *p = v;
  return old;
}
template <class T> static inline T atomicExch(T* p, T v) {
  T old = *p;
  *p = v;
  return old;
}

#define EMU_MINMAX(T)                                     \
  static inline T min(T a, T b) { return a < b ? a : b; } \
  static inline T max(T a, T b) { return a > b ? a : b; }
EMU_MINMAX(int)
EMU_MINMAX(unsigned)
EMU_MINMAX(long long)
EMU_MINMAX(unsigned long long)
EMU_MINMAX(float)
EMU_MINMAX(double)

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
#define __expf expf  // glibc declares its own __expf and __logf
#define __logf logf
static inline float __fdividef(float a, float b) { return a / b; }
template <class T> static inline T __ldg(const T* p) { return *p; }
