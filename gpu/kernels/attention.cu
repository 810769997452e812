// attention (trainer/ops.go attentionForward, attentionBackward), as cuBLAS batched products
// over the B*NH (batch, head) pairs with these kernels between them:
//
//	forward:  q, k, v = permute(qkv); pre = q·kᵀ; att = softmax(pre); vaccum = att·v;
//	          out = unpermute(vaccum)
//	backward: dvaccum = unpermute⁻¹(dout); datt = dvaccum·vᵀ; dv = attᵀ·dvaccum;
//	          dpre = softmax_backward(datt); dq = dpre·k; dk = dpreᵀ·q; dqkv = permute⁻¹(dq, dk, dv)
//
// Shapes: qkv (B,T,3C) holds q, k, v side by side, each (B,T,NH,hs); q, k, v, vaccum
// (B,NH,T,hs); pre, att, datt, dpre (B,NH,T,T); C = NH*hs. The scores pre and their gradient
// datt are fp32 (a bf16 score would be off by up to 0.4% before the exponential); the weights
// att, kept for the backward pass, and dpre are bf16, the precision the products read them in.

// attention_permute: q, k, v (B,NH,T,hs) in bf16 from qkv (B,T,3C).
template <class T> __device__ void attention_permute_t(bf16* q, bf16* k, bf16* v, const T* qkv, int B, int Tn, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * Tn * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % Tn);
    int h = (int)((i / ((i64)hs * Tn)) % NH);
    i64 b = i / ((i64)hs * Tn * NH);
    i64 src = (b * Tn + t) * 3 * C + h * hs + d;
    q[i] = f32_to_bf16(ld(qkv, src));
    k[i] = f32_to_bf16(ld(qkv, src + C));
    v[i] = f32_to_bf16(ld(qkv, src + 2 * C));
  }
}
extern "C" __global__ void attention_permute(bf16* q, bf16* k, bf16* v, const float* qkv, int B, int T, int NH, int hs) {
  attention_permute_t(q, k, v, qkv, B, T, NH, hs);
}
extern "C" __global__ void attention_permute_h(bf16* q, bf16* k, bf16* v, const bf16* qkv, int B, int T, int NH, int hs) {
  attention_permute_t(q, k, v, qkv, B, T, NH, hs);
}

// attention_softmax: row t of att (B*NH rows of (T,T)) = softmax(scale * row t of pre[:t+1]),
// and 0 after t (the causal mask). One warp per row.
extern "C" __global__ void attention_softmax(bf16* att, const float* pre, int BNH, int T, float scale) {
  i64 row = (i64)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= (i64)BNH * T) return;
  int t = (int)(row % T);
  const float* x = pre + row * T;
  bf16* a = att + row * T;
  float m = -3.402823466e38f;
  for (int i = lane; i <= t; i += 32) m = fmaxf(m, x[i]);
  m = warp_max(m);
  float s = 0.0f;
  for (int i = lane; i <= t; i += 32) s += expf(scale * (x[i] - m));
  float inv = 1.0f / warp_sum(s);
  for (int i = lane; i < T; i += 32) a[i] = f32_to_bf16(i <= t ? expf(scale * (x[i] - m)) * inv : 0.0f);
}

// attention_unpermute: out (B,T,C) from vaccum (B,NH,T,hs).
template <class T> __device__ void attention_unpermute_t(T* out, const float* vaccum, int B, int Tn, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * Tn * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % Tn);
    int h = (int)((i / ((i64)hs * Tn)) % NH);
    i64 b = i / ((i64)hs * Tn * NH);
    st(out, (b * Tn + t) * C + h * hs + d, vaccum[i]);
  }
}
extern "C" __global__ void attention_unpermute(float* out, const float* vaccum, int B, int T, int NH, int hs) {
  attention_unpermute_t(out, vaccum, B, T, NH, hs);
}
extern "C" __global__ void attention_unpermute_h(bf16* out, const float* vaccum, int B, int T, int NH, int hs) {
  attention_unpermute_t(out, vaccum, B, T, NH, hs);
}

