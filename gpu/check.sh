#!/usr/bin/env bash
# The GPU check, in two halves, because the GPU machine may have no Go and no network:
#
#   bash gpu/check.sh build   here: builds .gpu-build/ (the gpu test binary, the pipe binary,
#                             a GPT-2-vocabulary shard directory, the PyTorch peer's script)
#   bash gpu/check.sh run     on the GPU machine, in the repo root with .gpu-build/ carried:
#                             every phase time-boxed, and all of them within $CHECK_BUDGET seconds
#                             (default 470: the summary is written even when phases run out of
#                             time); a failing phase does not stop the next; writes $OUT/results.md
#                             and $OUT/logs/
#
# Phases of run: device info; every Backend op against the CPU backend (TestGPUOps, the fused
# classifier, the norm, the whole model's gradients); 300 steps of nano on the sort task on GPU
# and CPU from one seed (TestGPUTraining, with the checkpoint round trip and greedy sampling);
# GPT-2 124M at context 1024 with the largest batch that fits: the backend in a Go test (again
# without the flash kernels if that fails), then the PyTorch peer (torch.compile, bf16) at the
# same batch, then `pipe train --device cuda`.
set -uo pipefail
cd "$(dirname "$0")/.."
build=.gpu-build

case "${1:-}" in
build)
  set -e
  mkdir -p "$build"
  go test -c -o "$build/gpu.test" ./gpu
  go build -o "$build/pipe" ./cmd/pipe
  peer=../shared/bench/torch/gpt2_train_bench.py
  [ -f "$peer" ] || peer=/work/shared/bench/torch/gpt2_train_bench.py
  cp "$peer" "$build/gpt2_train_bench.py"
  ranks=.peers/ranks/r50k_base.tiktoken
  if [ ! -f "$ranks" ]; then
    echo "check.sh build: $ranks is missing: run scripts/peers.sh (it brings GPT-2's rank file)" >&2
    exit 1
  fi
  if [ ! -f "$build/data/manifest.json" ]; then
    # ~2 MB of Go's own source as documents: the content is beside the point, the vocabulary is GPT-2's
    python3 - "$(go env GOROOT)/src" > "$build/docs.jsonl" <<'PY'
import json, os, sys
n = 0
for root, _, files in sorted(os.walk(sys.argv[1])):
    for f in sorted(files):
        if f.endswith(".go") and n < 2_500_000:
            text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
            n += len(text)
            print(json.dumps({"id": os.path.join(root, f), "text": text}))
PY
    rm -rf "$build/data"
    "$build/pipe" shard --tokenizer "$ranks" --pattern gpt2 --val-tokens 50000 --out "$build/data" "$build/docs.jsonl" > /dev/null
    rm -f "$build/docs.jsonl"
  fi
  du -sh "$build"
  echo "built $build: carry it to the GPU machine and run: bash gpu/check.sh run"
  ;;
