"""pipe's whole pipeline as an Airflow 3 DAG: web pages (or WARC files) to a trained GPT.

Every task runs the `pipe` binary on the worker (BashOperator through @task.bash) as a batch
job: it takes its share of the sorted inputs with --rank/--world-size, writes rank-named
outputs atomically, leaves a statistics JSON and a completion marker beside them, and prints
a JSON summary as the last line of stdout, which Airflow keeps as the task's result (XCom).
A task that is retried or rerun finds its marker and only prints the summary again.

    plan ─▶ crawl[rank] ─▶ list_warcs ─▶ clean[WARC] ─▶ dedup_buckets ─▶ dedup_remove[WARC]
         ─▶ bpe_count[partition] ─▶ bpe_train ─▶ shard[partition] ─▶ merge_manifests ─▶ train (pool "gpus") ─▶ report

Mapped tasks ([...]) fan out over ranks by dynamic task mapping; the others are the global
steps: dedup clustering, merging token counts and training the tokenizer, joining the shard
manifests, and training the model (in the pool named by $PIPE_GPU_POOL, default "gpus", so that
the number of concurrent trainings is the number of GPUs).

Parameters (the DAG run's conf): seeds (URLs to crawl) or warc (globs of WARC files: crawling is
skipped), output_root, vocab_size, model, partitions, and free-form extra flags per stage.
All outputs go under output_root:

    warc/            crawled WARC files (crawl-*.warc.gz), crawl-stats-RANK.json, crawl-done-RANK.json
    crawl-state/R/   each crawl rank's frontier (resumable)
    clean/           clean's documents per WARC rank, before cross-rank dedup; sig/: dedup signatures
    docs/            the deduplicated documents, docs-RANK.jsonl.zst
    counts/          token piece counts per partition
    tokenizer.json   the tokenizer (Hugging Face format)
    data/            Arrow shards and manifest.json
    run/             checkpoints and metrics.jsonl
"""
import glob
import json
import os
import shlex

import pendulum
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

GPU_POOL = os.environ.get("PIPE_GPU_POOL", "gpus")
# Each rank of a stage is a mapped task instance; Airflow refuses a mapping longer than its
# [core] max_map_length (1024 by default): raise it for more WARC files than that, or set
# clean_partitions.

DOC = __doc__


def _params():
    return get_current_context()["params"]


def _pipe(p):
    return shlex.quote(p["pipe"])


def _root(p, *parts):
    return os.path.join(p["output_root"], *parts)


def _q(*paths):
    return " ".join(shlex.quote(x) for x in paths)


def _warc_globs(p):
    return p["warc"] if p["warc"] else [_root(p, "warc", "*.warc.gz")]


def _job(command):
    """The bash of a task: fail on any error; the pipe command's stdout ends with its summary."""
    return "set -euo pipefail\n" + command


