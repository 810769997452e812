#!/usr/bin/env bash
# Throughput of each batch stage on this machine, for README's "Scale on paper". Every stage
# runs as one rank of the Airflow DAG would, and is timed by wall and CPU seconds (user +
# system: other load on a shared machine inflates wall time, much less CPU time).
#
#   crawl          the bundled site (pipelines/site, 1,340 pages) on loopback, politeness off
#   clean          real web pages: the 181 news and blog pages of the extraction benchmark
#                  (../shared/bench/extraction), served on loopback and crawled to WARC
#   text stages    dedup, bpe count and train, shard: the 12 MB, 26-language corpus of
#                  scripts/peers.sh ($PIPE_PEER_DIR/corpus/docs.jsonl), as 4 files
#
#   bash pipelines/bench_stages.sh [OUT_DIR]      # prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out="${1:-$(mktemp -d)}"
pages_dir="${BENCH_PAGES:-$root/../shared/bench/extraction/html}"
corpus="${PIPE_PEER_DIR:-$root/.peers}/corpus/docs.jsonl"
rm -rf "$out" && mkdir -p "$out"
go build -o "$out/pipe" ./cmd/pipe
go build -o "$out/demosite" ./pipelines/cmd/demosite
pipe="$out/pipe"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# measure NAME COMMAND...: runs the command, appends "NAME wall user sys" to $out/times.
: > "$out/times"
measure() {
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$out/times" "$@" > "$out/$name.out" 2>> "$out/log"
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# crawl: the bundled site.
"$out/demosite" > "$out/site-url" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$out/site-url" ] && break; sleep 0.1; done
measure crawl "$pipe" crawl --seeds "$(head -1 "$out/site-url")" --allow-private --per-host-delay 0 --max-pages 5000 --out "$out/site-warc"
site_pages=$(json "$out/site-warc/crawl-stats-00000.json" 'd["pages"]')

# clean: the real pages, served by Python's http.server, crawled, then cleaned.
mkdir -p "$out/pages"
for f in "$pages_dir"/*.html.gz; do gzip -dc "$f" > "$out/pages/$(basename "$f" .gz)"; done
(cd "$out/pages" && { echo "<html><body>"; for f in *.html; do echo "<a href=\"$f\">$f</a>"; done; echo "</body></html>"; } > index.html)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$out/pages" "$port" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
"$pipe" crawl --seeds "http://127.0.0.1:$port/index.html" --allow-private --per-host-delay 0 --out "$out/warc" 2>>"$out/log" >/dev/null
warc_bytes=$(cat "$out"/warc/*.warc.gz | gzip -dc | wc -c)
real_pages=$(json "$out/warc/crawl-stats-00000.json" 'd["pages"] - 1')
measure clean "$pipe" clean --dedup-signatures "$out/warc-sig" --out "$out/clean/docs-{rank}.jsonl.zst" "$out/warc/*.warc.gz"

# The text stages: the corpus as 4 files, one rank each where the DAG maps.
mkdir -p "$out/text"
split -n l/4 -d --additional-suffix=.jsonl "$corpus" "$out/text/part-"
text_bytes=$(python3 -c '
import json,sys; print(sum(len(json.loads(l)["text"].encode()) for f in sys.argv[1:] for l in open(f)))' "$out"/text/*.jsonl)
for r in 0 1 2 3; do
  measure "dedup_sig_$r" "$pipe" clean --steps dedup --rank "$r" --world-size 4 --dedup-signatures "$out/sig" --out "$out/deduped/docs-{rank}.jsonl.zst" "$out/text/*.jsonl"
done
measure dedup_buckets "$pipe" clean dedup-buckets --dedup-signatures "$out/sig"
for r in 0 1 2 3; do
  measure "dedup_remove_$r" "$pipe" clean dedup-remove --dedup-signatures "$out/sig" --rank "$r" --out "$out/docs/docs-{rank}.jsonl.zst" "$out/deduped/docs-0000$r.jsonl.zst"
done
measure bpe_count "$pipe" bpe count --threads 1 --out "$out/counts/counts-{rank}.bin" "$out/docs/*.jsonl.zst"
measure bpe_train "$pipe" bpe train --vocab-size 32768 --counts "$out/counts/*.bin" --out "$out/tokenizer.json"
measure shard "$pipe" shard --threads 1 --tokenizer "$out/tokenizer.json" --out "$out/data" "$out/docs/*.jsonl.zst"
tokens=$(json "$out/data/manifest.json" 'sum(s["tokens"] for s in d["shards"])')

echo "inputs: $site_pages pages of the bundled site; $real_pages real pages ($warc_bytes bytes of uncompressed WARC);"
echo "the corpus: $text_bytes bytes of text, $tokens tokens with the 32,768-token vocabulary trained on it"
echo
echo "| stage | wall s | CPU s | input | per CPU-second |"
echo "|---|---:|---:|---|---:|"
python3 - "$out/times" "$site_pages" "$real_pages" "$warc_bytes" "$text_bytes" "$tokens" <<'EOF'
import sys
times, site_pages, real_pages, warc, text, tokens = sys.argv[1], *map(int, sys.argv[2:])
rows = {}
for line in open(times):
    name, wall, user, sys_ = line.split()
    group = name.rstrip("0123456789").rstrip("_")
    w, c = rows.get(group, (0.0, 0.0))
    rows[group] = (w + float(wall), c + float(user) + float(sys_))
what = {
    "crawl": (f"{site_pages:,} pages", lambda c: f"{site_pages / c:,.0f} pages"),
    "clean": (f"{real_pages} real pages, {warc / 1e6:.1f} MB of WARC",
              lambda c: f"{real_pages / c:,.0f} pages, {warc / c / 1e6:.1f} MB of WARC"),
    "dedup_sig": ("the corpus, 4 ranks", lambda c: f"{text / c / 1e6:.1f} MB of text"),
    "dedup_buckets": ("4 signature files", lambda c: f"{text / c / 1e6:.0f} MB of text"),
    "dedup_remove": ("the corpus, 4 ranks", lambda c: f"{text / c / 1e6:.1f} MB of text"),
    "bpe_count": ("the corpus, 1 thread", lambda c: f"{text / c / 1e6:.1f} MB of text"),
    "bpe_train": ("the counts, vocab 32,768", lambda c: "—"),
    "shard": ("the corpus, 1 thread", lambda c: f"{text / c / 1e6:.1f} MB of text, {tokens / c / 1e6:.2f} M tokens"),
}
for name, (wall, cpu) in rows.items():
    inp, rate = what[name]
    print(f"| {name} | {wall:.2f} | {cpu:.2f} | {inp} | {rate(max(cpu, 0.01))} |")
EOF
