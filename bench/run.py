#!/usr/bin/env python3
"""pipe's tokenizer benchmarks against its peers, side by side in one run.

    bash bench/run.sh [encode] [threads] [train] [--repeat N] ...   (builds, installs peers, runs)
    PIPE_PEER_DIR=$PWD/.peers .peers/venv/bin/python bench/run.py [PART...]  (after a build)

Parts (all by default): encode (one thread, pipe vs tiktoken), threads (pipe
--threads 2 vs 1), train (pipe vs HF tokenizers and sentencepiece). Prints one
markdown table; every ratio is how many times better pipe does than the peer
(more MB/s, fewer seconds, less memory), except bytes per token (pipe / HF).
The numbers behind it go to bench/out/results.json.
"""
import argparse
import datetime
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proc  # noqa: E402

PARTS = ("encode", "threads", "train")


def encode_rows(r):
    rows = []
    what = {
        "pipe CLI process": "1 thread, MB/s: pipe CLI whole process",
        "pipe CLI - start-up": "1 thread, MB/s: pipe CLI less start-up",
        "Go bench, in-process": "1 thread, MB/s: in-process (Go bench), first 4 MiB",
    }
    ids = {c["encoding"]: c for c in r["checks"]}
    for x in r["rows"]:
        c = ids[x["encoding"]]
        check = ""
        if x["what"] == "pipe CLI process":
            check = "ids equal, %d tokens" % c["tokens"] if c["equal"] else "IDS DIFFER (%d vs %d tokens)" % (
                c["pipe_tokens"], c["tokens"])
            check += "; CPU s %.2f vs %.2f (%.2fx)" % (x["peer_cpu"], x["pipe_cpu"], x["peer_cpu"] / x["pipe_cpu"])
        rows.append(("encode " + x["encoding"], what[x["what"]], "tiktoken " + r["tiktoken"], x["peer_mbs"],
                     x["pipe_mbs"], x["pipe_mbs"] / x["peer_mbs"], ">= 3x", x["pipe_mbs"] >= 3 * x["peer_mbs"], check))
    for j in r["js"]:
        rows.append(("encode " + j["encoding"], "1 thread, MB/s: pipe CLI whole process", j["peer"], j["peer_mbs"],
                     j["pipe_mbs"], j["pipe_mbs"] / j["peer_mbs"], "orientation", None,
                     "ids equal" if j["ids_equal"] else "ids differ from tiktoken's (%d tokens)" % j["tokens"]))
    return rows


def threads_rows(r):
    rows = []
    for x in r["rows"]:
        mb = x["bytes"] / 1e6
        rows.append(("encode " + x["encoding"], "%.0f MB, wall s: --threads 2 (pipe) vs 1 (peer)" % mb, "pipe --threads 1",
                     x["wall1"], x["wall2"], x["speedup"], "~2x", x["speedup"] >= 1.8,
                     "CPU s %.2f vs %.2f; 2 threads got %.0f%% CPU" % (x["cpu1"], x["cpu2"], 100 * x["cpu2"] / x["wall2"])))
        rows.append(("encode " + x["encoding"], "encode phase s (pipe's log): threads 2 vs 1", "pipe --threads 1",
                     x["phase1"], x["phase2"], x["phase_speedup"], "~2x", x["phase_speedup"] >= 1.8, ""))
    return rows


