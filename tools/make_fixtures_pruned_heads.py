"""Writes tests/fixtures/bert_tiny_pruned_heads/ (dev-only; never imported by tests).

A tiny random BertForSequenceClassification with attention heads removed by
HuggingFace's own ``prune_heads`` (in two calls, so the config's ``pruned_heads``
holds original head indexes), saved with ``save_pretrained``, and reference.npz with
its logits and last hidden state on the inputs of tools/make_fixtures.py.

transformers 5 dropped head pruning, so this needs transformers 4.x next to torch:
    /work/fixenv/bin/python -m venv /tmp/hf4env
    echo /work/fixenv/lib/python3.11/site-packages > \\
        /tmp/hf4env/lib/python3.11/site-packages/fixenv.pth   # reuse its torch
    /tmp/hf4env/bin/pip install --no-deps transformers==4.57.1 huggingface_hub==0.36.0 \\
        tokenizers==0.22.1 requests
    /tmp/hf4env/bin/python tools/make_fixtures_pruned_heads.py
"""
import os

import numpy as np
from make_fixtures import FIXTURES, TINY, tiny_inputs

NAME = "bert_tiny_pruned_heads"


def main():
    import torch
    import transformers

    assert transformers.__version__.startswith("4."), "needs transformers 4.x (see docstring)"
    torch.manual_seed(0)
    config = transformers.BertConfig(**TINY, num_labels=3,
                                     architectures=["BertForSequenceClassification"])
    model = transformers.BertForSequenceClassification(config).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters, as make_fixtures.py
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    model.prune_heads({0: [1]})
    model.prune_heads({0: [3], 1: [2]})  # original indexes, whatever was removed before
    assert {k: sorted(v) for k, v in model.config.pruned_heads.items()} == {0: [1, 3], 1: [2]}
    out_dir = os.path.join(FIXTURES, NAME)
    model.save_pretrained(out_dir, safe_serialization=True)
    ids, mask, types = tiny_inputs(np.random.default_rng(0))
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(types, dtype=torch.long),
                    output_hidden_states=True)
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids,
                        input_mask=mask, segment_ids=types, logits=out.logits.numpy(),
                        sequence_output=out.hidden_states[-1].numpy())
    print("wrote", out_dir)


if __name__ == "__main__":
    main()
