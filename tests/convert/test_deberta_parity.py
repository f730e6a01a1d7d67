"""DeBERTa-v2/v3 HF checkpoints load and match the reference outputs at real tokens;
saving is lossless.

Fixtures (tools/make_fixtures.py, the deberta_* rows; transformers 5.24): random HF checkpoints
with non-zero biases, inputs of length 16 with two padded rows. ``deberta_tiny_*``
are DeBERTaV3-shaped (shared key, c2p + p2c, 4 log buckets each side up to distance
64, LayerNorm on the relative table, no absolute positions or token types);
``deberta_tiny_v2_model`` has separate position projections, no buckets (distance
clamped at 6), absolute positions and token types. The masked LMs cover both HF
head layouts (``legacy``: cls.predictions.*; else lm_predictions.lm_head.*).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
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
from tfmodels.convert import deberta as converter
from tfmodels.layers import relative_positions

FIXTURES = {
    "deberta_tiny_model": "DebertaV2Model",
    "deberta_tiny_v2_model": "DebertaV2Model",
    "deberta_tiny_masked_lm": "DebertaV2ForMaskedLM",
    "deberta_tiny_masked_lm_v3": "DebertaV2ForMaskedLM",
    "deberta_tiny_classifier": "DebertaV2ForSequenceClassification",
}


@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_match_reference_at_real_tokens(name):
    # The architecture is chosen by config.json "architectures".
    assert_outputs_match_reference(name, FIXTURES[name], from_encoder=True)


def test_log_bucket_positions_match_the_reference():
    tables = np.load(fixture_path("deberta_relative_positions.npz"))
    for key in tables.files:
        buckets, max_position = (int(part[1:]) for part in key.split("_"))
        expected = tables[key]
        got = relative_positions(expected.shape[0], expected.shape[1], buckets, max_position)
        np.testing.assert_array_equal(got, expected, err_msg=key)


@pytest.mark.parametrize("name", FIXTURES)
def test_parameter_count_equals_the_checkpoint(name):
    assert_parameter_count_equals_the_checkpoint(name, converter)


@pytest.mark.parametrize(
    "name",
    [
        "deberta_tiny_v2_model",
        "deberta_tiny_masked_lm",
        "deberta_tiny_masked_lm_v3",
        "deberta_tiny_classifier",
    ],
)
def test_save_pretrained_is_lossless(name, tmp_path):
    written, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    assert written["architectures"] == [FIXTURES[name]] and written["model_type"] == "deberta-v2"
    for key in (
        "relative_attention",
        "position_buckets",
        "max_relative_positions",
        "norm_rel_ebd",
        "share_att_key",
        "pos_att_type",
        "position_biased_input",
        "type_vocab_size",
        "legacy",
        "pooler_hidden_act",
        "hidden_act",
    ):
        assert written[key] == source[key], key
    if name == "deberta_tiny_classifier":
        assert_reloads_with_the_reference_outputs(tmp_path, name, ("logits",))


def test_backbone_checkpoint_fine_tunes_with_a_new_head():
    model = tfmodels.from_pretrained(
        fixture_path("deberta_tiny_model"),
        architecture="DebertaV2ForSequenceClassification",
        num_labels=4,
    )
    ref = reference("deberta_tiny_model")
    features = {k: tf.constant(ref[k]) for k in IDS}
    assert model(features)["logits"].shape == (3, 4)
    got = model.encoder(features)["sequence_output"]
    assert error_at_real_tokens(got, ref["sequence_output"], ref["input_mask"]) <= 1e-4


def test_spm_model_directory_tokenizes_as_the_reference():
    """A directory with DeBERTa's ``spm.model`` gets SentencePiece with [CLS]=1, [SEP]=2,
    [PAD]=0, cased: the ids of transformers' DebertaV2Tokenizer on the same pieces."""
    path = fixture_path("deberta_spm")
    with open(fixture_path("deberta_spm", "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    pre = tfmodels.preprocessor_from_pretrained(path, seq_length=16)
    out = pre(tf.constant(ref["texts"]))
    np.testing.assert_array_equal(out["input_ids"], ref["input_ids"])
    np.testing.assert_array_equal(out["input_mask"], ref["input_mask"])
    pair = pre((tf.constant(ref["texts"][:1]), tf.constant(ref["texts"][1:2])))
    np.testing.assert_array_equal(pair["input_ids"][0], ref["pair_input_ids"])
    np.testing.assert_array_equal(pair["segment_ids"][0], ref["pair_segment_ids"])
    assert [pre.tokenizer.token_to_id(t) for t in ("[PAD]", "[CLS]", "[SEP]")] == [0, 1, 2]
