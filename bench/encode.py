"""Encoding: pipe against tiktoken on one thread, and pipe on two threads
against one.

One thread (part "encode"), on .peers/corpus/docs.jsonl (12.6 MB, 26
languages and Python's reST docs), for each of cl100k_base, o200k_base and
r50k_base (pipe's gpt2):

  tiktoken      PyPI tiktoken's encode_ordinary, document by document, in this
                Python process (texts already parsed; no start-up, no output).
  pipe CLI      `pipe bpe encode --threads 1 --special-as-text` on the JSONL
                file (page cache), the Arrow token stream to /dev/null: the
                whole process, loading the rank file and parsing JSON included,
                on one core (--threads 1 is GOMAXPROCS 1).
  pipe CLI - start-up
                the same, less the wall time of the same command on an empty
                input (loading the rank file, building the encoder).
  Go bench      BenchmarkEncode in bpe/encode_bench_test.go, in-process, one
                goroutine, GOMAXPROCS=1, on the corpus's first 4 MiB of
                documents, a new Encoder (empty piece cache) each pass;
                tiktoken is timed on the same documents beside it.

In each repetition the peer and pipe run one after the other; each keeps its
best repetition. The ids are checked equal in the same run: pipe's --ids
output and tiktoken's ids, written the same way, must have the same sha256.
The npm tiktoken (WASM) and js-tiktoken run in node for orientation, checked
the same way.

Two threads (part "threads"), on docs.jsonl written 4 times over (50 MB, so
start-up weighs less): `--threads 2` against `--threads 1` (N threads are N
cores, reading and writing overlapping the encoders), wall and CPU seconds of
the whole process, and the encode phase by pipe's own log line.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import corpus
import proc

sys.path.insert(0, "scripts")
import tiktoken_peer  # noqa: E402  (tiktoken on the local rank files, sha256-checked)

# pipe's pattern name, the rank file (tiktoken's encoding name).
ENCODINGS = [("cl100k", "cl100k_base"), ("o200k", "o200k_base"), ("gpt2", "r50k_base")]
GO_BENCH_BYTES = 4 << 20  # benchBytes in bpe/encode_bench_test.go


def pipe_encode(pipe, pattern, rank, inputs, threads=1, ids=False):
    cmd = [pipe, "bpe", "encode", "--tokenizer", os.path.join(corpus.PEERS, "ranks", rank + ".tiktoken"),
           "--pattern", pattern, "--threads", str(threads), "--special-as-text"]
    return cmd + (["--ids"] if ids else []) + inputs


def ids_digest(docs):
    """sha256 of the ids as pipe's --ids writes them: a line per document."""
    h, n = hashlib.sha256(), 0
    for ids in docs:
        h.update((" ".join(map(str, ids)) + "\n").encode())
        n += len(ids)
    return h.hexdigest(), n


def tiktoken_pass(enc, texts):
    """Wall and CPU seconds of encoding texts, one after another."""
    start, cpu = time.perf_counter(), time.process_time()
    for t in texts:
        enc.encode_ordinary(t)
    return time.perf_counter() - start, time.process_time() - cpu


def go_bench(bpe_test, docs):
    """MB/s of each BenchmarkEncode sub-benchmark, one run of the test binary."""
    env = dict(os.environ, PIPE_BENCH_DOCS=os.path.abspath(docs))
    r = proc.run([bpe_test, "-test.run", "^$", "-test.bench", "^BenchmarkEncode$", "-test.benchtime", "3x",
                  "-test.cpu", "1"], stdout=subprocess.PIPE, env=env)
    out = r.stdout.decode()
    got = {m.group(1): float(m.group(2)) for m in re.finditer(r"BenchmarkEncode/(\w+)(?:-\d+)?\s.*?([\d.]+) MB/s", out)}
    if len(got) != len(ENCODINGS):
        raise RuntimeError("BenchmarkEncode gave no MB/s for every encoding:\n" + out)
    return got


def go_bench_prefix(texts):
    """The documents BenchmarkEncode reads: whole documents until 4 MiB."""
    out, n = [], 0
    for t in texts:
        if n >= GO_BENCH_BYTES:
            break
        out.append(t)
        n += len(t.encode())
    return out


