"""Training: `pipe bpe train` against Hugging Face tokenizers' BpeTrainer and
sentencepiece's BPE trainer, vocabulary 32,768, on the 21 MB training corpus
(bench/corpus.py), two threads each (the machine has two cores).

  pipe           pipe bpe train --vocab-size 32768 --pattern cl100k
                 --special '<|endoftext|>' --threads 2 --force (JSONL in, native
                 file out; --force, or a repetition is skipped as up to date)
  HF tokenizers  bench/hf_train.py: BpeTrainer, the Split regex and ByteLevel
                 pre-tokenizer of pipe's own tokenizer exported by
                 `pipe bpe export --format hf`, the 256-byte ByteLevel alphabet,
                 the same special token, min_frequency 0, no progress bar
                 (JSONL in, tokenizer.json out; Rayon uses both cores)
  sentencepiece  spm_train --model_type=bpe (Debian's C++ binary) with the
                 settings closest to byte-level BPE: --byte_fallback (every
                 byte representable), --normalization_rule_name=identity and
                 --remove_extra_whitespaces=false (text kept as is, as pipe and
                 HF keep it), --max_sentence_length large enough that no line
                 is dropped, --num_threads=2, the special token as a
                 user-defined symbol; default character_coverage 0.9995 and
                 splitting (whitespace, script, digits). Plain text in (it
                 reads lines).

Each is one whole process, timed by proc.run: wall and CPU seconds and peak
RSS; the repetitions alternate pipe, HF, sentencepiece and each keeps its
fastest. The trainers' own timers (training alone, input already read) are
reported beside: pipe's "counted" + "trained" log lines and HF's
train_from_iterator.

Compression: bytes per token on the held-out documents, each tokenizer
encoding them with its own encoder (pipe bpe encode; HF's encode_batch;
spm_encode, for orientation only, as it drops the newlines between lines).
Checks: HF loading pipe's exported tokenizer gives pipe's held-out token
count (so HF's Split cuts as pipe's pattern does), and the share of tokens
the two vocabularies have in common.
"""
import json
import os
import subprocess
import sys

import tokenizers

import corpus
import proc

VOCAB = 32768
PATTERN = "cl100k"
SPECIAL = "<|endoftext|>"
OUT = os.path.join("bench", "out")


def spm_cmd(train_txt, prefix):
    return ["spm_train", "--input=" + train_txt, "--model_prefix=" + prefix, "--model_type=bpe",
            "--vocab_size=%d" % VOCAB, "--byte_fallback=true", "--normalization_rule_name=identity",
            "--remove_extra_whitespaces=false", "--max_sentence_length=1048576", "--input_sentence_size=0",
            "--num_threads=2", "--user_defined_symbols=" + SPECIAL, "--minloglevel=1"]


def spm_version():
    p = subprocess.run(["spm_train", "--version"], capture_output=True, text=True)
    return (p.stdout + p.stderr).strip()


def held_out_tokens(pipe, pipe_tok, pipe_hf, hf_tok, spm_model, held_jsonl, held_txt):
    texts = corpus.texts(held_jsonl)
    nbytes = sum(len(t.encode()) for t in texts)
    out = proc.run([pipe, "bpe", "encode", "--tokenizer", pipe_tok, "--ids", "--special-as-text", held_jsonl],
                   stdout=subprocess.PIPE).stdout
    n = {"pipe": len(out.split())}
    for name, path in (("hf", hf_tok), ("hf_loading_pipe", pipe_hf)):
        enc = tokenizers.Tokenizer.from_file(path).encode_batch(texts, add_special_tokens=False)
        n[name] = sum(len(e.ids) for e in enc)
    if spm_model is None:
        return nbytes, n, 0, 0
    with open(held_txt, "rb") as f:
        spm_in = f.read()
    spm_ids = proc.run(["spm_encode", "--model=" + spm_model, "--output_format=id", "--input=" + held_txt],
                       stdout=subprocess.PIPE).stdout
    spm_bytes = len(spm_in) - spm_in.count(b"\n")
    return nbytes, n, spm_bytes, len(spm_ids.split())