// attention_unpermute_backward: dvaccum (B,NH,T,hs) in bf16 from dout (B,T,C).
template <class T> __device__ void attention_unpermute_backward_t(bf16* dvaccum, const T* dout, int B, int Tn, int NH, int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * Tn * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % Tn);
    int h = (int)((i / ((i64)hs * Tn)) % NH);
    i64 b = i / ((i64)hs * Tn * NH);
    dvaccum[i] = f32_to_bf16(ld(dout, (b * Tn + t) * C + h * hs + d));
  }
}
extern "C" __global__ void attention_unpermute_backward(bf16* dvaccum, const float* dout, int B, int T, int NH, int hs) {
  attention_unpermute_backward_t(dvaccum, dout, B, T, NH, hs);
}
extern "C" __global__ void attention_unpermute_backward_h(bf16* dvaccum, const bf16* dout, int B, int T, int NH, int hs) {
  attention_unpermute_backward_t(dvaccum, dout, B, T, NH, hs);
}

// attention_softmax_backward: per row t, dpre[:t+1] = att ⊙ (datt − Σ att⊙datt) · scale, and 0
// after t; dpre in bf16. datt, att and dpre are (B*NH rows of (T,T)). One warp per row.
extern "C" __global__ void attention_softmax_backward(bf16* dpre, const float* datt, const bf16* att, int BNH, int T,
                                                      float scale) {
  i64 row = (i64)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= (i64)BNH * T) return;
  int t = (int)(row % T);
  const bf16* a = att + row * T;
  const float* d = datt + row * T;
  bf16* o = dpre + row * T;
  float dot = 0.0f;
  for (int i = lane; i <= t; i += 32) dot += bf16_to_f32(a[i]) * d[i];
  dot = warp_sum(dot);
  for (int i = lane; i < T; i += 32) o[i] = f32_to_bf16(i <= t ? bf16_to_f32(a[i]) * (d[i] - dot) * scale : 0.0f);
}

// attention_permute_backward: dqkv (B,T,3C) from dq, dk, dv (B,NH,T,hs); overwrites dqkv.
template <class T>
__device__ void attention_permute_backward_t(T* dqkv, const float* dq, const float* dk, const float* dv, int B, int Tn, int NH,
                                             int hs) {
  int C = NH * hs;
  FOR_EACH(i, (i64)B * NH * Tn * hs) {
    int d = (int)(i % hs);
    int t = (int)((i / hs) % Tn);
    int h = (int)((i / ((i64)hs * Tn)) % NH);
    i64 b = i / ((i64)hs * Tn * NH);
    i64 dst = (b * Tn + t) * 3 * C + h * hs + d;
    st(dqkv, dst, dq[i]);
    st(dqkv, dst + C, dk[i]);
    st(dqkv, dst + 2 * C, dv[i]);
  }
}
extern "C" __global__ void attention_permute_backward(float* dqkv, const float* dq, const float* dk, const float* dv, int B,
                                                      int T, int NH, int hs) {
  attention_permute_backward_t(dqkv, dq, dk, dv, B, T, NH, hs);
}
extern "C" __global__ void attention_permute_backward_h(bf16* dqkv, const float* dq, const float* dk, const float* dv, int B,
                                                        int T, int NH, int hs) {
  attention_permute_backward_t(dqkv, dq, dk, dv, B, T, NH, hs);
}

// attention_decode (trainer/ops.go attentionDecode): one new position t of one sequence, with
// the keys and values of positions 0…t-1 in kcache, vcache (maxT,C). One block per head: it
// stores its head's part of position t's key and value from qkv (3C), then att[h] (maxT) =
// softmax(q·kᵀ·scale) over s ≤ t, then out (C) = att·v for its head.
extern "C" __global__ void attention_decode(float* out, float* att, float* kcache, float* vcache, const float* qkv, int t,
                                            int maxT, int C, int NH, float scale) {
  int h = blockIdx.x, hs = C / NH;
  const float* q = qkv + h * hs;
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    kcache[(i64)t * C + h * hs + i] = qkv[C + h * hs + i];
    vcache[(i64)t * C + h * hs + i] = qkv[2 * C + h * hs + i];
  }
  __syncthreads();  // the block's writes to the caches are visible to it
  float* a = att + (i64)h * maxT;
  float m = -3.402823466e38f;
  for (int s = threadIdx.x; s <= t; s += blockDim.x) {
    const float* k = kcache + (i64)s * C + h * hs;
    float dot = 0.0f;
    for (int i = 0; i < hs; i++) dot += q[i] * k[i];
    a[s] = dot * scale;
    m = fmaxf(m, a[s]);
  }
  m = block_max(m);
  float sum = 0.0f;
  for (int s = threadIdx.x; s <= t; s += blockDim.x) {
    a[s] = expf(a[s] - m);
    sum += a[s];
  }
  sum = block_sum(sum);
  __syncthreads();  // every weight is written
  float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s <= t; s++) o += a[s] * vcache[(i64)s * C + h * hs + i];
    out[h * hs + i] = o * inv;
  }
}

