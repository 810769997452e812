#!/usr/bin/env python3
"""The Hugging Face tokenizers peer: encode JSONL documents with a tokenizer.json.

Usage: hf_peer.py encode TOKENIZER_JSON < docs.jsonl > ids.txt  (one line of ids per document)
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd != "encode":
        sys.exit("hf_peer: unknown command " + cmd)
    tok = Tokenizer.from_file(path)
    for line in sys.stdin:
        ids = tok.encode(json.loads(line)["text"], add_special_tokens=False).ids
        sys.stdout.write(" ".join(map(str, ids)) + "\n")


if __name__ == "__main__":
    main()
