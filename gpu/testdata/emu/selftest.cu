// Kernels for TestEmulator: one right, the others wrong in ways a GPU hangs on or answers with
// garbage, which the emulated device must report instead.

// emu_block_sum: out[blockIdx.x] = Σ of the block's slice of x, through the prelude's block_sum.
extern "C" __global__ void emu_block_sum(float* out, const float* x) {
  float s = block_sum(x[(i64)blockIdx.x * blockDim.x + threadIdx.x]);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// emu_divergent_sync: half of each warp waits at __syncthreads, the other half at a shuffle
// that the first half never reaches. (Threads that have exited do not hold up __syncthreads,
// on the GPU as here, so the halves must be live.)
extern "C" __global__ void emu_divergent_sync(float* out) {
  if (threadIdx.x % 32 < 16) {
    __syncthreads();
  } else {
    out[threadIdx.x] = warp_sum(1.0f);
  }
}

// emu_exited_lane: lane 0 returns before the warp reduces.
extern "C" __global__ void emu_exited_lane(float* out) {
  if (threadIdx.x % 32 == 0) return;
  out[threadIdx.x] = warp_sum(1.0f);
}

// emu_race: each thread reads its neighbour's slot with no barrier after the writes, so what it
// reads depends on which of the two ran first: the emulator's two orders give different answers.
extern "C" __global__ void emu_race(float* out) {
  __shared__ float s[128];
  s[threadIdx.x] = -1.0f;
  __syncthreads();
  s[threadIdx.x] = (float)threadIdx.x;
  out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}
