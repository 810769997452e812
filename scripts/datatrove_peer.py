#!/usr/bin/env python3
"""The datatrove peer for pipe's quality filters (clean/gopher.go, c4.go,
fineweb.go, pii.go) and their word tokenizer (clean/words*.go).

datatrove 0.10.1 splits English text into words with spaCy's blank English
tokenizer (spacy.blank("en"): no model, only rules and exceptions) and into
sentences with spaCy's rule-based sentencizer. scripts/peers.sh installs
both in $PIPE_PEER_DIR/venv.

Usage:
  datatrove_peer.py filters < docs.jsonl > results.jsonl
      One line per document, in order: {"id", "gopher_repetition": [keep,
      reason], "gopher_quality": [...], "c4": [...], "c4_text": text after
      C4 (kept documents), "fineweb": [...], "pii": text after the PII
      formatter, "words": [count, sha1 of the words joined by NUL]}.
      Each filter sees the document as it came in (the filters are run side
      by side, not chained); one PII formatter runs over all documents in
      order, as in a datatrove pipeline, so its replacements cycle the same.
      FineWeb runs with char_duplicates_ratio from --fineweb-dup (0.01).
  datatrove_peer.py words < docs.jsonl > words.jsonl
      The words of each document (datatrove's split_into_words), as a JSON list.
  datatrove_peer.py pii < docs.jsonl > texts.jsonl
      The text of each document after one PIIFormatter, as a JSON string.
  datatrove_peer.py bench [--rounds N] < docs.jsonl
      Documents per second of one process running datatrove's pipeline of the
      same steps (Gopher repetition, Gopher quality, C4, FineWeb, PII) on each
      document in turn; prints {"docs": n, "seconds": s, "docs_per_s": r}.
  datatrove_peer.py tables | gofmt > clean/words_tables.go
      The character classes, units and tokenizer exceptions of spaCy's English
      tokenizer, and datatrove's punctuation sets, as Go tables (facts only:
      which code point is in which class). clean/words.go documents them.
"""
import argparse
import hashlib
import json
import re
import sys
import time
import unicodedata


def read_docs(f):
    from datatrove.data import Document

    for line in f:
        line = line.strip()
        if line:
            d = json.loads(line)
            yield Document(text=d["text"], id=d["id"], metadata={})


def verdict(res):
    if isinstance(res, tuple):
        return [bool(res[0]), res[1]]
    return [bool(res), None]


def cmd_filters(args):
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.utils.text import split_into_words

    rep, qual, c4 = GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter()
    fw = FineWebQualityFilter(char_duplicates_ratio=args.fineweb_dup)
    pii = PIIFormatter()
    out = sys.stdout
    for doc in read_docs(sys.stdin):
        text = doc.text
        r = {"id": doc.id}
        r["gopher_repetition"] = verdict(rep.filter(Document(text=text, id=doc.id)))
        r["gopher_quality"] = verdict(qual.filter(Document(text=text, id=doc.id)))
        d = Document(text=text, id=doc.id)
        r["c4"] = verdict(c4.filter(d))
        r["c4_text"] = d.text if r["c4"][0] else None
        try:
            r["fineweb"] = verdict(fw.filter(Document(text=text, id=doc.id)))
        except ZeroDivisionError:
            r["fineweb"] = [None, "ZeroDivisionError"]
        r["pii"] = pii.format(text)
        words = split_into_words(text)
        r["words"] = [len(words), hashlib.sha1("\0".join(words).encode("utf-8", "surrogatepass")).hexdigest()]
        out.write(json.dumps(r, ensure_ascii=False) + "\n")


def cmd_words(args):
    from datatrove.utils.text import split_into_words

    for doc in read_docs(sys.stdin):
        sys.stdout.write(json.dumps(split_into_words(doc.text), ensure_ascii=False) + "\n")


def cmd_pii(args):
    from datatrove.pipeline.formatters import PIIFormatter

    pii = PIIFormatter()
    for doc in read_docs(sys.stdin):
        sys.stdout.write(json.dumps(pii.format(doc.text), ensure_ascii=False) + "\n")


