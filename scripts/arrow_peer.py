"""Reads pipe's shards with the Arrow and Hugging Face libraries, for the tests.

  arrow_peer.py shards DIR [--val-fraction F]
      Opens every shard that DIR/manifest.json lists with pyarrow's
      pa.ipc.open_file and prints, as JSON, each file's schema metadata,
      column names and types, batch count, ids and tokens. With
      --val-fraction it also says, for each id, whether the val rule puts it
      in val, computed here from the rule as documented: the first 8 bytes of
      SHA-256(id) as a big-endian integer, over 2^64, below F.

  arrow_peer.py hf FILE...
      Loads each Arrow stream file with datasets.Dataset.from_file and prints
      its features and rows as JSON.
"""
import argparse
import hashlib
import json
import os
import sys

import pyarrow as pa


def shards(args):
    with open(os.path.join(args.dir, "manifest.json")) as f:
        manifest = json.load(f)
    out = []
    for entry in manifest["shards"]:
        path = os.path.join(args.dir, entry["file"])
        with pa.ipc.open_file(path) as r:
            table = r.read_all()
            batches = r.num_record_batches
        md = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        item = {
            "file": entry["file"],
            "split": entry["split"],
            "metadata": md,
            "names": table.schema.names,
            "types": [str(f.type) for f in table.schema],
            "batches": batches,
            "ids": table.column("id").to_pylist(),
            "tokens": table.column("tokens").to_pylist(),
        }
        if args.val_fraction is not None:
            item["in_val"] = [
                int.from_bytes(hashlib.sha256(i.encode()).digest()[:8], "big") / 2**64 < args.val_fraction
                for i in item["ids"]
            ]
        out.append(item)
    json.dump(out, sys.stdout)


def hf(args):
    import datasets

    datasets.disable_progress_bars()
    out = []
    for path in args.files:
        ds = datasets.Dataset.from_file(path)
        out.append({"file": path, "features": str(ds.features), "rows": ds.to_list()})
    json.dump(out, sys.stdout)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("shards")
    s.add_argument("dir")
    s.add_argument("--val-fraction", type=float)
    h = sub.add_parser("hf")
    h.add_argument("files", nargs="+")
    args = p.parse_args()
    {"shards": shards, "hf": hf}[args.cmd](args)


if __name__ == "__main__":
    main()
