#!/usr/bin/env bash
# The main job end to end on the embedded default, offline, on loopback:
#   a website (Newton's Opticks, public domain, shipped with every Go installation, cut into
#   linked HTML pages by scripts/demo_site.py) is served on 127.0.0.1, then
#   pipe crawl | pipe clean | pipe bpe | pipe shard, then pipe train on CPU, then pipe sample.
# Outputs go to demo-out/ (or $1). Change the seeds to run it against real sites.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-out}"
steps="${DEMO_STEPS:-600}"
rm -rf "$out" && mkdir -p "$out"
text="$(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt"

echo "== build" >&2
go build -o "$out/pipe" ./cmd/pipe
pipe="$out/pipe"

echo "== serve the demo site on loopback" >&2
coproc SITE { python3 scripts/demo_site.py "$text" "$out/site"; }
read -r seed <&"${SITE[0]}"
trap 'exec {SITE[1]}>&-; wait "$SITE_PID" 2>/dev/null || true' EXIT
echo "   $seed" >&2

echo "== crawl | clean | bpe | shard" >&2
"$pipe" crawl --seeds "$seed" --allow-private --per-host-delay 0 --max-pages 500 \
  | tee "$out/crawl.warc.gz" \
  | "$pipe" clean --stats "$out/clean-stats.json" \
  | tee "$out/docs.jsonl" \
  | "$pipe" bpe --vocab-size 2048 --out "$out/tokenizer.json" \
  | "$pipe" shard --out "$out/data" --val-fraction 0.1
"$pipe" shard info "$out/data"

echo "== train a micro GPT on CPU ($steps steps)" >&2
"$pipe" train --data "$out/data" --tokenizer "$out/tokenizer.json" --model micro --context 128 \
  --batch 16 --steps "$steps" --lr 3e-3 --warmup 50 --eval-every 100 --ckpt-every "$steps" --out "$out/run"

ckpt=$(ls -d "$out"/run/ckpt-* | sort -V | tail -1)
echo "== sample from $ckpt" >&2
"$pipe" sample --ckpt "$ckpt" --prompt "Light is" --max-tokens 80 --temperature 0.8 --top-k 40 --seed 1
echo
echo "outputs in $out/: crawl.warc.gz (WARC), docs.jsonl (clean documents), clean-stats.json,"
echo "tokenizer.json (Hugging Face), data/ (Arrow shards + manifest.json), run/ (metrics.jsonl, checkpoints)"