def one_thread(pipe, bpe_test, repeat, js_passes):
    texts = corpus.texts(corpus.DOCS)
    nbytes = sum(len(t.encode()) for t in texts)
    prefix = go_bench_prefix(texts)
    prefix_bytes = sum(len(t.encode()) for t in prefix)
    empty = os.path.join("bench", "out", "empty.jsonl")
    open(empty, "w").close()
    encs = {p: tiktoken_peer.encoding(p) for p, _ in ENCODINGS}
    for e in encs.values():
        e.encode_ordinary(texts[0][:1000])  # warm up

    tk, tk_prefix, cli, start, gob = ({p: [] for p, _ in ENCODINGS} for _ in range(5))
    load = [proc.load()]
    for _ in range(repeat):
        for p, rank in ENCODINGS:
            tk[p].append(tiktoken_pass(encs[p], texts))
            cli[p].append(proc.run(pipe_encode(pipe, p, rank, [corpus.DOCS])))
            start[p].append(proc.run(pipe_encode(pipe, p, rank, [empty])))
            tk_prefix[p].append(tiktoken_pass(encs[p], prefix))
        for p, mbs in go_bench(bpe_test, corpus.DOCS).items():
            gob[p].append(mbs)
    load.append(proc.load())

    rows, checks = [], []
    for p, rank in ENCODINGS:
        want, ntok = ids_digest(encs[p].encode_ordinary(t) for t in texts)
        out = proc.run(pipe_encode(pipe, p, rank, [corpus.DOCS], ids=True), stdout=subprocess.PIPE).stdout
        got = hashlib.sha256(out).hexdigest()
        pipe_tok = sum(len(line.split()) for line in out.splitlines())
        checks.append(dict(encoding=rank, tokens=ntok, sha256=want, pipe_tokens=pipe_tok, pipe_sha256=got,
                           equal=got == want))
        tk_mbs = nbytes / min(w for w, _ in tk[p]) / 1e6
        c, s = proc.best(cli[p]), proc.best(start[p])
        rows.append(dict(encoding=rank, what="pipe CLI process", bytes=nbytes, peer="tiktoken", peer_mbs=tk_mbs,
                         pipe_mbs=nbytes / c.wall / 1e6, pipe_wall=c.wall, pipe_rss=c.rss_mib, ids_equal=got == want,
                         peer_cpu=min(cpu for _, cpu in tk[p]), pipe_cpu=min(r.cpu for r in cli[p])))
        rows.append(dict(encoding=rank, what="pipe CLI - start-up", bytes=nbytes, peer="tiktoken", peer_mbs=tk_mbs,
                         pipe_mbs=nbytes / (c.wall - s.wall) / 1e6, startup_wall=s.wall,
                         pipe_log_mbs=proc.slog_field(c.stderr, "encoded", "mb_per_s")))
        rows.append(dict(encoding=rank, what="Go bench, in-process", bytes=prefix_bytes, peer="tiktoken",
                         peer_mbs=prefix_bytes / min(w for w, _ in tk_prefix[p]) / 1e6, pipe_mbs=max(gob[p])))

    js = []
    if js_passes > 0:
        pairs = ["tiktoken-wasm:" + rank for _, rank in ENCODINGS] + ["js-tiktoken:cl100k_base"]
        r = proc.run(["node", "bench/encode_js.cjs", os.path.join(corpus.PEERS, "npm"), str(js_passes),
                      corpus.DOCS] + pairs, stdout=subprocess.PIPE)
        want = {c["encoding"]: c for c in checks}
        for line in r.stdout.decode().splitlines():
            j = json.loads(line)
            c = want[j["encoding"]]
            cli_row = next(x for x in rows if x["encoding"] == j["encoding"] and x["what"] == "pipe CLI process")
            js.append(dict(encoding=j["encoding"], peer=j["peer"], peer_mbs=j["mb_per_s"], pipe_mbs=cli_row["pipe_mbs"],
                           tokens=j["tokens"], ids_equal=j["sha256"] == c["sha256"]))
    return dict(corpus=corpus.DOCS, bytes=nbytes, documents=len(texts), repeat=repeat, load=load,
                tiktoken=tiktoken_peer.tiktoken.__version__, rows=rows, checks=checks, js=js)


def two_threads(pipe, repeat):
    big = corpus.repeated(corpus.DOCS, 4, os.path.join("bench", "out", "docs-x4.jsonl"))
    nbytes = 4 * sum(len(t.encode()) for t in corpus.texts(corpus.DOCS))
    rows, load = [], [proc.load()]
    for p, rank in ENCODINGS[:2]:
        runs = {1: [], 2: []}
        for _ in range(repeat):
            for t in (1, 2):
                runs[t].append(proc.run(pipe_encode(pipe, p, rank, [big], threads=t)))
        one, two = proc.best(runs[1]), proc.best(runs[2])
        phase = {t: min(proc.slog_field(r.stderr, "encoded", "seconds") for r in runs[t]) for t in (1, 2)}
        rows.append(dict(encoding=rank, bytes=nbytes, wall1=one.wall, wall2=two.wall, cpu1=one.cpu, cpu2=two.cpu,
                         user1=one.user, user2=two.user, phase1=phase[1], phase2=phase[2],
                         speedup=one.wall / two.wall, phase_speedup=phase[1] / phase[2]))
    load.append(proc.load())
    return dict(corpus=big, bytes=nbytes, repeat=repeat, load=load, rows=rows)
