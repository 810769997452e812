// The scheduler of gpu/emu_test.go's emulated device: it runs a kernel's grid block by block,
// each block's threads as fibers on this OS thread, in thread order, and switches between them
// only where CUDA makes threads wait for each other (__syncthreads, warp shuffles). A barrier
// that some threads never reach is reported as an error, as are shuffles with a partial mask or
// from a lane that has exited; the GPU would hang or give garbage there.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cuda.h"

// Fibers switch by saving the callee-saved registers on their own stack and swapping stack
// pointers: no system call, unlike swapcontext, which also saves the signal mask. The floating
// point control registers are not switched: no kernel changes them.
#if !defined(__x86_64__)
#error "the emulated device's fibers are written for x86-64"
#endif
extern "C" void emu_switch(void** save, void* to);
asm(R"(
.text
.globl emu_switch
.type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size emu_switch, .-emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");

extern "C" {
emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
}

enum { RUN, AT_BLOCK, AT_WARP, DONE };

struct Fiber {
  void* sp;  // saved stack pointer while switched out
  int state;
};

static const size_t stackBytes = 64 << 10;
static char* stacks;  // 1024 stacks, made once
static Fiber fibers[1024];
static int nthreads, current;
static void* scheduler;  // the scheduler's saved stack pointer
// The values the lanes offer in a shuffle, in two sets used in turn: a lane that has read its
// partner's value and gone on to the next shuffle writes the other set, while the lanes not yet
// resumed still read this one; it cannot get further before they have all arrived.
static char slots[2][1024][8];
static unsigned shuffles[1024];  // how many shuffles each thread has offered a value to; the
                                 // low bit picks the set its next one uses
static char failure[512];
static int reverse;  // run each block's threads, and the grid's blocks, last first (emu_set_reverse)
static void (*entry)(void**);
static void** entryArgs;

extern "C" const char* emu_error(void) { return failure; }

// emu_fail ends the launch with an error: the fiber goes back to the scheduler for good.
extern "C" void emu_fail(const char* msg) {
  if (!failure[0])
    snprintf(failure, sizeof failure, "block (%u,%u,%u) thread (%u,%u,%u): %s", blockIdx.x, blockIdx.y, blockIdx.z,
             threadIdx.x, threadIdx.y, threadIdx.z, msg);
  fibers[current].state = DONE;
  emu_switch(&fibers[current].sp, scheduler);
}

static void wait(int state) {
  fibers[current].state = state;
  emu_switch(&fibers[current].sp, scheduler);
}

extern "C" void emu_syncthreads(void) { wait(AT_BLOCK); }

extern "C" void emu_shfl(void* v, int size, int arg, int mode, unsigned mask) {
  if (mask != 0xffffffffu) emu_fail("a shuffle with a partial mask (the emulator knows only full warps)");
  int lane = current % 32, base = current - lane;
  unsigned n = ++shuffles[current], p = n & 1;
  memcpy(slots[p][current], v, size);
  wait(AT_WARP);
  int src = lane;
  switch (mode) {
    case EMU_SHFL_XOR: src = lane ^ arg; break;
    case EMU_SHFL_DOWN: src = lane + arg < 32 ? lane + arg : lane; break;
    case EMU_SHFL_UP: src = lane - arg >= 0 ? lane - arg : lane; break;
    case EMU_SHFL_IDX: src = arg & 31; break;
  }
  if (base + src >= nthreads || shuffles[base + src] < n) {
    char msg[128];
    snprintf(msg, sizeof msg, "a shuffle reads lane %d, which exited before it or does not exist", src);
    emu_fail(msg);
  }
  memcpy(v, slots[p][base + src], size);
}

// The fragments each lane offers to a tensor-core product, in two sets like the shuffles'.
static unsigned mmaA[2][1024][4], mmaB[2][1024][2];

static float bf16lo(unsigned r) {
  unsigned u = r << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static float bf16hi(unsigned r) {
  unsigned u = r & 0xffff0000u;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// emu_mma_16816 is mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32 for the warp of the calling
// thread: every lane offers its A and B fragments, waits for the others, then computes its own
// four elements of D (the layouts are the prelude's mma_16816 comment).
extern "C" void emu_mma_16816(float* d, const unsigned* a, const unsigned* b, const float* c) {
  int lane = current % 32, base = current - lane;
  unsigned n = ++shuffles[current], p = n & 1;
  memcpy(mmaA[p][current], a, 16);
  memcpy(mmaB[p][current], b, 8);
  wait(AT_WARP);
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; l++) {
    if (base + l >= nthreads || shuffles[base + l] < n) emu_fail("an mma.sync in a warp with a lane that has exited or does not exist");
    int g = l >> 2, q = l & 3;
    const unsigned* fa = mmaA[p][base + l];
    const unsigned* fb = mmaB[p][base + l];
    A[g][2 * q] = bf16lo(fa[0]), A[g][2 * q + 1] = bf16hi(fa[0]);
    A[g + 8][2 * q] = bf16lo(fa[1]), A[g + 8][2 * q + 1] = bf16hi(fa[1]);
    A[g][2 * q + 8] = bf16lo(fa[2]), A[g][2 * q + 9] = bf16hi(fa[2]);
    A[g + 8][2 * q + 8] = bf16lo(fa[3]), A[g + 8][2 * q + 9] = bf16hi(fa[3]);
    B[2 * q][g] = bf16lo(fb[0]), B[2 * q + 1][g] = bf16hi(fb[0]);
    B[2 * q + 8][g] = bf16lo(fb[1]), B[2 * q + 9][g] = bf16hi(fb[1]);
  }
  int g = lane >> 2, q = lane & 3;
  float out[4];
  for (int e = 0; e < 4; e++) {
    int row = g + (e >= 2 ? 8 : 0), col = 2 * q + (e & 1);
    float s = c[e];
    for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
    out[e] = s;
  }
  memcpy(d, out, 16);  // d may be c
}

static void start(void) {
  entry(entryArgs);
  fibers[current].state = DONE;
  emu_switch(&fibers[current].sp, scheduler);
}

// newStack lays out a fresh fiber's stack as emu_switch leaves a switched-out one, so that
// switching to it "returns" into start with the stack aligned as after a call.
static void* newStack(int i) {
  unsigned long long* top = (unsigned long long*)(stacks + (size_t)(i + 1) * stackBytes);
  unsigned long long* sp = top - 2;  // top[-1]: start's return address (it never returns)
  top[-1] = 0;
  *sp = (unsigned long long)start;
  sp -= 6;  // rbp, rbx, r12 to r15
  for (int r = 0; r < 6; r++) sp[r] = 0;
  return sp;
}

static void setThread(int i) {
  current = i;
  threadIdx.x = i % blockDim.x;
  threadIdx.y = i / blockDim.x % blockDim.y;
  threadIdx.z = i / (blockDim.x * blockDim.y);
}

// runBlock runs every thread of the current block to its end; 0, or -1 with failure set.
static int runBlock(void) {
  for (int i = 0; i < nthreads; i++) {
    fibers[i].sp = newStack(i);
    fibers[i].state = RUN;
    shuffles[i] = 0;
  }
  for (;;) {
    for (int k = 0; k < nthreads; k++) {
      int i = reverse ? nthreads - 1 - k : k;
      if (fibers[i].state != RUN) continue;
      setThread(i);
      emu_switch(&scheduler, fibers[i].sp);
      if (failure[0]) return -1;
    }
    int live = 0, atBlock = 0;
    for (int i = 0; i < nthreads; i++) {
      live += fibers[i].state != DONE;
      atBlock += fibers[i].state == AT_BLOCK;
    }
    if (live == 0) return 0;
    bool released = false;
    if (atBlock == live) {  // threads that exited count as arrived
      for (int i = 0; i < nthreads; i++)
        if (fibers[i].state == AT_BLOCK) fibers[i].state = RUN;
      released = true;
    } else {
      for (int w = 0; w < nthreads; w += 32) {
        int end = w + 32 < nthreads ? w + 32 : nthreads, waiting = 0, alive = 0;
        for (int i = w; i < end; i++) {
          alive += fibers[i].state != DONE;
          waiting += fibers[i].state == AT_WARP;
        }
        if (alive > 0 && waiting == alive) {
          for (int i = w; i < end; i++)
            if (fibers[i].state == AT_WARP) fibers[i].state = RUN;
          released = true;
        }
      }
    }
    if (!released) {
      snprintf(failure, sizeof failure,
               "block (%u,%u,%u): %d threads wait at __syncthreads, the other %d live ones at a warp shuffle or "
               "__syncwarp that not all of their warp reach",
               blockIdx.x, blockIdx.y, blockIdx.z, atBlock, live - atBlock);
      return -1;
    }
  }
}

// emu_set_reverse sets the order of later launches: 0 runs threads and blocks first to last, as
// they are numbered, 1 last to first. Threads switch only at barriers, shuffles and products, so
// between two of those each thread runs alone: a thread that reads what another writes with no
// barrier between them sees the value written in one order and the value before it in the other.
extern "C" void emu_set_reverse(int r) { reverse = r; }

// emu_launch runs fn (a kernel's wrapper taking cuLaunchKernel's argument array) over the
// grid; 0, or -1 with emu_error() saying why.
extern "C" int emu_launch(void (*fn)(void**), void** args, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned by, unsigned bz) {
  failure[0] = 0;
  if (bx * by * bz == 0 || bx * by * bz > 1024) {
    snprintf(failure, sizeof failure, "block (%u,%u,%u): 1 to 1024 threads", bx, by, bz);
    return -1;
  }
  if (!stacks) {
    void* p = mmap(0, 1024 * stackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      snprintf(failure, sizeof failure, "mmap of the fiber stacks failed");
      return -1;
    }
    stacks = (char*)p;
  }
  entry = fn;
  entryArgs = args;
  gridDim = {gx, gy, gz};
  blockDim = {bx, by, bz};
  nthreads = (int)(bx * by * bz);
  unsigned long long blocks = (unsigned long long)gx * gy * gz;
  for (unsigned long long k = 0; k < blocks; k++) {
    unsigned long long b = reverse ? blocks - 1 - k : k;
    blockIdx = {(unsigned)(b % gx), (unsigned)(b / gx % gy), (unsigned)(b / gx / gy)};
    if (runBlock() != 0) return -1;
  }
  return 0;
}
