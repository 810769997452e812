#!/usr/bin/env bash
# The main job, as far as it exists today, on an embedded default: the public-domain
# text of Newton's Opticks that ships with every Go installation (Project Gutenberg).
# It builds pipe, trains a BPE tokenizer, encodes the text to the Arrow token stream,
# exports the tokenizer for Hugging Face, and round-trips a sample sentence.
# Outputs go to demo-out/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-out}"
mkdir -p "$out"
text="$(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt"

echo "== build" >&2
go build -o "$out/pipe" ./cmd/pipe
pipe="$out/pipe"

echo "== train a 2,048-token BPE vocabulary (o200k pre-split) on $(basename "$text")" >&2
"$pipe" bpe train --vocab-size 2048 --pattern o200k --text --out "$out/tokenizer.bpe" "$text"

echo "== encode it to the Arrow IPC token stream that pipe shard reads" >&2
"$pipe" bpe encode --tokenizer "$out/tokenizer.bpe" --text "$text" > "$out/tokens.arrows"

echo "== export the tokenizer as a Hugging Face tokenizer.json" >&2
"$pipe" bpe export --tokenizer "$out/tokenizer.bpe" --format hf --out "$out/tokenizer.json"

sample="Light is refracted by the Prism, and the Colours of the Rays are separated."
ids=$(printf '%s' "$sample" | "$pipe" bpe encode --tokenizer "$out/tokenizer.json" --text --ids 2>/dev/null)
back=$(printf '%s\n' "$ids" | "$pipe" bpe decode --tokenizer "$out/tokenizer.json")
n=$(wc -w <<<"$ids")
echo
echo "sample:  $sample"
echo "ids:     $ids"
echo "         ($n tokens for ${#sample} characters)"
echo "decoded: $back"
[ "$back" = "$sample" ] || { echo "demo: decode did not give the sample back" >&2; exit 1; }
echo
echo "outputs in $out/: tokenizer.bpe (pipe's native file), tokenizer.json (Hugging Face),"
echo "tokens.arrows (Arrow IPC token stream), pipe (the binary)"
echo "Next stages (shard, train, crawl, clean) are not built yet: see README.md."
