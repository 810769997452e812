#!/usr/bin/env bash
# pipe clean against datatrove's pipeline of the same steps, on the same WARC
# file, in one run: builds pipe into bench/out/, installs the peers
# (scripts/peers.sh), then runs bench/clean_peer/run.py with the arguments
# given (--repeat N, default 3; about 2 minutes on 2 busy cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bench/out
go build -o bench/out/pipe ./cmd/pipe
bash scripts/peers.sh
export PIPE_PEER_DIR="$PWD/.peers" PYTHONDONTWRITEBYTECODE=1
exec .peers/venv/bin/python bench/clean_peer/run.py "$@"