#define FA_HS 64  // the head size of the flash kernels
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
#define FA_LD 72  // the row stride of their shared-memory tiles, in bf16: 64 + 8, so that the 8 rows
                  // one fragment load reads start in 8 different groups of 4 banks

// The flash kernels read a head's q, k, v and dO as T rows of 64 bf16, row t at x + t·st from
// the head's first, which is at b·sb + h·sh: in the (B,T,3C) or (B,T,C) activations themselves
// when those are bf16 (st = 3C or C, sh = 64), else in copies permuted to (B,NH,T,64).
// Their grids are (B·NH, tiles): blockIdx.x is the head bh = b·NH + h, so that a tile of every
// head is launched before the next tile of any, and the kernels can order the tiles heaviest
// first (the causal mask gives the last query tiles the most keys), which leaves the shortest
// blocks for the end of the grid. flash_head is where the block's head begins.
__device__ __forceinline__ const bf16* flash_head(const bf16* x, int NH, i64 sb, int sh) {
  return x + (i64)(blockIdx.x / NH) * sb + (i64)(blockIdx.x % NH) * sh;
}

// flash_out is the element (t, col) of a head's part of a (B,T,NH·64·parts) tensor: the
// attention's output (parts 1) or the gradient of qkv (parts 3, q's columns first).
template <class X> __device__ __forceinline__ X* flash_out(X* x, int T, int NH, int parts) {
  return x + (i64)(blockIdx.x / NH) * T * parts * NH * FA_HS + (blockIdx.x % NH) * FA_HS;
}

// st_pair stores two neighbouring values (the first at an even index): one 32-bit store in bf16.
__device__ __forceinline__ void st_pair(float* p, i64 i, float a, float b) {
  p[i] = a;
  p[i + 1] = b;
}
__device__ __forceinline__ void st_pair(bf16* p, i64 i, float a, float b) { *(unsigned*)(p + i) = pack_bf16(a, b); }

// flash_frag_rows loads 16 rows of x (row stride st) from row r (g, g+8 of the lane) as 4 A
// fragments.
__device__ __forceinline__ void flash_frag_rows(unsigned f[4][4], const bf16* x, int st, int r, int T, int tq, int g) {
  int r0 = r + g, r1 = r + g + 8;
  #pragma unroll
  for (int ks = 0; ks < 4; ks++) {
    int c = ks * 16 + tq * 2;
    f[ks][0] = r0 < T ? *(const unsigned*)(x + (i64)r0 * st + c) : 0u;
    f[ks][1] = r1 < T ? *(const unsigned*)(x + (i64)r1 * st + c) : 0u;
    f[ks][2] = r0 < T ? *(const unsigned*)(x + (i64)r0 * st + c + 8) : 0u;
    f[ks][3] = r1 < T ? *(const unsigned*)(x + (i64)r1 * st + c + 8) : 0u;
  }
}

// flash_load: the block's threads start copying the 64 rows of x (row stride st) from row j0
// into the tile s (64 x FA_LD), 16 bytes a cp.async; rows past T are zeros. The tile is whole
// after each thread's cp_async_wait and a __syncthreads.
__device__ __forceinline__ void flash_load(bf16* s, const bf16* x, int st, int j0, int T) {
  for (int i = threadIdx.x; i < 64 * 8; i += blockDim.x) {
    int r = i >> 3, c = (i & 7) * 8;
    bool in = j0 + r < T;
    cp_async16(s + r * FA_LD + c, x + (i64)(in ? j0 + r : 0) * st + c, in);
  }
}