@dag(
    dag_id="pipe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["pipe", "llm", "pretraining"],
    params={
        "seeds": Param([], type="array", items={"type": "string"},
                       description="seed URLs to crawl (ignored when warc is given)"),
        "warc": Param([], type="array", items={"type": "string"},
                      description="globs of WARC files (e.g. a Common Crawl dump on a shared file system); crawling is skipped"),
        "output_root": Param(os.environ.get("PIPE_OUTPUT_ROOT", "/tmp/pipe-pipeline"), type="string", minLength=1,
                             description="directory (shared by the workers) for every output"),
        "vocab_size": Param(32768, type="integer", minimum=257, description="tokens in the vocabulary"),
        "model": Param("gpt2", type="string", enum=["nano", "micro", "mini", "gpt2", "gpt2-medium"],
                       description="model size"),
        "partitions": Param(8, type="integer", minimum=1,
                            description="ranks of crawl, token counting and sharding"),
        "clean_partitions": Param(0, type="integer", minimum=0,
                                  description="ranks of clean and dedup; 0: one per WARC file"),
        "pipe": Param(os.environ.get("PIPE_BIN", "pipe"), type="string", description="the pipe binary on the workers"),
        "crawl_args": Param("--max-pages 100000", type="string", description="extra flags of pipe crawl"),
        "clean_args": Param("", type="string", description="extra flags of pipe clean (--lang, --set ...)"),
        "bpe_args": Param("--pattern o200k", type="string", description="extra flags of pipe bpe count"),
        "shard_args": Param("--val-fraction 0.01", type="string", description="extra flags of pipe shard"),
        "train_args": Param("--context 1024 --batch 16 --steps 5000", type="string",
                            description="extra flags of pipe train (a resumed run keeps its own)"),
    },
)
def pipe_pipeline():
    @task
    def plan():
        """Checks the parameters and returns the crawl ranks (none when WARC files are given)."""
        p = _params()
        if not p["seeds"] and not p["warc"]:
            raise ValueError("give seeds (URLs to crawl) or warc (globs of WARC files)")
        os.makedirs(p["output_root"], exist_ok=True)
        if p["warc"]:
            return []
        n = p["partitions"]
        return [{"rank": r, "world_size": n} for r in range(n)]

    @task.bash
    def crawl(rank, world_size):
        p = _params()
        seeds = " ".join("--seeds " + shlex.quote(s) for s in p["seeds"])
        return _job(f"exec {_pipe(p)} crawl {seeds} --rank {rank} --world-size {world_size} "
                    f"--out {_q(_root(p, 'warc'))} --state {_q(_root(p, 'crawl-state', str(rank)))} {p['crawl_args']}")

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def list_warcs():
        """The clean ranks: one per WARC file, or clean_partitions of them."""
        p = _params()
        files = sorted({f for g in _warc_globs(p) for f in glob.glob(g) if os.path.isfile(f)})
        if not files:
            raise ValueError("no WARC files match %s" % _warc_globs(p))
        n = len(files) if p["clean_partitions"] == 0 else min(len(files), p["clean_partitions"])
        return [{"rank": r, "world_size": n} for r in range(n)]

    @task.bash
    def clean(rank, world_size):
        p = _params()
        return _job(f"exec {_pipe(p)} clean --rank {rank} --world-size {world_size} "
                    f"--dedup-signatures {_q(_root(p, 'sig'))} --out {_q(_root(p, 'clean', 'docs-{rank}.jsonl.zst'))} "
                    f"{p['clean_args']} {_q(*_warc_globs(p))}")

    @task.bash
    def dedup_buckets():
        p = _params()
        return _job(f"exec {_pipe(p)} clean dedup-buckets --dedup-signatures {_q(_root(p, 'sig'))}")

    @task.bash
    def dedup_remove(rank, world_size):
        p = _params()
        return _job(f"exec {_pipe(p)} clean dedup-remove --dedup-signatures {_q(_root(p, 'sig'))} --rank {rank} "
                    f"--out {_q(_root(p, 'docs', 'docs-{rank}.jsonl.zst'))} "
                    f"{_q(_root(p, 'clean', 'docs-%05d.jsonl.zst' % rank))}")

    @task
    def partitions():
        n = _params()["partitions"]
        return [{"rank": r, "world_size": n} for r in range(n)]

    @task.bash
    def bpe_count(rank, world_size):
        p = _params()
        return _job(f"exec {_pipe(p)} bpe count --rank {rank} --world-size {world_size} "
                    f"--out {_q(_root(p, 'counts', 'counts-{rank}.bin'))} {p['bpe_args']} "
                    f"{_q(_root(p, 'docs', '*.jsonl.zst'))}")

    @task.bash
    def bpe_train():
        p = _params()
        return _job(f"exec {_pipe(p)} bpe train --vocab-size {p['vocab_size']} "
                    f"--counts {_q(_root(p, 'counts', 'counts-*.bin'))} --out {_q(_root(p, 'tokenizer.json'))}")

    @task.bash
    def shard(rank, world_size):
        p = _params()
        return _job(f"exec {_pipe(p)} shard --tokenizer {_q(_root(p, 'tokenizer.json'))} --rank {rank} "
                    f"--world-size {world_size} --out {_q(_root(p, 'data'))} {p['shard_args']} "
                    f"{_q(_root(p, 'docs', '*.jsonl.zst'))}")

    @task.bash
    def merge_manifests():
        p = _params()
        return _job(f"exec {_pipe(p)} shard merge-manifests {_q(_root(p, 'data'))}")

    @task.bash(pool=GPU_POOL)
    def train():
        """Trains, or resumes the run where its last checkpoint left it."""
        p = _params()
        run = _q(_root(p, "run"))
        return _job(
            f"if compgen -G {run}'/ckpt-*' >/dev/null; then\n"
            f"  {_pipe(p)} train --resume {run} >&2\n"
            f"else\n"
            f"  {_pipe(p)} train --data {_q(_root(p, 'data'))} --tokenizer {_q(_root(p, 'tokenizer.json'))} "
            f"--model {shlex.quote(p['model'])} --out {run} {p['train_args']} >&2\n"
            f"fi\n"
            f"ckpt=$(ls -d {run}/ckpt-* | sort -V | tail -1)\n"
            f"printf '{{\"stage\":\"train\",\"run\":\"%s\",\"checkpoint\":\"%s\"}}\\n' {run} \"$ckpt\"\n")

    @task
    def report(merged, trained):
        """Where every output is, with the shard totals and the checkpoint."""
        p = _params()
        merged, trained = json.loads(merged), json.loads(trained)
        out = {
            "warc": _warc_globs(p),
            "documents": _root(p, "docs"),
            "tokenizer": _root(p, "tokenizer.json"),
            "manifest": merged["manifest"],
            "train_tokens": merged["train"]["tokens"],
            "val_tokens": merged["val"]["tokens"],
            "checkpoint": trained["checkpoint"],
            "metrics": _root(p, "run", "metrics.jsonl"),
        }
        print(json.dumps(out, indent=2))
        return out

    crawled = crawl.expand_kwargs(plan())
    warcs = list_warcs()
    crawled >> warcs
    cleaned = clean.expand_kwargs(warcs)
    buckets = dedup_buckets()
    removed = dedup_remove.expand_kwargs(warcs)
    cleaned >> buckets >> removed
    parts = partitions()
    counted = bpe_count.expand_kwargs(parts)
    removed >> counted
    tok = bpe_train()
    sharded = shard.expand_kwargs(parts)
    counted >> tok >> sharded
    merged = merge_manifests()
    sharded >> merged
    trained = train()
    merged >> trained
    report(merged, trained)


pipe_pipeline()