def train_rows(r):
    rows = []
    name = {"hf": r["peers"]["hf"], "spm": r["peers"]["spm"] + " (spm_train bpe)"}
    part = "train %d, %.0f MB" % (r["vocab"], r["train_bytes"] / 1e6)
    p = r["pipe"]
    for k in ("hf", "spm"):
        x = r[k]
        if x is None:
            continue
        rows.append((part, "process wall s", name[k], x["wall"], p["wall"], x["wall"] / p["wall"], ">= 5x",
                     x["wall"] >= 5 * p["wall"], ""))
        rows.append((part, "process CPU s", name[k], x["cpu"], p["cpu"], x["cpu"] / p["cpu"], "", None, ""))
        rows.append((part, "peak RSS MiB", name[k], x["rss_mib"], p["rss_mib"], x["rss_mib"] / p["rss_mib"], "", None, ""))
    own = r["own_seconds"]
    rows.append((part, "training s by own timers (input read)", name["hf"], own["hf"], own["pipe"],
                 own["hf"] / own["pipe"], "", None, ""))
    b = r["bytes_per_token"]
    rows.append((part, "held-out bytes/token (%.1f MB)" % (r["heldout_bytes"] / 1e6), name["hf"], b["hf"], b["pipe"],
                 b["pipe"] / b["hf"], "within 1%", abs(b["pipe"] / b["hf"] - 1) <= 0.01,
                 "HF on pipe's export: %s tokens as pipe; vocab overlap %.2f%%" % (
                     "same" if r["hf_split_same"] else "NOT the same", 100 * r["vocab_overlap"])))
    if r["spm"]:
        rows.append((part, "held-out bytes/token (spm: newlines dropped)", name["spm"], b["spm"], b["pipe"],
                     b["pipe"] / b["spm"], "orientation", None, ""))
    return rows


def fmt(v):
    if isinstance(v, float):
        return "%.3f" % v if v < 10 else "%.1f" % v
    return str(v)


def table(rows):
    head = ("part", "measure", "peer", "peer value", "pipe value", "ratio", "target", "met", "check")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for part, what, peer, pv, mv, ratio, target, met, check in rows:
        ok = "" if met is None else ("yes" if met else "**no**")
        lines.append("| %s | %s | %s | %s | %s | %.2fx | %s | %s | %s |" % (
            part, what, peer, fmt(pv), fmt(mv), ratio, target, ok, check))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", metavar="PART", help="encode, threads, train (default: all)")
    ap.add_argument("--pipe", default="bench/out/pipe", help="the pipe binary")
    ap.add_argument("--bpe-test", default="bench/out/bpe.test", help="the bpe package's test binary (go test -c)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions of each encode measurement")
    ap.add_argument("--train-repeat", type=int, default=3, help="repetitions of pipe's and HF's training")
    ap.add_argument("--spm-repeat", type=int, default=1, help="repetitions of sentencepiece's training (~1 min each; 0: skip it)")
    ap.add_argument("--js-passes", type=int, default=1, help="passes of the node peers (0: skip them)")
    a = ap.parse_args()
    parts = a.parts or PARTS
    for p in parts:
        if p not in PARTS:
            ap.error("unknown part %r: want %s" % (p, ", ".join(PARTS)))
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    os.makedirs(os.path.join("bench", "out"), exist_ok=True)
    os.environ.setdefault("PIPE_PEER_DIR", os.path.abspath(".peers"))

    import encode
    import train

    results = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), machine=platform.node(),
                   cpus=os.cpu_count(), load_start=proc.load())
    rows = []
    if "encode" in parts:
        results["encode"] = encode.one_thread(a.pipe, a.bpe_test, a.repeat, a.js_passes)
        rows += encode_rows(results["encode"])
    if "threads" in parts:
        results["threads"] = encode.two_threads(a.pipe, a.repeat)
        rows += threads_rows(results["threads"])
    if "train" in parts:
        results["train"] = train.train(a.pipe, a.train_repeat, a.spm_repeat)
        rows += train_rows(results["train"])
    results["load_end"] = proc.load()
    with open(os.path.join("bench", "out", "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("%s, %d CPUs, load average (1 min) %.2f at start, %.2f at end" % (
        results["date"], results["cpus"], results["load_start"], results["load_end"]))
    print(table(rows))
    for part in PARTS:
        if part in results:
            lo, hi = results[part]["load"]
            print("load average during %s: %.2f to %.2f" % (part, lo, hi))


if __name__ == "__main__":
    main()
