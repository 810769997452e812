#!/usr/bin/env python3
"""Training speed of pipe's CPU trainer against PyTorch on the CPU, shape by shape, in one run.

For each shape of trainer's BenchmarkTrainStep (nano, micro, mini) it times the Go benchmark and
the PyTorch peer (shared/bench/torch/gpt2_train_bench.py, unchanged) one after the other, and
prints one JSON line per shape with both tokens/s and their ratio. Run it from the repository
root with a Python that has torch:

  python3 scripts/torch_train_compare.py [--peer ../shared/bench/torch/gpt2_train_bench.py] [--rounds 2] [--threads 1]

Each side's best round counts, which discounts moments when other work shared the cores.
"""
import argparse, json, os, re, subprocess, sys, tempfile

# size: (layers, heads, dim, vocab, context, batch), as trainer/bench_test.go's trainBenches
SHAPES = {
    "nano": (3, 3, 48, 3, 11, 64),
    "micro": (4, 4, 128, 512, 64, 32),
    "mini": (6, 6, 384, 4096, 256, 8),
}


def go_bench(binary, size, steps, threads):
    env = dict(os.environ, GOMAXPROCS=str(threads)) if threads else None
    out = subprocess.run([binary, "-test.run", "-", "-test.bench", f"TrainStep/{size}/",
                          "-test.benchtime", f"{steps}x", "-test.count", "1"],
                         check=True, capture_output=True, text=True, env=env).stdout
    m = re.search(r"([\d.]+) tokens/s", out)
    if not m:
        sys.exit(f"torch_train_compare: no tokens/s in the benchmark's output:\n{out}")
    return float(m.group(1))


def torch_bench(peer, shape, steps, threads):
    L, H, C, V, T, B = shape
    args = [sys.executable, peer, "--device", "cpu", "--layers", str(L), "--heads", str(H), "--dim", str(C),
            "--vocab", str(V), "--context", str(T), "--batch", str(B), "--steps", str(steps), "--warmup", "2",
            "--threads", str(threads)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--peer", default=os.path.join(here, "..", "..", "shared", "bench", "torch", "gpt2_train_bench.py"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--sizes", default=",".join(SHAPES))
    p.add_argument("--threads", type=int, default=0, help="cores for each side (GOMAXPROCS, torch threads); 0: all")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "trainer.test")
        subprocess.run(["go", "test", "-c", "-o", binary, "./trainer"], check=True)
        compare(a, binary)


def compare(a, binary):
    for size in a.sizes.split(","):
        shape = SHAPES[size]
        steps = 20 if size == "nano" else 10 if size == "micro" else 4
        ours, theirs, peer = 0.0, 0.0, None
        for _ in range(a.rounds):
            ours = max(ours, go_bench(binary, size, steps, a.threads))
            peer = torch_bench(a.peer, shape, steps, a.threads)
            theirs = max(theirs, peer["tokens_per_s"])
        print(json.dumps(dict(size=size, shape=dict(zip("layers heads dim vocab context batch".split(), shape)),
                              pipe_tokens_per_s=round(ours, 1), torch_tokens_per_s=round(theirs, 1),
                              ratio=round(ours / theirs, 2), torch=peer["torch"], threads=a.threads or os.cpu_count())),
              flush=True)


if __name__ == "__main__":
    main()