// flash_dot: acc (16 rows x 64 cols) = a (16 x 64 dims, A fragments) · sᵀ for the tile s of 64
// rows: the scores q·kᵀ, dO·vᵀ, and transposed k·qᵀ, v·dOᵀ. B[k][n] = s[n][k], so the B
// fragments of columns nt·8.. are s's rows as they are: one ldmatrix gives those of two 16-dim
// steps (its matrices: dims 0-7, 8-15, 16-23, 24-31 of the step pair).
__device__ __forceinline__ void flash_dot(float acc[8][4], unsigned a[4][4], const bf16* s, int lane) {
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
    #pragma unroll
    for (int ks = 0; ks < 4; ks += 2) {
      unsigned b[4];
      ldsm_x4(b, s + (nt * 8 + lane % 8) * FA_LD + ks * 16 + (lane / 8) * 8);
      mma_16816(acc[nt], a[ks], b, acc[nt]);
      mma_16816(acc[nt], a[ks + 1], b + 2, acc[nt]);
    }
  }
}

// flash_times: out (16 x 64 dims) += p (16 x 64, accumulators, as A) · s, the tile of 64 rows:
// P·v, dS·k, Pᵀ·dO, dSᵀ·q. B[k][n] = s[k][n], so the fragments are s's 8x8 blocks transposed:
// one ldmatrix.trans gives those of two 8-dim column blocks (its matrices: rows 0-7 and 8-15
// of the step, for dims nt·8.. and then nt·8+8..). The accumulator layout of one product is the
// A layout of the next.
__device__ __forceinline__ void flash_times(float out[8][4], float p[8][4], const bf16* s, int lane) {
  #pragma unroll
  for (int ks = 0; ks < 4; ks++) {
    unsigned pa[4] = {pack_bf16(p[2 * ks][0], p[2 * ks][1]), pack_bf16(p[2 * ks][2], p[2 * ks][3]),
                      pack_bf16(p[2 * ks + 1][0], p[2 * ks + 1][1]), pack_bf16(p[2 * ks + 1][2], p[2 * ks + 1][3])};
    #pragma unroll
    for (int nt = 0; nt < 8; nt += 2) {
      unsigned b[4];
      ldsm_x4_t(b, s + (ks * 16 + (lane / 8 % 2) * 8 + lane % 8) * FA_LD + (nt + lane / 16) * 8);
      mma_16816(out[nt], pa, b, out[nt]);
      mma_16816(out[nt + 1], pa, b + 2, out[nt + 1]);
    }
  }
}

