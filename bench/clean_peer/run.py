#!/usr/bin/env python3
"""pipe clean against datatrove's pipeline of the same steps, on the same WARC file, in one run.

    bash bench/clean_peer/run.sh [--repeat N]            (builds pipe, installs the peers, runs this)
    PIPE_PEER_DIR=$PWD/.peers .peers/venv/bin/python bench/clean_peer/run.py [--repeat N]   (after a build)

The input is a WARC file made from the 181 real news and blog pages of the
extraction benchmark (../shared/bench/extraction), one gzip member per
response record, with each page's real URL, written by warcio as a crawler
would (Content-Type text/html, WARC-Identified-Payload-Type as Common Crawl
sets it). The URL filter's lists are a sample of those datatrove ships (every
100th of its 4.6 million domains, all 19,586 URLs, its banned words, subwords
and soft words; scripts/urlfilter_peer.py lists), given to both as files.

The steps, FineWeb's order: WARC reader, URL filter, extraction, language
(en, 0.65), Gopher repetition, Gopher quality, C4, FineWeb, MinHash dedup.
datatrove runs them as bench/clean_peer/datatrove_clean.py does (its five
stages, one task and one worker each); pipe as one command with --threads 1
and GOMAXPROCS=1. Runs alternate, pipe first; each repeats N times and the
fastest counts (proc.best). Both are timed as whole processes (bench/proc.py:
wall, CPU of the process and its children, peak RSS); each also reports its
own pipeline time without start-up (pipe's stats "seconds"; datatrove's
stages, imports and set-up excluded).

Prints a markdown table and writes bench/out/clean-results.json.
"""
import argparse
import datetime
import glob
import gzip
import io
import json
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import proc  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "bench", "out", "clean")
PIPE = os.path.join(ROOT, "bench", "out", "pipe")
PY = sys.executable
STEPS = "url,extract,lang,gopher_repetition,gopher_quality,c4,fineweb,dedup"
LISTS = {"DomainsFile": "domains.txt", "URLsFile": "urls.txt", "BannedWordsFile": "banned_words.txt",
         "BannedSubwordsFile": "banned_subwords.txt", "SoftBannedWordsFile": "soft_banned_words.txt"}


