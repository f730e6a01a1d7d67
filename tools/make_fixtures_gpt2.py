"""Writes the GPT-2 fixtures under tests/fixtures/gpt2_tiny_* (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_gpt2.py

Tiny random GPT2Model and GPT2LMHeadModel checkpoints (non-zero biases and LayerNorm
parameters) with reference.npz: right-padded inputs (attention_mask 0 after the text) and
the reference outputs. ``block_outputs`` are HF's ``hidden_states[1:-1]``: the outputs of
all blocks but the last (HF's last hidden state already has ``ln_f`` applied).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_fixture, tiny_inputs  # noqa: E402

TINY = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64)


def make_gpt2(name, architecture):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(**TINY, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters: no mapping slip hides
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    out_dir = save_fixture(model, name)
    ids, mask, types = tiny_inputs(np.random.default_rng(0))
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(types),
           "sequence_output": out.hidden_states[-1].numpy(),
           "block_outputs": np.stack([h.numpy() for h in out.hidden_states[1:-1]]),
           "num_parameters": np.array(model.num_parameters())}
    if architecture == "GPT2LMHeadModel":
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir)


if __name__ == "__main__":
    make_gpt2("gpt2_tiny_model", "GPT2Model")
    make_gpt2("gpt2_tiny_lm", "GPT2LMHeadModel")
