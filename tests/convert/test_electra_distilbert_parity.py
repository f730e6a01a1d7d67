"""ELECTRA and DistilBERT HF checkpoints load, match the reference outputs, and save losslessly.

Fixtures: tools/make_fixtures_electra_distilbert.py (tiny random checkpoints with non-zero
biases; padding in two rows; two token types -- which DistilBERT, having none, must ignore).
"""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import tfmodels
from tfmodels.models import registry
from tests.conftest import fixture_path, max_abs_diff

FEATURES = ("input_ids", "input_mask", "segment_ids")
FIXTURES = {  # name -> architecture of the checkpoint
    "electra_tiny_model": "ElectraModel",
    "electra_tiny_discriminator": "ElectraForPreTraining",
    "electra_tiny_generator": "ElectraForMaskedLM",
    "electra_tiny_classifier": "ElectraForSequenceClassification",
    "distilbert_tiny_model": "DistilBertModel",
    "distilbert_tiny_masked_lm": "DistilBertForMaskedLM",
    "distilbert_tiny_classifier": "DistilBertForSequenceClassification",
}


def reference(name):
    return dict(np.load(fixture_path(name, "reference.npz")))


def compare(model, ref):
    """Max abs difference per reference output; backbone outputs of task models
    (``sequence_output`` of a classifier) come from ``model.encoder``."""
    features = {k: ref[k] for k in FEATURES}
    out = model(features)
    errors = {}
    for key, expected in ref.items():
        if key in FEATURES:
            continue
        source = out if key in out else model.encoder(features)
        got = np.stack(source[key]) if key == "encoder_outputs" else source[key]
        errors[key] = max_abs_diff(got, expected)
    return errors


@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_match_reference_and_save_pretrained_is_lossless(name, tmp_path):
    model = tfmodels.from_pretrained(fixture_path(name))
    assert model.architecture == FIXTURES[name]
    ref = reference(name)
    errors = compare(model, ref)
    assert len(errors) >= 2 and max(errors.values()) <= 1e-4, errors

    tfmodels.save_pretrained(model, str(tmp_path))
    original = load_file(fixture_path(name, "model.safetensors"))
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert set(saved) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(saved[key], value)
    with open(tmp_path / "config.json") as f:
        config = json.load(f)
    with open(fixture_path(name, "config.json")) as f:
        hf = json.load(f)
    assert config["architectures"] == [model.architecture]
    assert config["model_type"] == hf["model_type"]
    # The hyper-parameters are written back under the reference's own names.
    assert registry.family_module(hf["model_type"]).Config.from_hf(config) == model.config
    written = model.config.to_hf()
    assert {k: config[k] for k in written if k in hf} == {k: hf[k] for k in written if k in hf}
    names = {"distilbert": {"dim", "n_layers", "n_heads", "hidden_dim", "activation"},
             "electra": {"embedding_size", "num_hidden_layers", "num_attention_heads"}}
    assert names[hf["model_type"]] <= set(written)
