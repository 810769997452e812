#!/usr/bin/env python3
"""The tiktoken peer for pipe's tests and benchmarks.

tiktoken fetches OpenAI's rank files from a host this machine cannot reach.
The npm packages ship the same ranks; scripts/peers.sh turns them into
.tiktoken files under $PIPE_PEER_DIR/ranks. This module builds tiktoken's
own encodings (its patterns and special tokens, from tiktoken_ext) on those
files, and checks each file against the sha256 that tiktoken expects, so a
conversion error cannot pass unnoticed.

Usage:
  tiktoken_peer.py encode NAME < docs.jsonl > ids.txt   (one line of ids per document)
  tiktoken_peer.py bench NAME FILE...                    (single-thread MB/s of encode_ordinary)
"""
import json
import os
import sys
import time

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

NAMES = {"gpt2": "r50k_base", "r50k_base": "r50k_base", "cl100k": "cl100k_base",
         "cl100k_base": "cl100k_base", "o200k": "o200k_base", "o200k_base": "o200k_base"}


def ranks_dir():
    d = os.environ.get("PIPE_PEER_DIR")
    if not d:
        sys.exit("tiktoken_peer: PIPE_PEER_DIR is not set (run scripts/peers.sh)")
    return os.path.join(d, "ranks")


def _read_local(blobpath):
    path = os.path.join(ranks_dir(), os.path.basename(blobpath))
    with open(path, "rb") as f:
        return f.read()


# Route tiktoken's downloads to the local files; tiktoken still checks each
# file's sha256 against the hash it expects.
tiktoken.load.read_file = _read_local


def encoding(name):
    ctor = getattr(openai_public, NAMES[name])
    return tiktoken.Encoding(**ctor())


def main():
    cmd, name = sys.argv[1], sys.argv[2]
    enc = encoding(name)
    if cmd == "encode":
        out = sys.stdout
        for line in sys.stdin:
            doc = json.loads(line)
            ids = enc.encode(doc["text"], allowed_special="all")
            out.write(" ".join(map(str, ids)) + "\n")
    elif cmd == "bench":
        texts = []
        for p in sys.argv[3:]:
            with open(p, encoding="utf-8") as f:
                if p.endswith(".jsonl"):
                    texts += [json.loads(l)["text"] for l in f]
                else:
                    texts.append(f.read())
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        enc.encode_ordinary(texts[0][:1000])  # warm up
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            ntok = sum(len(enc.encode_ordinary(t)) for t in texts)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        print(json.dumps({"peer": "tiktoken " + tiktoken.__version__, "encoding": name,
                          "bytes": nbytes, "tokens": ntok, "seconds": best,
                          "mb_per_s": nbytes / best / 1e6}))
    else:
        sys.exit("tiktoken_peer: unknown command " + cmd)


if __name__ == "__main__":
    main()
