#!/usr/bin/env python3
"""Build the multilingual test corpus from Debian documentation packages.

Reads the HTML of debian-handbook (many languages) and the reST sources of
python3.11-doc, turns the HTML into text, and writes JSONL documents
({"id", "text"}) in a fixed order until --bytes of text are written.
The corpus is deterministic for the same package versions.
"""
import argparse
import glob
import html.parser
import json
import os
import sys


class _Text(html.parser.HTMLParser):
    SKIP = {"script", "style", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.depth = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1
        elif tag in ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "pre", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def html_text(path):
    p = _Text()
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    return "".join(p.parts)


def sources():
    hb = "/usr/share/doc/debian-handbook/html"
    langs = sorted(os.listdir(hb)) if os.path.isdir(hb) else []
    per_lang = {l: sorted(glob.glob(os.path.join(hb, l, "*.html"))) for l in langs}
    pyroot = "/usr/share/doc/python3.11/html/_sources"
    py = sorted(glob.glob(os.path.join(pyroot, "**/*.txt"), recursive=True))
    # Interleave languages and Python's reST sources (code, markup) so that any
    # prefix of the corpus is multilingual.
    i = 0
    while i < len(py) or any(i < len(v) for v in per_lang.values()):
        for l in langs:
            if i < len(per_lang[l]):
                yield "handbook/%s/%s" % (l, os.path.basename(per_lang[l][i])), html_text(per_lang[l][i])
        for p in py[2 * i : 2 * i + 2]:
            with open(p, encoding="utf-8", errors="replace") as f:
                yield "python-doc/" + os.path.relpath(p, pyroot), f.read()
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=12 << 20)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    n = docs = 0
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for doc_id, text in sources():
            if n >= a.bytes:
                break
            if not text.strip():
                continue
            out.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
            n += len(text.encode("utf-8"))
            docs += 1
    os.replace(tmp, a.out)
    if n < a.bytes:
        sys.exit("corpus: only %d bytes from the Debian documentation packages, wanted %d" % (n, a.bytes))
    print("corpus: %d documents, %d bytes -> %s" % (docs, n, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