run)
  OUT=${OUT:-$PWD/gpu-check-out}
  mkdir -p "$OUT/logs"
  export PIPE_GPU=1 PIPE_CUDA_CACHE=${PIPE_CUDA_CACHE:-/tmp/pipe-cuda-cache}
  res="$OUT/results.md"
  t0=$(date +%s)
  {
    echo "# gpu/check.sh run, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "| phase | result | seconds |"
    echo "|---|---|---|"
  } > "$res"
  deadline=$((t0 + ${CHECK_BUDGET:-470}))
  # phase NAME SECONDS CMD...: runs CMD with a time limit (cut to what is left of the budget), logs
  # to $OUT/logs/NAME.log, adds a row; skipped when less than 15 s are left
  phase() {
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    if [ $((deadline - start)) -lt 15 ]; then
      echo "| $name | skipped: the budget is spent | 0 |" >> "$res"
      echo "phase $name: skipped" >&2
      return 0
    fi
    limit=$((limit < deadline - start ? limit : deadline - start))
    timeout --kill-after=10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    local verdict="ok"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && verdict="TIMEOUT after ${limit}s"
    [ $rc -ne 0 ] && [ "$verdict" = ok ] && verdict="FAILED (exit $rc)"
    echo "| $name | $verdict | $(( $(date +%s) - start )) |" >> "$res"
    echo "phase $name: $verdict" >&2
    return 0
  }
  phase info 20 bash -c 'nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"'
  phase ops 100 "$build/gpu.test" -test.run 'TestGPULayouts|TestGPUOps|TestGPUClassifierFused|TestGPUSumSquares|TestGPUAttention|TestGPUModel|TestProfile|TestGPUNCCL' -test.v
  if grep -q -- '--- FAIL' "$OUT/logs/ops.log" 2>/dev/null; then # which part: the flash kernels, or cuBLASLt's epilogues?
    PIPE_GPU_FLASH=0 phase ops-noflash 45 "$build/gpu.test" -test.run 'TestGPUOps|TestGPUModel' -test.v
    PIPE_GPU_EPILOGUES=0 phase ops-noepilogues 45 "$build/gpu.test" -test.run 'TestGPUOps|TestGPUModel' -test.v
  fi
  phase training 90 "$build/gpu.test" -test.run 'TestGPUTraining' -test.v
  PIPE_GPU_BENCH=1 PIPE_BENCH_OUT="$OUT/bench-go.json" phase bench-go 80 "$build/gpu.test" -test.run 'TestBenchGPT2' -test.v
  flash=1
  if [ ! -s "$OUT/bench-go.json" ]; then # a kernel that faults, say: the same without the flash kernels
    flash=0
    PIPE_GPU_FLASH=0 PIPE_GPU_BENCH=1 PIPE_BENCH_OUT="$OUT/bench-go.json" phase bench-go-noflash 80 "$build/gpu.test" -test.run 'TestBenchGPT2' -test.v
  fi
  B=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch"])' "$OUT/bench-go.json" 2>/dev/null || echo 16)
  # the card's dense bf16 peak, for every MFU of the run (the backend knows H100 PCIe from SXM)
  PEAK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_tflops"])' "$OUT/bench-go.json" 2>/dev/null || echo 989)
  phase bench-torch 170 python3 "$build/gpt2_train_bench.py" --device cuda --compile --bf16 --batch "$B" --context 1024 --vocab 50304 --steps 10 --warmup 5 --peak-tflops "$PEAK"
  grep '^{' "$OUT/logs/bench-torch.log" 2>/dev/null | tail -1 > "$OUT/bench-torch.json"
  if [ ! -s "$OUT/bench-torch.json" ]; then
    if grep -qiE 'out of memory|OutOfMemoryError' "$OUT/logs/bench-torch.log" 2>/dev/null; then
      [ "$B" -gt 1 ] && phase bench-torch-half 150 python3 "$build/gpt2_train_bench.py" --device cuda --compile --bf16 --batch $((B / 2)) --context 1024 --vocab 50304 --steps 10 --warmup 5 --peak-tflops "$PEAK"
      grep '^{' "$OUT/logs/bench-torch-half.log" 2>/dev/null | tail -1 > "$OUT/bench-torch.json"
    else # torch.compile itself failed (Triton needs a C compiler, say): eager, a weaker peer, named so below
      phase bench-torch-eager 90 python3 "$build/gpt2_train_bench.py" --device cuda --bf16 --batch "$B" --context 1024 --vocab 50304 --steps 10 --warmup 5 --peak-tflops "$PEAK"
      grep '^{' "$OUT/logs/bench-torch-eager.log" 2>/dev/null | tail -1 > "$OUT/bench-torch.json"
    fi
  fi
  # after the peer, which only this run measures, so that a tight budget cuts this one
  rm -rf /tmp/pipe-bench-run
  phase bench-pipe 100 env PIPE_GPU_FLASH=$flash "$build/pipe" train --device cuda --data "$build/data" --model gpt2 --context 1024 --batch "$B" \
    --steps 12 --warmup 2 --eval-every 0 --eval-batches 1 --out /tmp/pipe-bench-run
  cp /tmp/pipe-bench-run/metrics.jsonl "$OUT/bench-pipe-metrics.jsonl" 2>/dev/null
  {
    echo
    echo "Total $(( $(date +%s) - t0 )) s."
    echo
    echo "## Numbers"
    echo
    python3 - "$OUT" "$PEAK" <<'PY'
import json, os, sys, re
out, peak = sys.argv[1], float(sys.argv[2])
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception:
        return None
N = 124_475_904  # GPT-2 with vocab 50,304 and context 1024 (tied output)
flops = 6 * N + 6 * 12 * 768 * 1024
print("| what | batch | tokens/s | MFU |")
print("|---|---|---|---|")
g = load("bench-go.json")
noflash = os.path.exists(os.path.join(out, "logs", "bench-go-noflash.log"))
if g:
    how = ", flash kernels off (the first run failed)" if noflash else ""
    print(f"| backend in go test ({g.get('mem_used_mib', '?')} MiB in use{how}) | {g['batch']} | {g['tokens_per_s']:.0f} | {g.get('mfu', 0):.3f} |")
    if g.get("tokens_per_s_noflash"):
        print(f"| the same, attention as cuBLAS products | {g['batch']} | {g['tokens_per_s_noflash']:.0f} | |")
    if g.get("tokens_per_s_noflash_backward"):
        print(f"| the same, flash forward, attention's backward as cuBLAS products | {g['batch']} | {g['tokens_per_s_noflash_backward']:.0f} | |")
    if g.get("tokens_per_s_noepilogues"):
        print(f"| the same, no cuBLASLt epilogues | {g['batch']} | {g['tokens_per_s_noepilogues']:.0f} | |")
try:
    ms = [json.loads(l) for l in open(os.path.join(out, "bench-pipe-metrics.jsonl"))]
    tps = sorted(m["tokens_per_s"] for m in ms[3:]) or sorted(m["tokens_per_s"] for m in ms)
    med = tps[len(tps) // 2]
    how = " (PIPE_GPU_FLASH=0)" if noflash else ""
    print(f"| pipe train --device cuda{how} | {g['batch'] if g else '?'} | {med:.0f} | {flops * med / (peak * 1e12):.3f} |")
except Exception as e:
    print(f"| pipe train --device cuda | | no metrics ({type(e).__name__}) | |")
p = load("bench-torch.json")
if p:
    how = "torch.compile" if p.get("compile") else "eager (torch.compile failed: see logs/bench-torch.log)"
    print(f"| PyTorch {p.get('torch')}, {how}, bf16 | {p['batch']} | {p['tokens_per_s']:.0f} | {p.get('mfu')} |")
print()
if g and g.get("profile"):
    total = sum(r["ms"] for r in g["profile"]) or 1
    print("### One GPT-2 step, kernel by kernel (synchronised after each: slower than the timed steps)\n")
    # TFLOPS where the work is known: products by their shape, the flash kernels by GPT-2's
    # (12 heads of 64, context 1024; causal: half of each T x T product), 2, 3 and 4 products
    B, T, NH, hs = g["batch"], 1024, 12, 64
    flash = {"attention_flash_forward": 2, "attention_flash_backward_dq": 3, "attention_flash_backward_dkdv": 4}
    def flops(name):
        m = re.match(r"gemm (\d+)x(\d+)x(\d+)(?:×(\d+))?", name)
        if m:
            return 2 * int(m[1]) * int(m[2]) * int(m[3]) * int(m[4] or 1)
        k = flash.get(name.removesuffix("_h"))
        return k * B * NH * T * T * hs if k else 0
    print("| kernel or product | ms | calls | share | TFLOPS |")
    print("|---|---|---|---|---|")
    for r in g["profile"][:30]:
        f = flops(r["name"]) * r["calls"]
        tf = f"{f / (r['ms'] / 1e3) / 1e12:.0f}" if f and r["ms"] > 0 else ""
        print(f"| {r['name']} | {r['ms']:.2f} | {r['calls']} | {r['ms'] / total:.1%} | {tf} |")
    print(f"\nall: {total:.1f} ms\n")
for name in ("ops", "training"):
    try:
        log = open(os.path.join(out, "logs", name + ".log")).read()
    except Exception:
        continue
    lines = [l.strip() for l in log.splitlines() if re.search(r"rel err|loss cpu|steps .*cpu|greedy|worst|--- (FAIL|PASS)|device:|ldmatrix|mma:", l)]
    print(f"### {name}\n")
    print("```")
    print("\n".join(lines[:150]))
    print("```\n")
PY
  } >> "$res"
  cat "$res"
  ;;
*)
  echo "usage: bash gpu/check.sh build | run" >&2
  exit 2
  ;;
esac