// The kernels' tiles come in two buffers: the block copies the next tile into one while its
// warps compute with the other. flash_next starts the copies of tile jt+1 of n (load(tile,
// buffer)) and waits for this thread's of tile jt; a __syncthreads after it makes tile jt whole.
template <class Load> __device__ __forceinline__ void flash_next(int jt, int n, Load load) {
  if (jt + 1 < n) {
    load(jt + 1, (jt + 1) & 1);
    cp_async_commit();
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
}

struct alignas(16) FlashForwardTiles {
  bf16 k[2][64 * FA_LD], v[2][64 * FA_LD];
};

// attention_flash_forward: causal attention of q, k, v (heads of 64 bf16, as flash_head reads
// them) without the (T,T) matrices (FlashAttention-2's forward pass on the tensor cores): out
// (B,T,C) and, per row, lse (B·NH, T) = log Σ exp(scores), the scores scaled, which the
// backward pass recomputes the weights from. Grid (B·NH, ⌈T/64⌉), the last query tiles first,
// 4 warps a block, each warp 16 query rows: it holds its rows of q as mma fragments, and for each 64 keys up to the
// block's last row (a k tile and a v tile in shared memory, copied by the whole block while
// the warps work on the previous 64) computes the scores S (16x64) = q·kᵀ, masks them,
// updates the running row max m and sum l, rescales its output accumulator and adds P·v, with
// P = exp(S − m) taken straight from S's fragments.
template <class X>
__device__ void attention_flash_forward_t(X* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int T, int NH,
                                          i64 sb, int sh, int st, float scale) {
  __shared__ FlashForwardTiles sm;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
  const bf16 *Q = flash_head(q, NH, sb, sh), *K = flash_head(k, NH, sb, sh), *V = flash_head(v, NH, sb, sh);
  int tile = gridDim.y - 1 - blockIdx.y;  // of 64 query rows
  int i0 = tile * 64 + warp * 16;
  bool live = i0 < T;                // a warp past the end still helps to load the tiles
  int r0 = i0 + g, r1 = i0 + g + 8;  // the two rows of this lane
  unsigned qa[4][4];                 // q (16 rows x 64 dims) as 4 A fragments of 16 dims
  if (live) flash_frag_rows(qa, Q, st, i0, T, tq, g);
  float o[8][4];  // the output (16 rows x 64 dims) as 8 accumulators of 8 dims
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;
  // the scores in base 2 (scaled by log2 e), so that each weight is one exp2f: the max m and
  // the log-sum-exp go back to base e at the end
  float scale2 = scale * LOG2E;
  float m0 = -1e30f, m1 = -1e30f, l0 = 0.0f, l1 = 0.0f;
  int n = tile + 1;  // the tiles of 64 keys that the block's rows see
  auto load = [&](int jt, int buf) {
    flash_load(sm.k[buf], K, st, jt * 64, T);
    flash_load(sm.v[buf], V, st, jt * 64, T);
  };
  load(0, 0);
  cp_async_commit();
  for (int jt = 0; jt < n; jt++) {
    int j0 = jt * 64, buf = jt & 1;
    flash_next(jt, n, load);
    __syncthreads();  // tile jt is whole
    if (live) {
      float s[8][4];  // scores (16 rows x 64 keys) as 8 accumulators of 8 keys
      flash_dot(s, qa, sm.k[buf], lane);
      float mx0 = m0, mx1 = m1;
      bool diagonal = jt == n - 1;  // the only tile with keys after some of the rows, or past T
      #pragma unroll
      for (int nt = 0; nt < 8; nt++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
          int col = j0 + nt * 8 + tq * 2 + e;
          s[nt][e] = !diagonal || (col <= r0 && col < T) ? s[nt][e] * scale2 : -1e30f;
          s[nt][2 + e] = !diagonal || (col <= r1 && col < T) ? s[nt][2 + e] * scale2 : -1e30f;
          mx0 = fmaxf(mx0, s[nt][e]);
          mx1 = fmaxf(mx1, s[nt][2 + e]);
        }
      #pragma unroll
      for (int o2 = 1; o2 < 4; o2 <<= 1) {  // the 4 lanes of a row
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o2));
      }
      float a0 = exp2f(m0 - mx0), a1 = exp2f(m1 - mx1), sum0 = 0.0f, sum1 = 0.0f;
      m0 = mx0;
      m1 = mx1;
      #pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        s[nt][0] = exp2f(s[nt][0] - m0);
        s[nt][1] = exp2f(s[nt][1] - m0);
        s[nt][2] = exp2f(s[nt][2] - m1);
        s[nt][3] = exp2f(s[nt][3] - m1);
        sum0 += s[nt][0] + s[nt][1];
        sum1 += s[nt][2] + s[nt][3];
        o[nt][0] *= a0;
        o[nt][1] *= a0;
        o[nt][2] *= a1;
        o[nt][3] *= a1;
      }
      #pragma unroll
      for (int o2 = 1; o2 < 4; o2 <<= 1) {
        sum0 += __shfl_xor_sync(0xffffffffu, sum0, o2);
        sum1 += __shfl_xor_sync(0xffffffffu, sum1, o2);
      }
      l0 = l0 * a0 + sum0;
      l1 = l1 * a1 + sum1;
      flash_times(o, s, sm.v[buf], lane);  // o += P·v
    }
    __syncthreads();  // every warp is done with buffer buf, which the next round loads
  }
  if (!live) return;
  X* O = flash_out(out, T, NH, 1);
  int C = NH * FA_HS;
  float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    int col = nt * 8 + tq * 2;
    if (r0 < T) st_pair(O, (i64)r0 * C + col, o[nt][0] * inv0, o[nt][1] * inv0);
    if (r1 < T) st_pair(O, (i64)r1 * C + col, o[nt][2] * inv1, o[nt][3] * inv1);
  }
  if (tq == 0) {
    i64 head = (i64)blockIdx.x * T;
    if (r0 < T) lse[head + r0] = (m0 + log2f(l0)) * LN2;
    if (r1 < T) lse[head + r1] = (m1 + log2f(l1)) * LN2;
  }
}
extern "C" __global__ void attention_flash_forward(float* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int T,
                                                   int NH, i64 sb, int sh, int st, float scale) {
  attention_flash_forward_t(out, lse, q, k, v, T, NH, sb, sh, st, scale);
}
extern "C" __global__ void attention_flash_forward_h(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int T,
                                                     int NH, i64 sb, int sh, int st, float scale) {
  attention_flash_forward_t(out, lse, q, k, v, T, NH, sb, sh, st, scale);
}

