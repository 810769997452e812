#!/usr/bin/env python3
"""Writes bpe/unicode_tables.go: the code points that tiktoken's regex engine
puts in a character class and Go's unicode tables do not.

tiktoken 0.14 matches its patterns with Rust's regex crates (fancy-regex over
regex-syntax), whose Unicode tables are newer than those of Go's unicode
package, which regexp2 and our scanners read. For each class the named
patterns use (\\p{L}, \\p{Lu}, \\p{Lt}, \\p{Ll}, \\p{Lm}, \\p{Lo}, \\p{M},
\\p{N} and \\s), this script

  1. asks tiktoken which code points are in the class: an Encoding whose
     pattern is the class alone (say \\p{Lu}) and whose vocabulary is the 256
     single bytes encodes the text of every code point (surrogates left out).
     tiktoken drops the text that no match covers, so the ids, read as bytes,
     are the UTF-8 of exactly the code points of the class;
  2. asks Go the same, with a small program run by `go run`;
  3. writes the code points in tiktoken's class but not in Go's, as ranges.

It refuses (exits with an error) where the Go side would not be right: a code
point in Go's class but not in tiktoken's (the Go side only adds), a change to
\\s, sub-categories that do not add up to \\p{L}, or a change to the case
folding of the contraction letters (the scanners hard-code it).

Usage, from anywhere (needs tiktoken, and go on the PATH):

    python3 bpe/gen_unicode.py          # rewrites bpe/unicode_tables.go
    python3 bpe/gen_unicode.py --check  # exits 1 if the file is not what it would write
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import tiktoken

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "unicode_tables.go")

# Each class: the name \p{..} and Go's unicode package give it, and the regex
# that matches one of its characters.
CLASSES = [
    ("L", r"\p{L}"), ("Lu", r"\p{Lu}"), ("Lt", r"\p{Lt}"), ("Ll", r"\p{Ll}"),
    ("Lm", r"\p{Lm}"), ("Lo", r"\p{Lo}"), ("M", r"\p{M}"), ("N", r"\p{N}"),
    ("White_Space", r"\s"),
]

# A letter first assigned in each Unicode version after Go's 15.0.0: the
# newest of them that tiktoken counts as a letter names its version.
SENTINELS = [
    ("15.1.0", 0x2EBF0),  # CJK Unified Ideographs Extension I
    ("16.0.0", 0x13460),  # Egyptian Hieroglyphs Extended-A
    ("17.0.0", 0x323B0),  # CJK Unified Ideographs Extension J
]

# Prints, as JSON, Go's unicode.Version and each class as [lo, hi] ranges.
GO_DUMP = """package main

import (
	"encoding/json"
	"os"
	"unicode"
)