def cmd_bench(args):
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.utils.text import split_into_words

    docs = list(read_docs(sys.stdin))
    texts = [d.text for d in docs]
    steps = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter(), PIIFormatter()]
    # Warm up (spaCy's tokenizer builds its tables on first use).
    split_into_words("warm up the tokenizer.")
    n = 0
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for doc, text in zip(docs, texts):
            doc.text = text
            data = iter([doc])
            for step in steps:
                data = step.run(data)
            for _ in data:
                pass
            n += 1
    dt = time.perf_counter() - t0
    print(json.dumps({"docs": n, "seconds": dt, "docs_per_s": n / dt}))


# --- tables -----------------------------------------------------------------

# One bit per class; clean/words.go names them.
CLASSES = [
    ("cSpace", "Python's str.isspace: where spaCy and str.split cut"),
    ("cAlpha", "spaCy's ALPHA"),
    ("cLower", "spaCy's ALPHA_LOWER"),
    ("cUpper", "spaCy's ALPHA_UPPER"),
    ("cQuote", "spaCy's CONCAT_QUOTES"),
    ("cIcon", "spaCy's ICONS (symbols, emoji)"),
    ("cPrefix", "a one-character prefix of spaCy's TOKENIZER_PREFIXES"),
    ("cSuffix", "a one-character suffix of TOKENIZER_SUFFIXES that needs no look-behind"),
    ("cDotAfter", "may stand before a suffix '.' (the (?<=[0-9{al}%²\\-\\+{q}{p}]) rule)"),
    ("cCurrency", "a one-character currency symbol (suffix after a digit)"),
    ("cPyAlpha", "Python's str.isalpha"),
    ("cPyWord", "Python's re \\w (str.isalnum or '_')"),
    ("cPyDecimal", "Python's re \\d (str.isdecimal)"),
    ("cUniPunct", "Unicode category P* (spaCy's is_punct)"),
    ("cPunctuation", "datatrove's PUNCTUATION_SET"),
    ("cTerminal", "datatrove's TERMINAL_PUNCTUATION"),
    ("cSentEnd", "spaCy's Sentencizer.default_punct_chars"),
    ("cLineBreak", "where Python's str.splitlines cuts"),
]


