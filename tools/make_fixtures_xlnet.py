"""Writes the XLNet fixtures under tests/fixtures/xlnet_tiny_* (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_xlnet.py

Tiny random XLNetModel and XLNetLMHeadModel checkpoints (every parameter perturbed, so
biases, seg_embed and LayerNorms are non-zero) with reference.npz:

- the features (right padding in two rows, two segments) and the content-stream output
  (``sequence_output``) or LM ``logits`` at every position;
- XLNetModel: ``mem_input_ids`` (a previous segment) and ``sequence_output_with_mems``:
  the output of the features when the previous segment's hidden states are the memory
  (Transformer-XL recurrence; HF ``use_mems=True``);
- XLNetLMHeadModel: ``perm_mask`` [B, S, S] (a random factorization order per row: i may
  not see j unless j comes earlier; padding is never a target) and ``target_mapping``
  [B, P, S] with ``two_stream_logits`` [B, P, V] (query stream);
- XLNetLMHeadModel: ``prompt_ids`` and ``generated_ids``, HF's greedy
  ``generate(max_new_tokens=20, do_sample=False, use_mems=False)`` (every step recomputes
  the whole sequence with a dummy last token, hidden by perm_mask, as the target), and
  ``generated_logits`` [20, V] (the logits of each step: a random tiny model soon repeats
  one token, so the ids alone check little), and ``generated_ids_mems`` with HF's default
  ``use_mems=True`` for information (not tested: HF then reuses stale hidden states).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_fixture, tiny_inputs  # noqa: E402

TINY = dict(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37, ff_activation="gelu",
            mem_len=None, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def permutation_inputs(mask, rng, num_predict=3):
    """perm_mask [B, S, S] and target_mapping [B, P, S]: the last ``num_predict`` real tokens
    of a random order are the targets; a target sees exactly the tokens before it in the order
    (every target sees at least one token)."""
    batch, length = mask.shape
    perm_mask = np.ones((batch, length, length), np.float32)
    target_mapping = np.zeros((batch, num_predict, length), np.float32)
    for b in range(batch):
        real = np.flatnonzero(mask[b])
        order = rng.permutation(real)
        rank = np.full(length, length)
        rank[order] = np.arange(len(order))
        for i in range(length):
            for j in range(length):
                if rank[j] < rank[i] or (rank[i] >= len(order)):  # padding queries: see all
                    perm_mask[b, i, j] = 0.0
        for p, position in enumerate(order[-num_predict:]):
            target_mapping[b, p, position] = 1.0
    return perm_mask, target_mapping


def make_xlnet(name, architecture):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.XLNetConfig(**TINY, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():  # non-zero biases, seg_embed and LayerNorms: no mapping slip hides
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    out_dir = save_fixture(model, name)
    rng = np.random.default_rng(0)
    ids, mask, types = tiny_inputs(rng)
    t = lambda x, dtype=torch.long: torch.tensor(x, dtype=dtype)  # noqa: E731
    features = dict(input_ids=t(ids), attention_mask=t(mask), token_type_ids=t(types))
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types,
           "num_parameters": np.array(model.num_parameters())}
    with torch.no_grad():
        out = model(**features, use_mems=False)
        if architecture == "XLNetModel":
            ref["sequence_output"] = out.last_hidden_state.numpy()
            mem_ids = rng.integers(3, 99, size=(ids.shape[0], 5)).astype(np.int32)
            mems = model(input_ids=t(mem_ids), use_mems=True).mems
            with_mems = model(**features, mems=mems, use_mems=False)
            ref["mem_input_ids"] = mem_ids
            ref["sequence_output_with_mems"] = with_mems.last_hidden_state.numpy()
        else:
            ref["logits"] = out.logits.numpy()
            perm_mask, target_mapping = permutation_inputs(mask, rng)
            two = model(**features, perm_mask=t(perm_mask, torch.float),
                        target_mapping=t(target_mapping, torch.float), use_mems=False)
            ref.update(perm_mask=perm_mask, target_mapping=target_mapping,
                       two_stream_logits=two.logits.numpy())
            prompt = t(rng.integers(3, 99, size=(1, 5)))
            common = dict(max_new_tokens=20, min_new_tokens=20, do_sample=False,
                          pad_token_id=0)
            ref["prompt_ids"] = prompt.numpy().astype(np.int32)
            generated = model.generate(prompt, use_mems=False, return_dict_in_generate=True,
                                       output_logits=True, **common)
            ref["generated_ids"] = generated.sequences.numpy().astype(np.int32)
            ref["generated_logits"] = np.stack([x[0].numpy() for x in generated.logits])
            ref["generated_ids_mems"] = model.generate(prompt, **common).numpy().astype(
                np.int32)
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, {k: v.shape for k, v in ref.items()})


if __name__ == "__main__":
    make_xlnet("xlnet_tiny_model", "XLNetModel")
    make_xlnet("xlnet_tiny_lm", "XLNetLMHeadModel")
