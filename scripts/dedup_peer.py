#!/usr/bin/env python3
"""datatrove's MinHash pairs, the peer of clean/minhash.go.

Reads JSONL documents on stdin and writes the JSON list of the pairs [i, j]
(i < j, line numbers from 0) whose MinHash signatures, as datatrove's
MinhashDedupSignature computes them with FineWeb's configuration (5-grams,
14 buckets x 8 hashes, 64-bit), agree in at least one bucket.
"""
import json
import sys
import tempfile

import xxhash
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

step = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=MinhashConfig())
# datatrove 0.10.1 hands str to xxhash, which xxhash 4 refuses; older xxhash
# hashed the UTF-8 bytes, as this does.
step._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))
buckets = {}
for i, line in enumerate(sys.stdin):
    shingles = step.get_shingles(json.loads(line)["text"])
    if shingles.size == 0:
        continue
    for b, sig in enumerate(step.get_signature(shingles)):
        buckets.setdefault((b, tuple(sig)), []).append(i)
pairs = sorted({(a, c) for docs in buckets.values() for k, a in enumerate(docs) for c in docs[k + 1:]})
json.dump(pairs, sys.stdout)