// attention_weights_lse: the weights of attention_flash_forward again, for the backward pass:
// att (B·NH rows of (T,T)) = exp(scale · pre − lse[row]) up to the diagonal, 0 after, in bf16,
// from the scores pre = q·kᵀ.
extern "C" __global__ void attention_weights_lse(bf16* att, const float* pre, const float* lse, int BNH, int T,
                                                 float scale) {
  FOR_EACH(i, (i64)BNH * T * T) {
    i64 row = i / T;
    int col = (int)(i % T), t = (int)(row % T);
    att[i] = f32_to_bf16(col <= t ? expf(scale * pre[i] - lse[row]) : 0.0f);
  }
}

// The backward pass of attention_flash_forward, without the (T,T) matrices either, over q, k,
// v, dO (heads of 64 bf16, as flash_head reads them; dO with strides of its own) and the
// forward's lse; with P = exp(scale·q·kᵀ − lse) causal, dP = dO·vᵀ, D = rowsum(P ∘ dP) and
// dS = P ∘ (dP − D):
//   attention_flash_backward_dsum  D = rowsum(dO ∘ O), which equals rowsum(P ∘ dP) as O = P·v
//   attention_flash_backward_dq    dq = scale · dS·k       (a warp per 16 query rows)
//   attention_flash_backward_dkdv  dv = Pᵀ·dO, dk = scale · dSᵀ·q (a warp per 16 keys)
// The last two: grid (B·NH, ⌈T/64⌉), heaviest tiles first, 4 warps a block, the tiles of the
// other side in shared memory; they write their thirds of each row of dqkv (B,T,3C), which they overwrite.

// attention_flash_backward_dsum: D (B·NH, T) from dO and the forward's output O (B,T,C),
// C = NH·64. A warp per row of a head, 2 values a lane; grid (B·NH, ⌈T/4⌉) of 4 warps.
template <class X>
__device__ void flash_dsum_t(float* dsum, const bf16* dout, i64 dsb, int dsh, int dst, const X* out, int T, int NH) {
  int t = blockIdx.y * 4 + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (t >= T) return;  // the whole warp
  const bf16* d = flash_head(dout, NH, dsb, dsh) + (i64)t * dst;
  const X* o = flash_out(out, T, NH, 1) + (i64)t * NH * FA_HS;
  float s = bf16_to_f32(d[2 * lane]) * ld(o, 2 * lane) + bf16_to_f32(d[2 * lane + 1]) * ld(o, 2 * lane + 1);
  s = warp_sum(s);
  if (lane == 0) dsum[(i64)blockIdx.x * T + t] = s;
}
extern "C" __global__ void attention_flash_backward_dsum(float* dsum, const bf16* dout, i64 dsb, int dsh, int dst,
                                                         const float* out, int T, int NH) {
  flash_dsum_t(dsum, dout, dsb, dsh, dst, out, T, NH);
}
extern "C" __global__ void attention_flash_backward_dsum_h(float* dsum, const bf16* dout, i64 dsb, int dsh, int dst,
                                                           const bf16* out, int T, int NH) {
  flash_dsum_t(dsum, dout, dsb, dsh, dst, out, T, NH);
}

struct alignas(16) FlashDqTiles {
  bf16 k[2][64 * FA_LD], v[2][64 * FA_LD];
};

