"""Loads a pipe checkpoint with Hugging Face transformers, as a user would, and prints what it
computes, for cmd/pipe's TestCheckpointLoadsInTransformers.

usage: hf_gpt2_peer.py CKPT_DIR TEXT TOKENS
  CKPT_DIR  a pipe train checkpoint (model.safetensors, config.json, tokenizer.json)
  TEXT      a text to encode with AutoTokenizer
  TOKENS    space-separated ids (at most n_positions): the loss is that of predicting each
            token from those before it; logits are those of every position but the last

prints one JSON object: {"ids": [...], "loss": float, "logits": [[...] per position],
"vocab_size": int, "tokenizer_class": str}. Nothing is fetched from the Hub.
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402
from transformers import AutoTokenizer, GPT2LMHeadModel  # noqa: E402


def main():
    ckpt, text, tokens = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split()]
    torch.manual_seed(0)
    model = GPT2LMHeadModel.from_pretrained(ckpt, local_files_only=True)
    model.eval()
    tok = AutoTokenizer.from_pretrained(ckpt, local_files_only=True)
    ids = tok(text, add_special_tokens=False)["input_ids"]

    # The whole sequence with labels=itself: HF shifts the labels, so position t predicts
    # token t+1 and the loss is over tokens[1:]; the last position's logits are dropped.
    x = torch.tensor([tokens], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=x, labels=x)
    logits = out.logits[0, :-1].double()
    loss = out.loss.item()
    json.dump({
        "ids": ids,
        "loss": loss,
        "logits": logits.tolist(),
        "vocab_size": model.config.vocab_size,
        "tokenizer_class": type(tok).__name__,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
