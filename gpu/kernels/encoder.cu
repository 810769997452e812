// encoder: token plus position embedding (trainer/ops.go encoderForward, encoderBackward)

// encoder_forward: out (B,T,C) = wte[tokens[b,t]] + wpe[t]; tokens (B,T), wte (V,C), wpe (maxT,C).
extern "C" __global__ void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T, int C) {
  FOR_EACH(i, (i64)B * T * C) {
    i64 bt = i / C;
    int c = (int)(i % C), t = (int)(bt % T);
    out[i] = wte[(i64)tokens[bt] * C + c] + wpe[(i64)t * C + c];
  }
}

// encoder_backward_wte: dwte (V,C) += dout (B,T,C) gathered back by token (tokens repeat: atomics).
extern "C" __global__ void encoder_backward_wte(float* dwte, const float* dout, const int* tokens, int B, int T, int C) {
  FOR_EACH(i, (i64)B * T * C) {
    i64 bt = i / C;
    int c = (int)(i % C);
    atomicAdd(&dwte[(i64)tokens[bt] * C + c], dout[i]);
  }
}

// encoder_backward_wpe: dwpe (maxT,C) += dout (B,T,C) summed over b; one thread per (t,c).
extern "C" __global__ void encoder_backward_wpe(float* dwpe, const float* dout, int B, int T, int C) {
  FOR_EACH(i, (i64)T * C) {
    float s = 0.0f;
    for (int b = 0; b < B; b++) s += dout[(i64)b * T * C + i];
    dwpe[i] += s;
  }
}
