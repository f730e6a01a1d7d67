"""Writes tests/fixtures/gpt2_tiny_generation (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_generation.py

A tiny random GPT2LMHeadModel whose weights are scaled up (std 0.02 weights give
near-uniform next-token distributions, so greedy decoding would repeat one token
and prove little), prompts of different lengths, and HF ``generate``'s tokens:
greedy for 20 new tokens (left-padded batch, as HF decodes batches), and beam
search with 3 beams for 8 new tokens without an end token (every hypothesis then
has the same length, so the ranking is by summed log-probability alone).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_fixture  # noqa: E402

PROMPTS = [[5, 17, 23, 42, 8, 61], [77, 3, 9], [12, 50, 33, 4]]


def main():
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4,
                                     n_positions=64, architectures=["GPT2LMHeadModel"],
                                     bos_token_id=98, eos_token_id=98, pad_token_id=0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.mul_(8.0 if param.dim() > 1 else 1.0)
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    out_dir = save_fixture(model, "gpt2_tiny_generation")
    width = max(map(len, PROMPTS))
    left = np.zeros([len(PROMPTS), width], np.int64)
    mask = np.zeros_like(left)
    for row, prompt in enumerate(PROMPTS):
        left[row, width - len(prompt):] = prompt
        mask[row, width - len(prompt):] = 1
    common = dict(attention_mask=torch.tensor(mask), do_sample=False, pad_token_id=0,
                  eos_token_id=None, min_new_tokens=0)
    with torch.no_grad():
        greedy = model.generate(torch.tensor(left), max_new_tokens=20, num_beams=1, **common)
        beams = model.generate(torch.tensor(left), max_new_tokens=8, num_beams=3,
                               length_penalty=1.0, **common)
    right = np.zeros_like(left)
    for row, prompt in enumerate(PROMPTS):  # our features: right-padded
        right[row, :len(prompt)] = prompt
    np.savez_compressed(os.path.join(out_dir, "reference.npz"),
                        input_ids=right, input_mask=(right > 0).astype(np.int64),
                        greedy_ids=greedy[:, width:].numpy(), beam_ids=beams[:, width:].numpy())
    print("wrote", out_dir, greedy[:, width:].numpy(), beams[:, width:].numpy())


if __name__ == "__main__":
    main()
