#!/usr/bin/env python3
"""Training speed of pipe's CPU trainer against PyTorch on the CPU, shape by shape, in one run.

For each thread count and each shape of trainer's BenchmarkTrainStep (nano, micro, mini, gpt2) it
times the Go benchmark and the PyTorch peer (shared/bench/torch/gpt2_train_bench.py, unchanged)
in turn, round after round, and prints one JSON line per shape and thread count: both sides'
tokens/s and CPU seconds a step, their ratios, and the load average around the measurement. Run
it from the repository root with a Python that has torch:

  python3 scripts/torch_train_compare.py [--threads 1,2] [--rounds 3] [--sizes nano,micro,mini,gpt2]

Other work on the machine slows either side at random, so each side's best round counts (every
round's tokens/s is printed too), and the rounds alternate. CPU seconds a step come from the
processes' own CPU time (getrusage of the children): a run's, less that of a run of one step
right after it, which holds the start-up, set-up and warm-up; the median over the rounds. They
include spinning: PyTorch's OpenMP threads spin while they wait for each other.
"""
import argparse, json, os, re, resource, statistics, subprocess, sys, tempfile

# size: (layers, heads, dim, vocab, context, batch), as trainer/bench_test.go's trainBenches
SHAPES = {
    "nano": (3, 3, 48, 3, 11, 64),
    "micro": (4, 4, 128, 512, 64, 32),
    "mini": (6, 6, 384, 4096, 256, 8),
    "gpt2": (12, 12, 768, 50257, 256, 4),
}
STEPS = {"nano": 200, "micro": 20, "mini": 4, "gpt2": 3}  # timed steps a run


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def go_bench(binary, size, steps, threads):
    env = dict(os.environ, GOMAXPROCS=str(threads))
    cpu = children_cpu()
    out = subprocess.run([binary, "-test.run", "-", "-test.bench", f"TrainStep/{size}/",
                          "-test.benchtime", f"{steps}x", "-test.count", "1"],
                         check=True, capture_output=True, text=True, env=env).stdout
    cpu = children_cpu() - cpu
    m = re.search(r"([\d.]+) tokens/s", out)
    if not m:
        sys.exit(f"torch_train_compare: no tokens/s in the benchmark's output:\n{out}")
    return float(m.group(1)), cpu


def torch_bench(peer, shape, steps, threads):
    L, H, C, V, T, B = shape
    args = [sys.executable, peer, "--device", "cpu", "--layers", str(L), "--heads", str(H), "--dim", str(C),
            "--vocab", str(V), "--context", str(T), "--batch", str(B), "--steps", str(steps), "--warmup", "2",
            "--threads", str(threads)]
    cpu = children_cpu()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    cpu = children_cpu() - cpu
    peer = json.loads(out.strip().splitlines()[-1])
    return peer["tokens_per_s"], cpu, peer


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--peer", default=os.path.join(here, "..", "..", "shared", "bench", "torch", "gpt2_train_bench.py"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizes", default="nano,micro,mini")
    p.add_argument("--threads", default=str(os.cpu_count()),
                   help="comma-separated cores for each side (GOMAXPROCS, torch threads)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "trainer.test")
        subprocess.run(["go", "test", "-c", "-o", binary, "./trainer"], check=True)
        for threads in (int(t) for t in a.threads.split(",")):
            for size in a.sizes.split(","):
                compare(a, binary, size, threads)


def compare(a, binary, size, threads):
    shape, steps = SHAPES[size], STEPS[size]
    load = os.getloadavg()[0]
    ours, theirs, ours_cpu, theirs_cpu, peer = [], [], [], [], None
    for _ in range(a.rounds):
        # a run of the timed steps, then one of a single step: the difference is the steps' CPU
        tps, cpu = go_bench(binary, size, steps, threads)
        ours.append(tps)
        ours_cpu.append((cpu - go_bench(binary, size, 1, threads)[1]) / (steps - 1))
        tps, cpu, peer = torch_bench(a.peer, shape, steps, threads)
        theirs.append(tps)
        theirs_cpu.append((cpu - torch_bench(a.peer, shape, 1, threads)[1]) / (steps - 1))
    ours_cpu, theirs_cpu = statistics.median(ours_cpu), statistics.median(theirs_cpu)
    print(json.dumps(dict(
        size=size, threads=threads, shape=dict(zip("layers heads dim vocab context batch".split(), shape)),
        pipe_tokens_per_s=round(max(ours), 1), torch_tokens_per_s=round(max(theirs), 1),
        ratio=round(max(ours) / max(theirs), 2),
        pipe_cpu_s_per_step=round(ours_cpu, 4), torch_cpu_s_per_step=round(theirs_cpu, 4),
        cpu_ratio=round(theirs_cpu / ours_cpu, 2) if ours_cpu > 0 else None,
        pipe_rounds=[round(x) for x in ours], torch_rounds=[round(x) for x in theirs],
        load=[round(load, 2), round(os.getloadavg()[0], 2)], torch=peer["torch"])), flush=True)


if __name__ == "__main__":
    main()
