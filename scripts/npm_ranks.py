#!/usr/bin/env python3
"""Write OpenAI's .tiktoken rank files from the npm `tiktoken` package.

The package's encoders/*.json hold the ranks as lines "! OFFSET B64 B64 ...",
each token's rank being OFFSET plus its position on the line.
Usage: npm_ranks.py ENCODERS_DIR OUT_DIR
"""
import json
import os
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name in ("r50k_base", "cl100k_base", "o200k_base"):
        with open(os.path.join(src, name + ".json")) as f:
            enc = json.load(f)
        ranks = []
        for line in enc["bpe_ranks"].split("\n"):
            if not line:
                continue
            _, offset, *tokens = line.split(" ")
            ranks += [(int(offset) + i, tok) for i, tok in enumerate(tokens)]
        ranks.sort()
        tmp = os.path.join(out, name + ".tiktoken.tmp")
        with open(tmp, "w") as f:
            f.writelines("%s %d\n" % (tok, r) for r, tok in ranks)
        os.replace(tmp, os.path.join(out, name + ".tiktoken"))


if __name__ == "__main__":
    main()
