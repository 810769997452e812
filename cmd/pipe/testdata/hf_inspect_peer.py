"""Runs a pipe checkpoint in Hugging Face transformers and prints every intermediate value of
the forward pass under the names "pipe inspect --json" gives them, for cmd/pipe's
TestInspectTransformers.

usage: hf_inspect_peer.py CKPT_DIR TOKENS
  CKPT_DIR  a pipe train checkpoint (model.safetensors, config.json)
  TOKENS    space-separated ids, at most n_positions

prints one JSON object: name -> the values, flat, row-major, of the one sequence:
"embedding", "L.ln_1", "L.qkv", "L.attn" (heads, T, T), "L.attn_out", "L.attn_proj",
"L.resid_mid", "L.ln_2", "L.mlp_fc", "L.mlp_gelu", "L.mlp_proj", "L.resid" for each layer L,
"ln_f", "logits". The values are taken by forward hooks on transformers' own modules, the
attention weights from its eager attention. Nothing is fetched from the Hub.
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402
from transformers import GPT2LMHeadModel  # noqa: E402


def main():
    ckpt, tokens = sys.argv[1], [int(x) for x in sys.argv[2].split()]
    model = GPT2LMHeadModel.from_pretrained(ckpt, local_files_only=True, attn_implementation="eager")
    model.eval()
    got = {}

    def output(name, index=None):
        def hook(module, args, out):
            got[name] = out[index] if index is not None else out
        return hook

    def input_(name):
        def hook(module, args, out):
            got[name] = args[0]
        return hook

    tr = model.transformer
    tr.drop.register_forward_hook(output("embedding"))
    for i, block in enumerate(tr.h):
        block.ln_1.register_forward_hook(output(f"{i}.ln_1"))
        block.attn.c_attn.register_forward_hook(output(f"{i}.qkv"))
        block.attn.register_forward_hook(output(f"{i}.attn", 1))
        block.attn.c_proj.register_forward_hook(input_(f"{i}.attn_out"))
        block.attn.c_proj.register_forward_hook(output(f"{i}.attn_proj"))
        block.ln_2.register_forward_hook(input_(f"{i}.resid_mid"))
        block.ln_2.register_forward_hook(output(f"{i}.ln_2"))
        block.mlp.c_fc.register_forward_hook(output(f"{i}.mlp_fc"))
        block.mlp.act.register_forward_hook(output(f"{i}.mlp_gelu"))
        block.mlp.c_proj.register_forward_hook(output(f"{i}.mlp_proj"))
        block.register_forward_hook(output(f"{i}.resid"))
    tr.ln_f.register_forward_hook(output("ln_f"))
    with torch.no_grad():
        out = model(input_ids=torch.tensor([tokens], dtype=torch.long))
    got["logits"] = out.logits
    for name, v in got.items():
        if isinstance(v, tuple):
            v = v[0]
        got[name] = v[0].double().flatten().tolist()  # the one sequence of the batch
    json.dump(got, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
