// The scheduler of gpu/emu_test.go's emulated device: it runs a kernel's grid block by block,
// each block's threads as fibers on this OS thread, and switches between them only where CUDA
// makes threads wait for each other (__syncthreads, and the warp collectives: shuffles,
// tensor-core products, ldmatrix). Each warp in turn runs as far as it can, to a __syncthreads
// or its end, before the next starts: a warp that reads what another writes before the barrier
// between them reads it unwritten. A barrier that some threads never reach is reported as an
// error, as are shuffles with a partial mask or from a lane that has exited; the GPU would hang
// or give garbage there.
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

// The runtime's own state lies in the section emu_state, so that the library's .bss holds only
// the kernels' __shared__ variables (and a flag of the C runtime's, read at exit), which
// runBlock fills with 0xff bytes before each block: a kernel that reads shared memory its block
// has not written reads NaN.
#define EMU_STATE __attribute__((section("emu_state")))
extern "C" char __bss_start[] __attribute__((visibility("hidden"))), _end[] __attribute__((visibility("hidden")));

extern "C" {
EMU_STATE emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
}

enum { RUN, AT_BLOCK, AT_WARP, DONE };

struct Fiber {
  void* sp;  // saved stack pointer while switched out
  int state;
};

static const size_t stackBytes = 64 << 10;
static EMU_STATE char* stacks;  // 1024 stacks, made once
static EMU_STATE Fiber fibers[1024];
static EMU_STATE int nthreads, current;
static EMU_STATE void* scheduler;  // the scheduler's saved stack pointer
// The values the lanes offer in a shuffle, in two sets used in turn: a lane that has read its
// partner's value and gone on to the next shuffle writes the other set, while the lanes not yet
// resumed still read this one; it cannot get further before they have all arrived.
static EMU_STATE char slots[2][1024][8];
// How many warp collectives (shuffles, products, ldmatrix) each thread has offered a value to;
// the low bit picks the set its next one uses.
static EMU_STATE unsigned shuffles[1024];
static EMU_STATE char failure[512];
static EMU_STATE int reverse;  // warps, threads and blocks last first, cp.async at issue (emu_set_reverse)
static EMU_STATE void (*entry)(void**);
static EMU_STATE void** entryArgs;

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
static EMU_STATE unsigned mmaA[2][1024][4], mmaB[2][1024][2];

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

// The row addresses each lane offers to an ldmatrix, in two sets like the shuffles'.
static EMU_STATE const void* ldsmRows[2][1024];

// emu_ldmatrix_x4 is ldmatrix.sync.m8n8.x4(.trans).b16 for the warp of the calling thread:
// every lane offers one row address, waits for the others, then reads its four registers from
// the rows of the lanes that address them (the layouts are the prelude's ldsm_x4 comment).
extern "C" void emu_ldmatrix_x4(unsigned* r, const void* p, int trans) {
  if ((unsigned long long)p & 15) emu_fail("an ldmatrix row address that is not a multiple of 16");
  int lane = current % 32, base = current - lane;
  unsigned n = ++shuffles[current], ph = n & 1;
  ldsmRows[ph][current] = p;
  wait(AT_WARP);
  for (int l = 0; l < 32; l++)
    if (base + l >= nthreads || shuffles[base + l] < n) emu_fail("an ldmatrix in a warp with a lane that has exited or does not exist");
  int g = lane >> 2, q = lane & 3;
  for (int m = 0; m < 4; m++) {
    unsigned short lo, hi;
    if (!trans) {  // row g, columns 2q and 2q+1
      const unsigned short* row = (const unsigned short*)ldsmRows[ph][base + 8 * m + g];
      lo = row[2 * q], hi = row[2 * q + 1];
    } else {  // column g of rows 2q and 2q+1
      lo = ((const unsigned short*)ldsmRows[ph][base + 8 * m + 2 * q])[g];
      hi = ((const unsigned short*)ldsmRows[ph][base + 8 * m + 2 * q + 1])[g];
    }
    r[m] = (unsigned)lo | ((unsigned)hi << 16);
  }
}