def vocab_overlap(pipe_hf, hf_tok):
    vocabs = []
    for path in (pipe_hf, hf_tok):
        with open(path, encoding="utf-8") as f:
            vocabs.append(set(json.load(f)["model"]["vocab"]))
    return len(vocabs[0] & vocabs[1]) / len(vocabs[1])


def train(pipe, repeat, spm_repeat):
    train_jsonl, held_jsonl, train_txt, held_txt = corpus.train_corpus()
    pipe_tok = os.path.join(OUT, "pipe-32k.bpe")
    pipe_hf = os.path.join(OUT, "pipe-32k-hf.json")
    hf_tok = os.path.join(OUT, "hf-32k.json")
    spm_prefix = os.path.join(OUT, "spm-32k")
    # --force: train is a batch job that skips a rerun whose completion
    # marker says its output is up to date; every repetition must train.
    pipe_cmd = [pipe, "bpe", "train", "--vocab-size", str(VOCAB), "--pattern", PATTERN, "--special", SPECIAL,
                "--threads", "2", "--force", "--out", pipe_tok, train_jsonl]
    hf_cmd = [sys.executable, "bench/hf_train.py", "--like", pipe_hf, "--vocab-size", str(VOCAB),
              "--special", SPECIAL, "--out", hf_tok, train_jsonl]

    runs = {"pipe": [], "hf": [], "spm": []}
    load = [proc.load()]
    for i in range(max(repeat, spm_repeat)):
        if i < repeat:
            runs["pipe"].append(proc.run(pipe_cmd))
            if i == 0:
                proc.run([pipe, "bpe", "export", "--tokenizer", pipe_tok, "--format", "hf", "--out", pipe_hf])
            runs["hf"].append(proc.run(hf_cmd, stdout=subprocess.PIPE))
        if i < spm_repeat:
            runs["spm"].append(proc.run(spm_cmd(train_txt, spm_prefix)))
    load.append(proc.load())

    p, h = proc.best(runs["pipe"]), proc.best(runs["hf"])
    s = proc.best(runs["spm"]) if runs["spm"] else None
    own = {
        "pipe": min(proc.slog_field(r.stderr, "counted", "seconds") + proc.slog_field(r.stderr, "trained", "seconds")
                    for r in runs["pipe"]),
        "hf": min(json.loads(r.stdout)["train_s"] for r in runs["hf"]),
    }
    hf_vocab = json.loads(h.stdout)["vocab_size"]
    pipe_vocab = int(proc.slog_field(p.stderr, "trained", "vocab_size"))
    nbytes, ntok, spm_bytes, spm_tok = held_out_tokens(pipe, pipe_tok, pipe_hf, hf_tok, s and spm_prefix + ".model",
                                                       held_jsonl, held_txt)

    train_texts = corpus.texts(train_jsonl)

    def stats(r):
        return dict(wall=r.wall, cpu=r.cpu, rss_mib=r.rss_mib)

    return dict(
        vocab=VOCAB, pattern=PATTERN, special=SPECIAL, repeat=repeat, spm_repeat=spm_repeat, load=load,
        train_bytes=sum(len(t.encode()) for t in train_texts), train_docs=len(train_texts), heldout_bytes=nbytes,
        peers={"hf": "tokenizers " + tokenizers.__version__, "spm": spm_version()},
        pipe=stats(p), hf=stats(h), spm=s and stats(s),
        walls={k: [r.wall for r in v] for k, v in runs.items()},
        own_seconds=own, vocab_sizes={"pipe": pipe_vocab, "hf": hf_vocab},
        heldout_tokens=ntok, bytes_per_token={"pipe": nbytes / ntok["pipe"], "hf": nbytes / ntok["hf"],
                                              "spm": spm_tok and spm_bytes / spm_tok},
        hf_split_same=ntok["hf_loading_pipe"] == ntok["pipe"], vocab_overlap=vocab_overlap(pipe_hf, hf_tok),
    )