template <class X>
__device__ void attention_flash_backward_dq_t(X* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb, int sh, int st,
                                              const bf16* dout, i64 dsb, int dsh, int dst, const float* lse,
                                              const float* dsum, int T, int NH, float scale) {
  __shared__ FlashDqTiles sm;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
  i64 head = (i64)blockIdx.x * T;
  const bf16 *Q = flash_head(q, NH, sb, sh), *K = flash_head(k, NH, sb, sh), *V = flash_head(v, NH, sb, sh);
  const bf16* DO = flash_head(dout, NH, dsb, dsh);
  int tile = gridDim.y - 1 - blockIdx.y;  // of 64 query rows, the last (with the most keys) first
  int i0 = tile * 64 + warp * 16;
  bool live = i0 < T;
  int r0 = i0 + g, r1 = i0 + g + 8;
  // P = exp2(scale2·S − L·log2 e), as the forward pass made it
  float scale2 = scale * LOG2E;
  float L0 = live && r0 < T ? lse[head + r0] * LOG2E : 0.0f, L1 = live && r1 < T ? lse[head + r1] * LOG2E : 0.0f;
  float D0 = live && r0 < T ? dsum[head + r0] : 0.0f, D1 = live && r1 < T ? dsum[head + r1] : 0.0f;
  unsigned qa[4][4], da[4][4];
  if (live) {
    flash_frag_rows(qa, Q, st, i0, T, tq, g);
    flash_frag_rows(da, DO, dst, i0, T, tq, g);
  }
  float acc[8][4];
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
  int n = tile + 1;  // the tiles of 64 keys that the block's rows see
  auto load = [&](int jt, int buf) {
    flash_load(sm.k[buf], K, st, jt * 64, T);
    flash_load(sm.v[buf], V, st, jt * 64, T);
  };
  load(0, 0);
  cp_async_commit();
  for (int jt = 0; jt < n; jt++) {
    int j0 = jt * 64, buf = jt & 1;
    flash_next(jt, n, load);
    __syncthreads();  // tile jt is whole
    if (live) {
      float s[8][4], dp[8][4];
      flash_dot(s, qa, sm.k[buf], lane);
      flash_dot(dp, da, sm.v[buf], lane);
      bool diagonal = jt == n - 1;
      #pragma unroll
      for (int nt = 0; nt < 8; nt++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
          int col = j0 + nt * 8 + tq * 2 + e;
          float p0 = !diagonal || (col <= r0 && col < T) ? exp2f(s[nt][e] * scale2 - L0) : 0.0f;
          float p1 = !diagonal || (col <= r1 && col < T) ? exp2f(s[nt][2 + e] * scale2 - L1) : 0.0f;
          s[nt][e] = p0 * (dp[nt][e] - D0);  // dS
          s[nt][2 + e] = p1 * (dp[nt][2 + e] - D1);
        }
      flash_times(acc, s, sm.k[buf], lane);
    }
    __syncthreads();  // every warp is done with buffer buf
  }
  if (!live) return;
  X* DQ = flash_out(dqkv, T, NH, 3);
  int C3 = 3 * NH * FA_HS;
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    int col = nt * 8 + tq * 2;
    if (r0 < T) st_pair(DQ, (i64)r0 * C3 + col, acc[nt][0] * scale, acc[nt][1] * scale);
    if (r1 < T) st_pair(DQ, (i64)r1 * C3 + col, acc[nt][2] * scale, acc[nt][3] * scale);
  }
}
extern "C" __global__ void attention_flash_backward_dq(float* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb,
                                                       int sh, int st, const bf16* dout, i64 dsb, int dsh, int dst,
                                                       const float* lse, const float* dsum, int T, int NH, float scale) {
  attention_flash_backward_dq_t(dqkv, q, k, v, sb, sh, st, dout, dsb, dsh, dst, lse, dsum, T, NH, scale);
}
extern "C" __global__ void attention_flash_backward_dq_h(bf16* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb,
                                                         int sh, int st, const bf16* dout, i64 dsb, int dsh, int dst,
                                                         const float* lse, const float* dsum, int T, int NH, float scale) {
  attention_flash_backward_dq_t(dqkv, q, k, v, sb, sh, st, dout, dsb, dsh, dst, lse, dsum, T, NH, scale);
}

struct alignas(16) FlashDkdvTiles {
  bf16 q[2][64 * FA_LD], d[2][64 * FA_LD];
  float lse[2][64], dsum[2][64];
};

