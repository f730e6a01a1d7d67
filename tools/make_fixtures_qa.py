"""Writes the span question-answering parity fixtures tests/fixtures/*_tiny_qa
(dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_qa.py

Each directory holds a tiny random ``...ForQuestionAnswering`` checkpoint (HF layout)
and reference.npz: the inputs of tools/make_fixtures.py's ``tiny_inputs`` and the
reference ``start_logits`` / ``end_logits`` [B, S]. BERT, and RoBERTa as the non-BERT
family (positions after ``pad_token_id``, one token type, its own prefix).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, TINY, tiny_inputs  # noqa: E402


def make_qa(name, architecture, config_class, **config):
    import torch
    import transformers

    torch.manual_seed(0)
    config = getattr(transformers, config_class)(**config, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    ids, mask, types = tiny_inputs(np.random.default_rng(0), vocab=config.vocab_size)
    if config.model_type == "roberta":
        ids[ids == 1] = 5  # the reference numbers positions by counting non-<pad> ids
        ids[:, 0] = 0  # <s>
        ids[mask == 0] = 1  # <pad>
        types = np.zeros_like(ids)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(types, dtype=torch.long))
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids, input_mask=mask,
                        segment_ids=types, start_logits=out.start_logits.numpy(),
                        end_logits=out.end_logits.numpy(),
                        num_parameters=np.int64(model.num_parameters()))
    print("wrote", out_dir, sorted(os.listdir(out_dir)))


if __name__ == "__main__":
    make_qa("bert_tiny_qa", "BertForQuestionAnswering", "BertConfig", **TINY)
    make_qa("roberta_tiny_qa", "RobertaForQuestionAnswering", "RobertaConfig",
            **{**TINY, "max_position_embeddings": 66, "type_vocab_size": 1,
               "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
               "eos_token_id": 2})
