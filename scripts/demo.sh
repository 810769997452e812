#!/usr/bin/env bash
# The main job end to end on the embedded default, offline, on loopback:
#   the bundled website (pipelines/site: the King James Bible and Newton's Opticks, both public
#   domain, as ~1,340 linked HTML pages) is served on 127.0.0.1 by pipelines/cmd/demosite, then
#   pipe crawl | pipe clean | pipe bpe | pipe shard, then pipe train on CPU, then pipe sample.
# Outputs go to demo-out/ (or $1). DEMO_STEPS sets the training steps (default 1000).
# The same command lines work against real sites: change the seed and drop --allow-private.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-out}"
steps="${DEMO_STEPS:-1000}"
rm -rf "$out" && mkdir -p "$out"
SECONDS=0

echo "== build pipe and the demo site's server" >&2
go build -o "$out/pipe" ./cmd/pipe
go build -o "$out/demosite" ./pipelines/cmd/demosite
pipe="$out/pipe"

echo "== serve the demo site on loopback" >&2
"$out/demosite" > "$out/site-url" &
site_pid=$!
trap 'kill "$site_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$out/site-url" ] && break; sleep 0.1; done
seed=$(head -1 "$out/site-url")
echo "   $seed" >&2

echo "== crawl | clean | bpe | shard" >&2
"$pipe" crawl --seeds "$seed" --allow-private --per-host-delay 0 --max-pages 5000 \
  | tee "$out/crawl.warc.gz" \
  | "$pipe" clean --stats "$out/clean-stats.json" \
  | tee "$out/docs.jsonl" \
  | "$pipe" bpe --vocab-size 4096 --out "$out/tokenizer.json" \
  | "$pipe" shard --out "$out/data" --val-fraction 0.02 > "$out/shard-summary.json"
"$pipe" shard info "$out/data"
echo "   data stages done at ${SECONDS}s" >&2

echo "== train a micro GPT on CPU ($steps steps)" >&2
"$pipe" train --data "$out/data" --tokenizer "$out/tokenizer.json" --model micro --context 128 \
  --batch 16 --steps "$steps" --lr 3e-3 --warmup 50 --eval-every 200 --ckpt-every "$steps" --out "$out/run"

ckpt=$(ls -d "$out"/run/ckpt-* | sort -V | tail -1)
echo "== sample from $ckpt" >&2
"$pipe" sample --ckpt "$ckpt" --prompt "And God said" --max-tokens 80 --temperature 0.8 --top-k 40 --seed 1
echo
echo "done in ${SECONDS}s; outputs in $out/:"
echo "  crawl.warc.gz      the crawl (WARC 1.1)"
echo "  docs.jsonl         the clean documents; clean-stats.json: what each step dropped and why"
echo "  tokenizer.json     the BPE tokenizer (Hugging Face format)"
echo "  data/              Arrow shards and manifest.json; shard-summary.json"
echo "  run/               metrics.jsonl, report.html and the checkpoint $(basename "$ckpt")/ (Hugging Face GPT-2 layout)"
