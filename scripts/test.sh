#!/usr/bin/env bash
# The test command: installs the peers (scripts/peers.sh), then checks
# formatting, vets, and runs every Go test with the peers required, so a
# missing peer fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers.sh
export PIPE_PEERS=1 PIPE_PEER_DIR="$PWD/.peers" PATH="$PWD/.peers/venv/bin:$PATH"
export PIPE_TORCH=1 PIPE_TORCH_PYTHON="$PWD/.peers/torch/bin/python"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 -timeout 25m "$@" ./...
