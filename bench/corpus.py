"""The benchmark corpora, all from scripts/build_corpus.py (Debian's
debian-handbook in 26 languages and python3.11-doc), so any machine with the
same package versions builds the same bytes.

    .peers/corpus/docs.jsonl           12.6 MB, from scripts/peers.sh: the encode corpus
    .peers/corpus/bench-train.jsonl    21.0 MB: the training corpus
    .peers/corpus/bench-heldout.jsonl  the next ~2 MB of documents, none of them in training
    .peers/corpus/bench-*.txt          the same documents as plain text, for sentencepiece

build_corpus.py writes documents in a fixed order until it has --bytes, so a
longer build starts with the shorter one: the held-out slice is what a
23.1 MB build adds after the training documents.
"""
import json
import os
import subprocess
import sys

PEERS = ".peers"
CORPUS = os.path.join(PEERS, "corpus")
DOCS = os.path.join(CORPUS, "docs.jsonl")
TRAIN = os.path.join(CORPUS, "bench-train.jsonl")
HELDOUT = os.path.join(CORPUS, "bench-heldout.jsonl")
TRAIN_BYTES = 21_000_000
HELDOUT_END = 23_100_000


def texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def _build(nbytes, out):
    subprocess.run([sys.executable, "scripts/build_corpus.py", "--bytes", str(nbytes), "--out", out], check=True)


def _write_text(jsonl, txt):
    """One document after another, each ended by a newline: sentencepiece
    reads lines, so this is the same text as the JSONL, cut where it has newlines."""
    tmp = txt + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        for t in texts(jsonl):
            f.write(t if t.endswith("\n") else t + "\n")
    os.replace(tmp, txt)


def train_corpus():
    """Build the training and held-out corpora if missing; return their paths
    as (train.jsonl, heldout.jsonl, train.txt, heldout.txt)."""
    if not os.path.exists(TRAIN):
        _build(TRAIN_BYTES, TRAIN)
    if not os.path.exists(HELDOUT):
        longer = HELDOUT + ".build"
        _build(HELDOUT_END, longer)
        with open(TRAIN, "rb") as f:
            train = f.readlines()
        with open(longer, "rb") as f:
            docs = f.readlines()
        if docs[: len(train)] != train:
            sys.exit("corpus: the %d-byte build does not start with %s" % (HELDOUT_END, TRAIN))
        with open(HELDOUT + ".tmp", "wb") as f:
            f.writelines(docs[len(train):])
        os.replace(HELDOUT + ".tmp", HELDOUT)
        os.remove(longer)
    paths = [TRAIN, HELDOUT]
    for jsonl in (TRAIN, HELDOUT):
        txt = jsonl[: -len(".jsonl")] + ".txt"
        if not os.path.exists(txt):
            _write_text(jsonl, txt)
        paths.append(txt)
    return tuple(paths)


def repeated(src, times, out):
    """src written times over into out (a larger input, so that a run's
    fixed start-up cost weighs less), unless out is there already."""
    if not os.path.exists(out) or os.path.getsize(out) != times * os.path.getsize(src):
        with open(src, "rb") as f:
            data = f.read()
        with open(out + ".tmp", "wb") as f:
            for _ in range(times):
                f.write(data)
        os.replace(out + ".tmp", out)
    return out
