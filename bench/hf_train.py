#!/usr/bin/env python3
"""Train a byte-level BPE with Hugging Face tokenizers' BpeTrainer: the
process that bench/train.py times beside `pipe bpe train`.

    hf_train.py --like PIPE_TOKENIZER.json --vocab-size N --special TOK --out OUT.json TRAIN.jsonl

The pre-tokenizer is taken from --like, a tokenizer.json that
`pipe bpe export --format hf` wrote: the Split on pipe's pattern in the
spelling Oniguruma reads the same way (no possessive "{1,3}+", no "$"), then
ByteLevel without its own regex. The trainer starts from the 256 ByteLevel
characters, adds the special token, and merges until the vocabulary has N
tokens (special token included, as pipe counts). Prints one JSON line: the
seconds of train_from_iterator alone (wall and this process's CPU).
"""
import argparse
import json
import time

from tokenizers import Tokenizer, pre_tokenizers, trainers


def empty_bpe(pre_tokenizer):
    return Tokenizer.from_str(json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": pre_tokenizer, "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {}, "merges": []},
    }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--like", required=True)
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--special", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("train")
    a = ap.parse_args()
    with open(a.like, encoding="utf-8") as f:
        tok = empty_bpe(json.load(f)["pre_tokenizer"])
    with open(a.train, encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f]
    trainer = trainers.BpeTrainer(
        vocab_size=a.vocab_size,
        min_frequency=0,
        special_tokens=[a.special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    start, cpu = time.perf_counter(), time.process_time()
    tok.train_from_iterator(docs, trainer, length=len(docs))
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    tok.save(a.out)
    print(json.dumps({"train_s": secs, "cpu_s": cpu, "vocab_size": tok.get_vocab_size()}))


if __name__ == "__main__":
    main()
