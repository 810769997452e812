#!/usr/bin/env python3
"""datatrove 0.10.1's URLFilter, the peer of clean/urlfilter.go.

Usage:
  urlfilter_peer.py lists DIR [--every-domain N] [--every-url M]
      Writes into DIR the lists that datatrove ships (its assets): every Nth
      line of the domains file and every Mth of the urls file of its
      blocklist archive (domains.txt, urls.txt: whole, they hold 4.6 million
      domains and 19,586 URLs) and
      banned_words.txt, banned_subwords.txt, soft_banned_words.txt as they are.
  urlfilter_peer.py filter DIR < urls.jsonl > verdicts.jsonl
      One JSON string (a URL) per input line; per line the verdict of a
      URLFilter built from the lists in DIR (use_integrated_lists=False, the
      lists given as its extra_* arguments): [keep, reason or null].
      tldextract uses the Public Suffix List snapshot it ships (no network),
      with its default of leaving the private section out.

scripts/peers.sh installs datatrove, tldextract, fasteners and pyahocorasick
in $PIPE_PEER_DIR/venv.
"""
import argparse
import io
import json
import os
import shutil
import sys
import tarfile

LISTS = ["domains.txt", "urls.txt", "banned_words.txt", "banned_subwords.txt", "soft_banned_words.txt"]


def cmd_lists(args):
    from datatrove.utils._import_utils import ASSETS_PATH

    os.makedirs(args.dir, exist_ok=True)
    with tarfile.open(os.path.join(ASSETS_PATH, "url_filterblacklistsv0_3_0.tar.gz"), "r:gz") as tar:
        for member, every in (("domains", args.every_domain), ("urls", args.every_url)):
            src = io.TextIOWrapper(tar.extractfile(member), encoding="utf-8")
            with open(os.path.join(args.dir, member + ".txt"), "w", encoding="utf-8") as out:
                for i, line in enumerate(src):
                    if i % every == 0:
                        out.write(line)
    for name in LISTS[2:]:
        shutil.copyfile(os.path.join(ASSETS_PATH, name), os.path.join(args.dir, name))


def cmd_filter(args):
    from datatrove.data import Document
    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    def lines(name):
        with open(os.path.join(args.dir, name), encoding="utf-8") as f:
            return f.readlines()

    f = URLFilter(
        extra_domains=lines("domains.txt"),
        extra_urls=lines("urls.txt"),
        banned_words=lines("banned_words.txt"),
        banned_subwords=lines("banned_subwords.txt"),
        soft_banned_words=lines("soft_banned_words.txt"),
        use_integrated_lists=False,
    )
    f.tldextractor = TLDExtract(cache_dir=None, suffix_list_urls=())
    out = sys.stdout
    for line in sys.stdin:
        url = json.loads(line)
        res = f.filter(Document(text="", id="", metadata={"url": url}))
        if isinstance(res, tuple):
            out.write(json.dumps([bool(res[0]), res[1]]) + "\n")
        else:
            out.write(json.dumps([bool(res), None]) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lists")
    p.add_argument("dir")
    p.add_argument("--every-domain", type=int, default=1)
    p.add_argument("--every-url", type=int, default=1)
    p = sub.add_parser("filter")
    p.add_argument("dir")
    args = ap.parse_args()
    {"lists": cmd_lists, "filter": cmd_filter}[args.cmd](args)


if __name__ == "__main__":
    main()