def cmd_tables(args):
    import spacy
    from spacy.lang import char_classes as cc
    from spacy.lang import punctuation as sp
    from spacy.pipeline import Sentencizer
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    N = 0x110000
    alltext = "".join(chr(c) for c in range(N))
    masks = [0] * N
    bit = {name: 1 << i for i, (name, _) in enumerate(CLASSES)}

    def by_regex(name, cls):
        for m in re.finditer("(?:%s)+" % cls, alltext):
            for c in range(m.start(), m.end()):
                masks[c] |= bit[name]

    def by_pred(name, pred):
        for c in range(N):
            if pred(chr(c)):
                masks[c] |= bit[name]

    by_regex("cAlpha", "[%s]" % cc.ALPHA)
    by_regex("cLower", "[%s]" % cc.ALPHA_LOWER)
    by_regex("cUpper", "[%s]" % cc.ALPHA_UPPER)
    by_regex("cQuote", "[%s]" % cc.CONCAT_QUOTES)
    by_regex("cIcon", "[%s]" % cc.ICONS)
    dot_rules = [s for s in sp.TOKENIZER_SUFFIXES if s.startswith("(?<=[0-9") and s.endswith(r"])\.")]
    assert len(dot_rules) == 1, dot_rules
    by_regex("cDotAfter", dot_rules[0][len("(?<=") : -len(r")\.")])
    by_regex("cCurrency", "|".join(re.escape(c) for c in cc.LIST_CURRENCY if len(c.replace("\\", "")) == 1))
    by_pred("cSpace", str.isspace)
    by_pred("cPyAlpha", str.isalpha)
    by_pred("cPyWord", lambda ch: ch.isalnum() or ch == "_")
    by_pred("cPyDecimal", str.isdecimal)
    by_pred("cUniPunct", lambda ch: unicodedata.category(ch).startswith("P"))
    by_pred("cLineBreak", lambda ch: len(("a" + ch + "a").splitlines()) == 2)
    for ch in PUNCTUATION_SET:
        masks[ord(ch)] |= bit["cPunctuation"]
    for ch in TERMINAL_PUNCTUATION:
        assert len(ch) == 1
        masks[ord(ch)] |= bit["cTerminal"]
    for ch in Sentencizer.default_punct_chars:
        assert len(ch) == 1
        masks[ord(ch)] |= bit["cSentEnd"]
    # One-character prefixes and suffixes: what the compiled searches find in
    # the character alone ('+' and '.' have context rules handled in Go).
    for c in range(N):
        ch = chr(c)
        if 0xD800 <= c < 0xE000:
            continue
        m = tok.prefix_search(ch)
        if m and m.end() == 1:
            masks[c] |= bit["cPrefix"]
        m = tok.suffix_search(ch)
        if m and m.start() == 0:
            masks[c] |= bit["cSuffix"]

    ranges = []
    start = 0
    for c in range(1, N + 1):
        if c == N or masks[c] != masks[start]:
            if masks[start]:
                ranges.append((start, c - 1, masks[start]))
            start = c

    units = sorted(set(cc.UNITS.split("|")), key=lambda u: (-len(u), u))
    currency = sorted({c.replace("\\", "") for c in cc.LIST_CURRENCY}, key=lambda u: (-len(u), u))
    w = sys.stdout.write
    w("// Code generated by scripts/datatrove_peer.py tables; DO NOT EDIT.\n\n")
    w("// spaCy %s (spacy.blank(\"en\")) and datatrove's punctuation sets.\n\n" % spacy.__version__)
    w("package clean\n\n")
    w("// Character classes, one bit each; see runeClass.\n")
    w("const (\n")
    for i, (name, doc) in enumerate(CLASSES):
        w("\t%s = 1 << %d // %s\n" % (name, i, doc))
    w(")\n\n")
    w("// runeClasses lists the code points that are in some class, as sorted,\n")
    w("// disjoint ranges {lo, hi, classes}.\n")
    w("var runeClasses = [...]runeRange{\n")
    for lo, hi, m in ranges:
        w("\t{0x%X, 0x%X, 0x%X},\n" % (lo, hi, m))
    w("}\n\n")
    w("// spacyUnits are the units that spaCy splits off a number (\"5km\"), longest first.\n")
    w("var spacyUnits = []string{%s}\n\n" % ", ".join(json.dumps(u, ensure_ascii=False) for u in units))
    w("// spacyCurrency are the currency symbols that spaCy splits off a number, longest first.\n")
    w("var spacyCurrency = []string{%s}\n\n" % ", ".join(json.dumps(u, ensure_ascii=False) for u in currency))
    w("// spacyExceptions are the English tokenizer's special cases: a string\n")
    w("// and the byte lengths of the tokens it becomes (\"don't\": do, n't).\n")
    w("var spacyExceptions = map[string][]uint8{\n")
    for k in sorted(tok.rules):
        pieces = [d.get(65, d.get("ORTH")) for d in tok.rules[k]]
        assert "".join(pieces) == k
        w("\t%s: {%s},\n" % (go_string(k), ", ".join(str(len(p.encode())) for p in pieces)))
    w("}\n")


def go_string(s):
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable() and ch not in "\u00a0":
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("filters")
    f.add_argument("--fineweb-dup", type=float, default=0.01)
    sub.add_parser("words")
    sub.add_parser("pii")
    b = sub.add_parser("bench")
    b.add_argument("--rounds", type=int, default=1)
    sub.add_parser("tables")
    args = ap.parse_args()
    {"filters": cmd_filters, "words": cmd_words, "pii": cmd_pii, "bench": cmd_bench, "tables": cmd_tables}[args.cmd](args)


if __name__ == "__main__":
    main()