template <class X>
__device__ void attention_flash_backward_dkdv_t(X* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb, int sh,
                                                int st, const bf16* dout, i64 dsb, int dsh, int dst, const float* lse,
                                                const float* dsum, int T, int NH, float scale) {
  __shared__ FlashDkdvTiles sm;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
  i64 head = (i64)blockIdx.x * T;
  const bf16 *Q = flash_head(q, NH, sb, sh), *K = flash_head(k, NH, sb, sh), *V = flash_head(v, NH, sb, sh);
  const bf16* DO = flash_head(dout, NH, dsb, dsh);
  int tile = blockIdx.y;  // of 64 keys: the first (seen by the most queries) first
  int c0 = tile * 64 + warp * 16;  // this warp's first key
  bool live = c0 < T;
  int k0 = c0 + g, k1 = c0 + g + 8;  // the two keys of this lane
  unsigned ka[4][4], va[4][4];
  if (live) {
    flash_frag_rows(ka, K, st, c0, T, tq, g);
    flash_frag_rows(va, V, st, c0, T, tq, g);
  }
  float scale2 = scale * LOG2E;
  float dkacc[8][4], dvacc[8][4];
  #pragma unroll
  for (int nt = 0; nt < 8; nt++)
    #pragma unroll
    for (int e = 0; e < 4; e++) dkacc[nt][e] = dvacc[nt][e] = 0.0f;
  // the tiles of 64 queries that see the block's keys: from the block's own to the last
  int first = tile, n = (T + 63) / 64 - first;
  auto load = [&](int it, int buf) {
    int i0 = (first + it) * 64;
    flash_load(sm.q[buf], Q, st, i0, T);
    flash_load(sm.d[buf], DO, dst, i0, T);
    if (threadIdx.x < 64) {  // plain loads: they land by the same __syncthreads
      int row = i0 + threadIdx.x;
      sm.lse[buf][threadIdx.x] = row < T ? lse[head + row] * LOG2E : 0.0f;  // in base 2
      sm.dsum[buf][threadIdx.x] = row < T ? dsum[head + row] : 0.0f;
    }
  };
  load(0, 0);
  cp_async_commit();
  for (int it = 0; it < n; it++) {
    int i0 = (first + it) * 64, buf = it & 1;
    flash_next(it, n, load);
    __syncthreads();  // tile it is whole
    if (live) {
      float s[8][4], dp[8][4];
      flash_dot(s, ka, sm.q[buf], lane);   // Sᵀ: keys x queries
      flash_dot(dp, va, sm.d[buf], lane);  // dPᵀ
      bool edge = it == 0 || it == n - 1;  // the diagonal tile, and the one with rows past T
      #pragma unroll
      for (int nt = 0; nt < 8; nt++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
          int qi = nt * 8 + tq * 2 + e, row = i0 + qi;  // the query
          float L = sm.lse[buf][qi], D = sm.dsum[buf][qi];
          float p0 = !edge || (k0 <= row && row < T) ? exp2f(s[nt][e] * scale2 - L) : 0.0f;
          float p1 = !edge || (k1 <= row && row < T) ? exp2f(s[nt][2 + e] * scale2 - L) : 0.0f;
          s[nt][e] = p0;
          s[nt][2 + e] = p1;
          dp[nt][e] = p0 * (dp[nt][e] - D);
          dp[nt][2 + e] = p1 * (dp[nt][2 + e] - D);
        }
      flash_times(dvacc, s, sm.d[buf], lane);
      flash_times(dkacc, dp, sm.q[buf], lane);
    }
    __syncthreads();  // every warp is done with buffer buf
  }
  if (!live) return;
  int C = NH * FA_HS;
  X* DK = flash_out(dqkv, T, NH, 3) + C;
  X* DV = DK + C;
  #pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    int col = nt * 8 + tq * 2;
    if (k0 < T) {
      st_pair(DK, (i64)k0 * 3 * C + col, dkacc[nt][0] * scale, dkacc[nt][1] * scale);
      st_pair(DV, (i64)k0 * 3 * C + col, dvacc[nt][0], dvacc[nt][1]);
    }
    if (k1 < T) {
      st_pair(DK, (i64)k1 * 3 * C + col, dkacc[nt][2] * scale, dkacc[nt][3] * scale);
      st_pair(DV, (i64)k1 * 3 * C + col, dvacc[nt][2], dvacc[nt][3]);
    }
  }
}
extern "C" __global__ void attention_flash_backward_dkdv(float* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb,
                                                         int sh, int st, const bf16* dout, i64 dsb, int dsh, int dst,
                                                         const float* lse, const float* dsum, int T, int NH, float scale) {
  attention_flash_backward_dkdv_t(dqkv, q, k, v, sb, sh, st, dout, dsb, dsh, dst, lse, dsum, T, NH, scale);
}
extern "C" __global__ void attention_flash_backward_dkdv_h(bf16* dqkv, const bf16* q, const bf16* k, const bf16* v, i64 sb,
                                                           int sh, int st, const bf16* dout, i64 dsb, int dsh, int dst,
                                                           const float* lse, const float* dsum, int T, int NH, float scale) {
  attention_flash_backward_dkdv_t(dqkv, q, k, v, sb, sh, st, dout, dsb, dsh, dst, lse, dsum, T, NH, scale);
}