def build_warc(pages_dir, path):
    """The benchmark's pages as a WARC file; returns (records, HTML bytes)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(os.path.join(pages_dir, "ground-truth.json"), encoding="utf-8") as f:
        truth = json.load(f)
    n, size = 0, 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        w = WARCWriter(f, gzip=True)
        for key in sorted(truth):
            with gzip.open(os.path.join(pages_dir, "html", key + ".html.gz")) as g:
                html = g.read()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            rec = w.create_warc_record(truth[key]["url"], "response", payload=io.BytesIO(html), http_headers=http,
                                       warc_headers_dict={"WARC-Identified-Payload-Type": "text/html"})
            w.write_record(rec)
            n, size = n + 1, size + len(html)
    os.replace(path + ".tmp", path)
    return n, size


def read_urls(paths):
    urls = []
    for p in paths:
        with (gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")) as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    urls.append(d.get("url") or d.get("metadata", {}).get("url"))
    return urls


def run_pipe(warc, lists, work):
    stats = os.path.join(work, "stats.json")
    out = os.path.join(work, "docs.jsonl")
    cmd = [PIPE, "clean", "--threads", "1", "--steps", STEPS, "--dedup", "minhash", "--lang", "en", "--stats", stats]
    for field, name in LISTS.items():
        cmd += ["--set", "url.%s=%s" % (field, os.path.join(lists, name))]
    env = dict(os.environ, GOMAXPROCS="1")
    r = proc.run(cmd + [warc], stdout=out, env=env)
    with open(stats, encoding="utf-8") as f:
        st = json.load(f)
    return {"wall": r.wall, "cpu": r.cpu, "rss_mib": r.rss_mib, "pipeline_s": st["seconds"], "written": st["written"],
            "read": st["read"]["in"], "steps": {s["name"]: s for s in st["steps"]}, "urls": read_urls([out])}


def run_datatrove(warc_dir, lists, work):
    script = os.path.join(ROOT, "bench", "clean_peer", "datatrove_clean.py")
    r = proc.run([PY, script, "--warc-dir", warc_dir, "--lists", lists, "--work", work], stdout=subprocess.PIPE)
    res = json.loads(r.stdout)
    urls = read_urls(sorted(glob.glob(os.path.join(work, "out", "*.jsonl*"))))
    steps = {}
    for s in res["stats"]["filter"]:
        steps[s["name"]] = {"seconds": s["time_stats"]["total"], "stats": s["stats"]}
    return {"wall": r.wall, "cpu": r.cpu, "rss_mib": r.rss_mib, "pipeline_s": res["seconds"],
            "setup_s": res["imports_and_setup_seconds"], "stage_s": res["stage_seconds"], "written": len(urls),
            "steps": steps, "urls": urls}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pages", default=os.path.join(ROOT, "..", "shared", "bench", "extraction"))
    ap.add_argument("--every-domain", type=int, default=100)
    args = ap.parse_args()

    warc_dir = os.path.join(OUT, "warc")
    warc = os.path.join(warc_dir, "pages.warc.gz")
    records, html_bytes = build_warc(args.pages, warc)
    lists = os.path.join(OUT, "lists")
    subprocess.run([PY, os.path.join(ROOT, "scripts", "urlfilter_peer.py"), "lists", lists,
                    "--every-domain", str(args.every_domain), "--every-url", "1"], check=True)

    load0 = proc.load()
    pipes, dts = [], []
    for i in range(args.repeat):
        work = os.path.join(OUT, "pipe-%d" % i)
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        pipes.append(run_pipe(warc, lists, work))
        work = os.path.join(OUT, "datatrove-%d" % i)
        shutil.rmtree(work, ignore_errors=True)
        dts.append(run_datatrove(warc_dir, lists, work))
        print("run %d: pipe %.2f s, datatrove %.2f s" % (i, pipes[-1]["wall"], dts[-1]["wall"]), file=sys.stderr)
    load1 = proc.load()
    p = min(pipes, key=lambda r: r["wall"])
    d = min(dts, key=lambda r: r["wall"])

    mb = html_bytes / 1e6
    both = set(p["urls"]) & set(d["urls"])
    rows = [
        ("documents/s, whole process (wall)", records / d["wall"], records / p["wall"]),
        ("MB/s of HTML, whole process (wall)", mb / d["wall"], mb / p["wall"]),
        ("documents/s, pipeline only (start-up excluded)", records / d["pipeline_s"], records / p["pipeline_s"]),
        ("documents per CPU second (process and children)", records / d["cpu"], records / p["cpu"]),
    ]
    print("%d WARC records, %.1f MB of HTML; best of %d runs each; load %.2f -> %.2f\n" % (records, mb, args.repeat, load0, load1))
    print("| measure | datatrove 0.10.1 | pipe | ratio (pipe / datatrove) | target |")
    print("|---|---|---|---|---|")
    for what, dv, pv in rows:
        print("| %s | %.2f | %.1f | %.1fx | %s |" % (what, dv, pv, pv / dv, ">= 20x" if what.startswith("documents/s, whole") else ""))
    print("| peak RSS MiB | %.0f | %.0f | %.1fx less | |" % (d["rss_mib"], p["rss_mib"], d["rss_mib"] / p["rss_mib"]))
    print("| documents kept | %d | %d | %d kept by both | |" % (d["written"], p["written"], len(both)))
    print("\nall runs, wall s: pipe %s; datatrove %s" % (
        ", ".join("%.2f" % r["wall"] for r in pipes), ", ".join("%.2f" % r["wall"] for r in dts)))
    print("datatrove's stages (s): %s; imports and set-up %.2f s" % (
        ", ".join("%s %.2f" % kv for kv in d["stage_s"].items()), d["setup_s"]))
    print("datatrove's steps in stage 1 (s): %s" % ", ".join(
        "%s %.2f" % (name.split(":")[-1].strip(), s["seconds"]) for name, s in d["steps"].items()))
    print("pipe's steps (s, summed over its one thread): %s" % ", ".join(
        "%s %.2f" % (name, s["seconds"]) for name, s in p["steps"].items()))

    res = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
        "cpus": os.cpu_count(), "load": [load0, load1], "records": records, "html_bytes": html_bytes,
        "repeat": args.repeat, "pipe": pipes, "datatrove": dts, "kept_by_both": len(both),
    }
    with open(os.path.join(ROOT, "bench", "out", "clean-results.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
