#!/usr/bin/env python3
"""The PyTorch peer for trainer's model: recompute the logits, loss and gradients that pipe's
CPU trainer computed, and compare.

  torch_gpt2_check.py DIR

DIR (written by trainer's TestTorchParity) holds meta.json (format "pipe-torch-check" v1: the
config, the batch, the tensors' HF names, shapes and offsets, and the loss) and little-endian
float32 files params.f32, logits.f32, grads.f32. The model is GPT-2 written out in torch
functions over those tensors in Hugging Face's layout (Conv1D weights are (in, out)), in float32
on the CPU. Prints one JSON line with the relative errors (max |ours - torch| / max |torch| per
tensor) and exits 1 when the logits or loss differ by 1e-4 or more, or a gradient by 1e-3.
"""
import json, os, sys

import numpy as np
import torch
import torch.nn.functional as F


def load(d, name, shape=None):
    a = np.fromfile(os.path.join(d, name), dtype="<f4")
    return torch.from_numpy(a if shape is None else a.reshape(shape))


def gpt2(P, idx, cfg):
    B, T = idx.shape
    C, NH, L = cfg["Dim"], cfg["Heads"], cfg["Layers"]
    x = P["wte.weight"][idx] + P["wpe.weight"][:T]
    for i in range(L):
        p = lambda n: P[f"h.{i}.{n}"]
        h = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), eps=1e-5)
        q, k, v = (h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), eps=1e-5)
        h = F.gelu(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps=1e-5)
    return x @ P["wte.weight"].T


def rel(ours, theirs):
    return float((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-30))


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    if meta.get("format") != "pipe-torch-check" or meta.get("version") != 1:
        sys.exit(f"torch_gpt2_check: {d}/meta.json is not pipe-torch-check v1")
    cfg, B, T = meta["config"], meta["B"], meta["T"]
    V = cfg["VocabSize"]
    flat, grads = load(d, "params.f32"), load(d, "grads.f32")
    P, G = {}, {}
    for t in meta["tensors"]:
        n, off = int(np.prod(t["shape"])), t["offset"]
        P[t["name"]] = flat[off:off + n].reshape(t["shape"]).clone().requires_grad_(True)
        G[t["name"]] = grads[off:off + n].reshape(t["shape"])
    idx = torch.tensor(meta["tokens"], dtype=torch.long).view(B, T)
    tgt = torch.tensor(meta["targets"], dtype=torch.long).view(B, T)
    torch.use_deterministic_algorithms(True)
    logits = gpt2(P, idx, cfg)
    loss = F.cross_entropy(logits.view(-1, V), tgt.view(-1))
    loss.backward()
    out = dict(peer="pytorch", torch=torch.__version__,
               loss=float(loss), loss_rel=abs(meta["loss"] - float(loss)) / abs(float(loss)),
               logits_rel=rel(load(d, "logits.f32", (B, T, V)), logits.detach()),
               grads_rel={n: rel(G[n], P[n].grad) for n in P})
    worst = max(out["grads_rel"].values())
    out["ok"] = out["loss_rel"] < 1e-4 and out["logits_rel"] < 1e-4 and worst < 1e-3
    print(json.dumps(out))
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
