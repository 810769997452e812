#!/usr/bin/env bash
# pipe's tokenizer benchmarks, side by side with the peers, in one run:
# builds pipe and the bpe test binary into bench/out/, installs the peers
# (scripts/peers.sh), then runs bench/run.py with the arguments given:
#
#   bash bench/run.sh                   # all parts (~4 minutes on 2 busy cores)
#   bash bench/run.sh encode            # one part: encode, threads or train
#   bash bench/run.sh train --spm-repeat 0   # without sentencepiece
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
go build -o bench/out/pipe ./cmd/pipe
go test -c -o bench/out/bpe.test ./bpe
bash scripts/peers.sh
export PIPE_PEER_DIR="$PWD/.peers" PYTHONDONTWRITEBYTECODE=1
exec .peers/venv/bin/python bench/run.py "$@"