func main() {
	tables := map[string]*unicode.RangeTable{
		"L": unicode.L, "Lu": unicode.Lu, "Lt": unicode.Lt, "Ll": unicode.Ll, "Lm": unicode.Lm,
		"Lo": unicode.Lo, "M": unicode.M, "N": unicode.N, "White_Space": unicode.White_Space,
	}
	classes := map[string][][2]rune{}
	for name, tab := range tables {
		spans := [][2]rune{}
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if !unicode.Is(tab, r) {
				continue
			}
			if n := len(spans); n > 0 && spans[n-1][1] == r-1 {
				spans[n-1][1] = r
			} else {
				spans = append(spans, [2]rune{r, r})
			}
		}
		classes[name] = spans
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"version": unicode.Version, "classes": classes})
}
"""

CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
BYTES = {bytes([b]): b for b in range(256)}


def fail(msg):
    sys.exit("gen_unicode: " + msg)


def tiktoken_class(regex, text="".join(map(chr, CODE_POINTS))):
    """The code points of text that tiktoken matches with regex."""
    enc = tiktoken.Encoding("probe", pat_str=regex, mergeable_ranks=BYTES, special_tokens={})
    return set(map(ord, bytes(enc.encode_ordinary(text)).decode("utf-8")))


def regex_syntax_version():
    """The regex-syntax crate compiled into tiktoken, from the paths its
    panic messages leave in the library."""
    pkg = os.path.dirname(tiktoken.__file__)
    for f in sorted(os.listdir(pkg)):
        if f.startswith("_tiktoken"):
            with open(os.path.join(pkg, f), "rb") as lib:
                m = re.search(rb"regex-syntax-([0-9]+\.[0-9]+\.[0-9]+)", lib.read())
            if m:
                return m.group(1).decode()
    return "unknown"


def go_classes():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "go.mod"), "w") as f:
            f.write("module dump\n\ngo 1.26\n")
        with open(os.path.join(d, "main.go"), "w") as f:
            f.write(GO_DUMP)
        env = dict(os.environ, GOWORK="off", GOFLAGS="")
        out = subprocess.run(["go", "run", "."], cwd=d, env=env, check=True,
                             capture_output=True, text=True).stdout
    dump = json.loads(out)
    classes = {}
    for name, spans in dump["classes"].items():
        classes[name] = {c for lo, hi in spans for c in range(lo, hi + 1)}
    return dump["version"], classes


def spans(points):
    """The sorted [lo, hi] ranges of a set of code points."""
    out = []
    for c in sorted(points):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def go_table(points):
    """A unicode.RangeTable literal (stride 1) holding points."""
    r16 = [s for s in spans(points) if s[1] <= 0xFFFF]
    r32 = [s for s in spans(points) if s[0] > 0xFFFF]
    if len(r16) + len(r32) != len(spans(points)):
        fail("a range crosses U+FFFF")  # none does; splitting it is not written
    lines = ["{"]
    for field, typ, rs in (("R16", "Range16", r16), ("R32", "Range32", r32)):
        if rs:
            lines.append("\t%s: []unicode.%s{" % (field, typ))
            lines += ["\t\t{0x%04x, 0x%04x, 1}," % (lo, hi) for lo, hi in rs]
            lines.append("\t},")
    return "\n".join(lines + ["}"])


def generate():
    go_version, go = go_classes()
    tk = {name: tiktoken_class(regex) for name, regex in CLASSES}

    version = "15.0.0"
    for v, cp in SENTINELS:
        if cp in tk["L"]:
            version = v
    syntax = regex_syntax_version()

    added = {}
    for name, _ in CLASSES:
        if go[name] - tk[name]:
            fail("%d code points are in Go's %s but not tiktoken's, starting U+%04X; "
                 "the Go side only adds" % (len(go[name] - tk[name]), name, min(go[name] - tk[name])))
        if tk[name] - go[name]:
            added[name] = tk[name] - go[name]
    if "White_Space" in added:
        fail("tiktoken's \\s differs from Go's; the Go side does not patch \\s")
    if tk["L"] != tk["Lu"] | tk["Lt"] | tk["Ll"] | tk["Lm"] | tk["Lo"]:
        fail("tiktoken's \\p{L} is not the union of Lu, Lt, Ll, Lm and Lo")
    folded = "".join(sorted(map(chr, tiktoken_class(r"(?i:[sdmtlvre])"))))
    if folded != "DELMRSTVdelmrstv\u017f":
        fail("tiktoken folds the contraction letters to %r; scan.go's contraction expects DELMRSTVdelmrstvſ" % folded)

    counts = ["//\t%-2s %5d code points in %2d ranges" % (n, len(added[n]), len(spans(added[n])))
              for n, _ in CLASSES if n in added]
    src = [
        "// Code generated by bpe/gen_unicode.py; DO NOT EDIT.",
        "",
        "package bpe",
        "",
        'import "unicode"',
        "",
        "// The Unicode versions of the character classes: tiktoken %s matches with" % tiktoken.__version__,
        "// Rust's regex-syntax %s, whose tables are Unicode %s; Go's unicode" % (syntax, version),
        "// package, which regexp2 and the scanners start from, is Unicode %s." % go_version,
        "const (",
        '\ttiktokenUnicodeVersion = "%s"' % version,
        '\tgoUnicodeVersion = "%s"' % go_version,
        ")",
        "",
        "// unicodeAdded maps a class, named as in \\p{..}, to the code points that",
        "// tiktoken puts in it and Go's table of the same name does not:",
        "//",
    ] + counts + [
        "//",
        "// The classes it leaves out (%s) are the same in both (White_Space" % ", ".join(
            n for n, _ in CLASSES if n not in added),
        "// is \\s), and no code point is in one of Go's tables but not in tiktoken's.",
        "var unicodeAdded = map[string]*unicode.RangeTable{",
    ]
    for name, _ in CLASSES:
        if name in added:
            src.append('"%s": %s,' % (name, go_table(added[name])))
    src.append("}")
    fmt = subprocess.run(["gofmt"], input="\n".join(src) + "\n", check=True,
                         capture_output=True, text=True)
    return fmt.stdout


def main():
    src = generate()
    if sys.argv[1:] == ["--check"]:
        with open(OUT) as f:
            if f.read() != src:
                fail("%s is stale: rerun bpe/gen_unicode.py" % OUT)
        return
    if sys.argv[1:]:
        fail("usage: gen_unicode.py [--check]")
    with open(OUT, "w") as f:
        f.write(src)


if __name__ == "__main__":
    main()