// cp.async: a GPU may land a copy any time from its issue to the wait_group that waits for it.
// The emulator takes the two ends: in the usual order each thread's copies wait in its queue,
// with the bytes read when it issued them, until its wait lets their group land, so that a tile
// read before the wait and the barrier that make it whole is a stale one; in reversed order
// (emu_set_reverse) they land as they are issued, so that a copy into a buffer that another
// warp has not finished reading overwrites it.
struct Copy {
  void* dst;
  unsigned char bytes[16];
  unsigned group;  // the number of groups the thread had committed when it issued the copy
};
enum { maxCopies = 64 };
static EMU_STATE Copy copies[1024][maxCopies];
static EMU_STATE int ncopies[1024];
static EMU_STATE unsigned committed[1024];

extern "C" void emu_cp_async16(void* dst, const void* src, int in) {
  if ((unsigned long long)dst & 15) emu_fail("a cp.async to a shared address that is not a multiple of 16");
  if (in && ((unsigned long long)src & 15)) emu_fail("a cp.async from a global address that is not a multiple of 16");
  if (reverse) {
    if (in)
      memcpy(dst, src, 16);
    else
      memset(dst, 0, 16);
    return;
  }
  if (ncopies[current] == maxCopies) emu_fail("more than 64 cp.async copies waiting in one thread");
  Copy* c = &copies[current][ncopies[current]++];
  c->dst = dst;
  c->group = committed[current];
  if (in)
    memcpy(c->bytes, src, 16);
  else
    memset(c->bytes, 0, 16);
}

extern "C" void emu_cp_commit(void) { committed[current]++; }

// emu_cp_wait lands the copies of every committed group but the newest n, in issue order.
extern "C" void emu_cp_wait(int n) {
  int kept = 0;
  for (int i = 0; i < ncopies[current]; i++) {
    Copy* c = &copies[current][i];
    if (c->group + n < committed[current])
      memcpy(c->dst, c->bytes, 16);
    else
      copies[current][kept++] = *c;
  }
  ncopies[current] = kept;
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

// runWarp runs the live threads of the warp from thread lo (to hi) until each has ended or waits
// at __syncthreads, releasing them each time all wait at a warp collective.
static int runWarp(int lo, int hi) {
  for (;;) {
    for (int k = lo; k < hi; k++) {
      int i = reverse ? hi - 1 - (k - lo) : k;
      if (fibers[i].state != RUN) continue;
      setThread(i);
      emu_switch(&scheduler, fibers[i].sp);
      if (failure[0]) return -1;
    }
    int alive = 0, waiting = 0;
    for (int i = lo; i < hi; i++) {
      alive += fibers[i].state != DONE;
      waiting += fibers[i].state == AT_WARP;
    }
    if (alive == 0 || waiting != alive) return 0;  // lanes that exited are caught by the collective
    for (int i = lo; i < hi; i++)
      if (fibers[i].state == AT_WARP) fibers[i].state = RUN;
  }
}

// runBlock runs every thread of the current block to its end; 0, or -1 with failure set.
static int runBlock(void) {
  memset(__bss_start, 0xff, _end - __bss_start);
  for (int i = 0; i < nthreads; i++) {
    fibers[i].sp = newStack(i);
    fibers[i].state = RUN;
    shuffles[i] = 0;
    ncopies[i] = 0;
    committed[i] = 0;
  }
  int warps = (nthreads + 31) / 32;
  for (;;) {
    for (int k = 0; k < warps; k++) {
      int w = reverse ? warps - 1 - k : k;
      if (runWarp(w * 32, w * 32 + 32 < nthreads ? w * 32 + 32 : nthreads) != 0) return -1;
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
// Reversed, cp.async copies also land at once instead of at their wait.
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
