#!/usr/bin/env python3
"""OpenBLAS sgemm GFLOP/s on the shapes of BenchmarkSgemm, the peer of trainer's matrix multiply.

numpy's wheels from PyPI carry OpenBLAS; threadpoolctl pins its threads. Run it beside the Go
benchmark on the same machine:

  pip install numpy threadpoolctl
  python3 trainer/bench_sgemm.py
  go test ./trainer -run - -bench Sgemm/avx2

Prints one JSON line per shape and thread count.
"""
import json, os, time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

SHAPES = [(512, 512, 512), (1024, 1024, 1024), (4096, 384, 1536), (4096, 1536, 384)]


def gflops(M, N, K, threads, seconds=1.0):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = np.empty((M, N), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(a, b, out=c)  # warm up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            np.matmul(a, b, out=c)
            n += 1
        dt = time.perf_counter() - t0
    return 2 * M * N * K * n / dt / 1e9


def main():
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    lib = blas[0] if blas else {}
    for M, N, K in SHAPES:
        for threads in (1, os.cpu_count()):
            print(json.dumps(dict(peer="openblas", lib=lib.get("internal_api"), version=lib.get("version"),
                                  arch=lib.get("architecture"), shape=f"{M}x{N}x{K}", threads=threads,
                                  gflops=round(gflops(M, N, K, threads), 2))))


if __name__ == "__main__":
    main()
