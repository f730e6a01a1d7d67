"""ALBERT HF checkpoints load and match the reference outputs at real tokens; saving is lossless.

Fixtures (tools/make_fixtures.py, the albert_* rows): random HF checkpoints with non-zero biases,
padded rows and two segments; ``albert_tiny_grouped`` has 3 layers over 2 groups of
2 blocks; ``albert_tiny_masked_lm`` has E == H; ``albert_tiny_classifier`` takes real
text through the reference tokenizer and ships its spiece.model.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tests.convert.parity import (
    IDS,
    assert_outputs_match_reference,
    assert_parameter_count_equals_the_checkpoint,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    error_at_real_tokens,
    loaded,
    reference,
)
from tfmodels.convert import albert as converter

FIXTURES = {
    "albert_tiny_model": "AlbertModel",
    "albert_tiny_grouped": "AlbertModel",
    "albert_tiny_pretraining": "AlbertForPreTraining",
    "albert_tiny_masked_lm": "AlbertForMaskedLM",
    "albert_tiny_classifier": "AlbertForSequenceClassification",
}


@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_match_reference_at_real_tokens(name):
    assert_outputs_match_reference(name, FIXTURES[name], from_encoder=True)


def test_grouped_checkpoint_shares_blocks_as_the_reference():
    model = loaded("albert_tiny_grouped")
    assert [len(g) for g in model.layer_groups] == [2, 2]
    names = {
        n
        for n in load_file(fixture_path("albert_tiny_grouped", "model.safetensors"))
        if ".albert_layers." in n
    }
    assert {n.split(".albert_layers.")[0] for n in names} == {
        "encoder.albert_layer_groups.0",
        "encoder.albert_layer_groups.1",
    }
    assert len(reference("albert_tiny_grouped")["encoder_outputs"]) == 3 * 2


@pytest.mark.parametrize("name", FIXTURES)
def test_parameter_count_equals_the_checkpoint(name):
    assert_parameter_count_equals_the_checkpoint(name, converter)


@pytest.mark.parametrize("name", FIXTURES)
def test_save_pretrained_is_lossless(name, tmp_path):
    written, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    assert written["architectures"] == [FIXTURES[name]] and written["model_type"] == "albert"
    for key in (
        "embedding_size",
        "hidden_size",
        "num_hidden_layers",
        "num_hidden_groups",
        "inner_group_num",
        "hidden_act",
        "classifier_dropout_prob",
        "vocab_size",
    ):
        assert written[key] == source[key], key


def test_saved_checkpoint_loads_back_with_the_same_outputs(tmp_path):
    name = "albert_tiny_pretraining"
    tfmodels.save_pretrained(loaded(name), str(tmp_path))
    assert_reloads_with_the_reference_outputs(tmp_path, name, ("mlm_logits", "sentence_logits"))


def test_text_to_logits_matches_the_reference_end_to_end():
    """Raw text -> in-graph SentencePiece -> model: the reference tokenizer's ids and logits."""
    path = fixture_path("albert_tiny_classifier")
    ref = reference("albert_tiny_classifier")
    with open(fixture_path("albert_tiny_classifier", "texts.json"), encoding="utf-8") as f:
        texts = json.load(f)
    pre = tfmodels.preprocessor_from_pretrained(path, seq_length=ref["input_ids"].shape[1])
    singles = [t[0] for t in texts if len(t) == 1]
    pairs = [t for t in texts if len(t) == 2]
    rows = [
        pre(tf.constant(singles)),
        pre((tf.constant([a for a, _ in pairs]), tf.constant([b for _, b in pairs]))),
    ]
    features = {k: tf.concat([r[k] for r in rows], 0) for k in IDS}
    for key in IDS:
        np.testing.assert_array_equal(features[key], ref[key])
    logits = loaded("albert_tiny_classifier")(features)["logits"]
    assert max_abs_diff(logits, ref["logits"]) <= 1e-4


def test_backbone_checkpoint_fine_tunes_with_a_new_head():
    model = tfmodels.from_pretrained(
        fixture_path("albert_tiny_model"),
        architecture="AlbertForSequenceClassification",
        num_labels=4,
    )
    ref = reference("albert_tiny_model")
    features = {k: ref[k] for k in IDS}
    assert model(features)["logits"].shape == (3, 4)
    got = model.encoder(features)["sequence_output"]
    assert error_at_real_tokens(got, ref["sequence_output"], ref["input_mask"]) <= 1e-4
