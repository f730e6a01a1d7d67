"""MobileBERT HF checkpoints load and match the reference outputs; saving is lossless.

Fixtures: tools/make_fixtures.py (the mobilebert_* rows) (one tiny random checkpoint per HF
class, plus the IB-BERT block with LayerNorm). Padded positions are compared
too: the reference's outputs there match ours (both attend to the real keys).
"""

import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path
from tests.convert.parity import (
    assert_outputs_match_reference,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    loaded,
    reference,
)
from tfmodels.errors import CheckpointError
from tfmodels.layers import NoNorm

FIXTURES = {
    "mobilebert_tiny_model": "MobileBertModel",
    "mobilebert_tiny_pretraining": "MobileBertForPreTraining",
    "mobilebert_tiny_masked_lm": "MobileBertForMaskedLM",
    "mobilebert_tiny_classifier": "MobileBertForSequenceClassification",
    "mobilebert_tiny_ibbert": "MobileBertModel",
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference(name):
    assert_outputs_match_reference(name, FIXTURES[name], everywhere=True, from_encoder=True)
    assert reference(name)["input_mask"].min() == 0  # padded rows are part of the comparison


def test_fixtures_exercise_the_variants():
    block = loaded("mobilebert_tiny_model").transformer_layers[0]
    assert isinstance(block.attention_norm, NoNorm) and len(block.ffns) == 3
    assert block.attention_bottleneck is not None  # shared query-key bottleneck
    teacher = loaded("mobilebert_tiny_ibbert")
    assert teacher.config.normalization_type == "layer_norm"
    assert teacher.transformer_layers[0].attention_bottleneck is None
    assert loaded("mobilebert_tiny_masked_lm").encoder.embedding_layer.trigram is False
    assert loaded("mobilebert_tiny_classifier").encoder.pooler_layer is None


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    model = loaded(name)
    config, hf_config = assert_save_pretrained_is_lossless(model, name, tmp_path)
    assert config["model_type"] == "mobilebert"
    assert config["num_feedforward_networks"] == model.config.num_feedforward_networks
    # Only keys HF's MobileBertConfig has, and they read back as the same model.
    assert set(config) - {"num_labels", "id2label", "label2id"} <= set(hf_config)
    assert type(model.config).from_hf(config) == type(model.config).from_hf(hf_config)
    if name == "mobilebert_tiny_pretraining":  # one full reload: weights land where they came from
        assert_reloads_with_the_reference_outputs(tmp_path, name, ("mlm_logits",), everywhere=True)


def test_missing_and_unexpected_weights_are_listed(tmp_path):
    target = tmp_path / "m"
    shutil.copytree(fixture_path("mobilebert_tiny_model"), target)
    tensors = load_file(str(target / "model.safetensors"))
    del tensors["encoder.layer.1.bottleneck.attention.dense.weight"]
    tensors["encoder.layer.0.ffn.7.output.dense.weight"] = np.zeros([2, 2], np.float32)
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        tfmodels.from_pretrained(str(target))
    message = str(err.value)
    assert "missing weights: encoder.layer.1.bottleneck.attention.dense.weight" in message
    assert "unexpected weights: encoder.layer.0.ffn.7.output.dense.weight" in message
    assert not [f for f in os.listdir(target) if ".tmp" in f]
