"""Writes the span question-answering parity fixtures tests/fixtures/*_tiny_qa
(dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_qa.py

One tiny random ``...ForQuestionAnswering`` checkpoint (HF layout) per encoder family
that has the head, on the tiny configuration and inputs of the family's own fixture
script, and reference.npz: the inputs, ``sequence_output`` (the last hidden state), the
reference ``start_logits`` / ``end_logits`` [B, S] and ``num_parameters``.
``make_head`` and ``FAMILIES`` write the token classifiers too (make_fixtures_tagger.py).
"""
import inspect
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures_albert as albert  # noqa: E402
import make_fixtures_deberta as deberta  # noqa: E402
import make_fixtures_mobilebert as mobilebert  # noqa: E402
import make_fixtures_roberta as roberta  # noqa: E402
from make_fixtures import FIXTURES, TINY, randomize, tiny_inputs, torch_inputs  # noqa: E402
from make_fixtures_electra_distilbert import DISTILBERT, ELECTRA  # noqa: E402


def _inputs(length=12):
    return lambda: tiny_inputs(np.random.default_rng(0), length=length)


# Fixture prefix -> (HF class prefix, tiny settings, inputs). All have vocabularies of 99.
FAMILIES = {
    "bert": ("Bert", TINY, _inputs()),
    "roberta": ("Roberta", {**roberta.TINY, "vocab_size": 99},
                lambda: roberta.roberta_inputs(99)),
    "albert": ("Albert", albert.TINY, _inputs()),
    "electra": ("Electra", ELECTRA, _inputs()),  # E != H
    "distilbert": ("DistilBert", DISTILBERT, _inputs()),
    "mobilebert": ("MobileBert", {**mobilebert.TINY, "num_hidden_layers": 1}, _inputs()),
    "deberta": ("DebertaV2", deberta.V3, _inputs(deberta.LENGTH)),
}


def make_head(family, suffix, head, outputs, **overrides):
    """Saves tests/fixtures/<family>_tiny_<suffix>: a random ``<prefix><head>`` (say
    BertForQuestionAnswering) and its reference.npz, with ``outputs(out)`` mapping the
    reference output object to ``{our output name: tensor}``."""
    import torch
    import transformers

    prefix, settings, inputs = FAMILIES[family]
    architecture = prefix + head
    torch.manual_seed(0)
    config = getattr(transformers, prefix + "Config")(**{**settings, **overrides},
                                                      architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = inputs()
    types_too = "token_type_ids" in inspect.signature(model.forward).parameters  # not DistilBERT
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask,
                          **({"token_type_ids": types} if types_too else {}))
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, f"{family}_tiny_{suffix}")
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types,
           "sequence_output": out.hidden_states[-1].numpy(),
           **{k: v.numpy() for k, v in outputs(out).items()},
           "num_parameters": np.int64(model.num_parameters())}
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, {k: round(float(v.abs().max()), 2) for k, v in outputs(out).items()})


if __name__ == "__main__":
    for name in FAMILIES:
        make_head(name, "qa", "ForQuestionAnswering",
                  lambda out: {"start_logits": out.start_logits, "end_logits": out.end_logits})
