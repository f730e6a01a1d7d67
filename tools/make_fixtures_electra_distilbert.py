"""Writes the ELECTRA and DistilBERT parity fixtures (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_electra_distilbert.py

Each fixture directory under tests/fixtures/ holds a tiny random checkpoint in the HF
layout (config.json + model.safetensors, non-zero biases) and reference.npz: the
inputs of tools/make_fixtures.py ``tiny_inputs`` (padding in two rows, two token
types) and the reference outputs. ``--counts`` prints the reference parameter
counts of the named configurations (tfmodels/configs/models/*.yaml) instead.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, randomize, tiny_inputs, torch_inputs  # noqa: E402

# E != H in the backbone and the discriminator, so the E -> H projection is exercised.
ELECTRA = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2,
               num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
               type_vocab_size=2)
DISTILBERT = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                  max_position_embeddings=64)


def make(name, config_class, architecture, settings, outputs):
    """Saves a random ``architecture`` and its outputs on the tiny inputs.

    ``outputs(out)`` maps the reference output object to ``{our output name: array}``.
    """
    import torch
    import transformers

    torch.manual_seed(0)
    config = getattr(transformers, config_class)(**settings, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = tiny_inputs(np.random.default_rng(0))
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask,
                          **({"token_type_ids": types} if config_class == "ElectraConfig"
                             else {}))  # DistilBERT has no token types
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    hidden = out.hidden_states
    assert len(hidden) == config.num_hidden_layers + 1, len(hidden)  # embeddings + per layer
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types,
           **{k: v.numpy() for k, v in outputs(out).items()}}
    if architecture.endswith("Model"):
        ref["encoder_outputs"] = np.stack([h.numpy() for h in hidden[1:]])
    else:
        ref["sequence_output"] = hidden[-1].numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, {k: v.shape for k, v in ref.items()})


def make_all():
    electra, distil = "ElectraConfig", "DistilBertConfig"
    make("electra_tiny_model", electra, "ElectraModel", ELECTRA,
         lambda out: {"sequence_output": out.last_hidden_state})
    make("electra_tiny_discriminator", electra, "ElectraForPreTraining",
         {**ELECTRA, "hidden_act": "gelu_new"}, lambda out: {"rtd_logits": out.logits})
    # A generator narrower than its embeddings (H < E, as electra-base-generator: 768 -> 256),
    # with a ReLU body: the reference head uses exact GELU whatever hidden_act says.
    make("electra_tiny_generator", electra, "ElectraForMaskedLM",
         {**ELECTRA, "embedding_size": 32, "hidden_size": 16, "num_attention_heads": 2,
          "intermediate_size": 24, "hidden_act": "relu"},
         lambda out: {"mlm_logits": out.logits})
    # E == H: no projection, as in electra-base.
    make("electra_tiny_classifier", electra, "ElectraForSequenceClassification",
         {**ELECTRA, "embedding_size": 32, "num_labels": 3}, lambda out: {"logits": out.logits})
    make("distilbert_tiny_model", distil, "DistilBertModel", DISTILBERT,
         lambda out: {"sequence_output": out.last_hidden_state})
    make("distilbert_tiny_masked_lm", distil, "DistilBertForMaskedLM",
         {**DISTILBERT, "activation": "gelu_new"}, lambda out: {"mlm_logits": out.logits})
    make("distilbert_tiny_classifier", distil, "DistilBertForSequenceClassification",
         {**DISTILBERT, "activation": "relu", "num_labels": 3},
         lambda out: {"logits": out.logits})


COUNTED = {  # configuration name -> (config class, backbone class, settings)
    "electra_small_discriminator": ("ElectraConfig", "ElectraModel", {}),
    "electra_small_generator": ("ElectraConfig", "ElectraModel", {}),
    "electra_base_discriminator": ("ElectraConfig", "ElectraModel", dict(
        embedding_size=768, hidden_size=768, num_attention_heads=12, intermediate_size=3072)),
    "distilbert_base_uncased": ("DistilBertConfig", "DistilBertModel", {}),
    "tinybert_6l_768d": ("BertConfig", "BertModel", dict(num_hidden_layers=6)),
}


def print_counts():
    import transformers

    for name, (config_class, backbone, settings) in COUNTED.items():
        model = getattr(transformers, backbone)(getattr(transformers, config_class)(**settings))
        count = sum(p.numel() for p in model.parameters())
        print(f"{name}: {backbone} {count:,}")
        if name == "electra_small_generator":
            mlm = transformers.ElectraForMaskedLM(transformers.ElectraConfig(**settings))
            # The LM head's weight is the tied word table: count each tensor once.
            unique = {id(p): p for p in mlm.parameters()}
            print(f"{name}: ElectraForMaskedLM {sum(p.numel() for p in unique.values()):,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", action="store_true",
                        help="print the reference parameter counts of the named configurations")
    args = parser.parse_args()
    print_counts() if args.counts else make_all()
