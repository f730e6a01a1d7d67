"""BART family: the common checks (tests/models/harness.py) and what is BART's own: cached
generation == uncached, pad id 1 (padding changes no real token; generation pads with 1
after eos), the HF layout round trip with final_logits_bias, refused variants, and
RoBERTa-style byte-level BPE packing for a BART folder."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.generation import generate
from tfmodels.models import bart

# Encoder and decoder differ in depth, heads and width, as BART allows.
TINY = bart.Config(
    vocab_size=50,
    hidden_size=32,
    num_encoder_layers=1,
    num_decoder_layers=2,
    num_encoder_heads=4,
    num_decoder_heads=2,
    encoder_intermediate_size=37,
    decoder_intermediate_size=41,
    max_position_embeddings=32,
    scale_embedding=True,
    dropout=0.0,
)
PAD, EOS = 1, 2


@pytest.fixture(scope="module")
def lm():
    model = bart.BartForConditionalGeneration(TINY)
    rng = np.random.default_rng(0)
    # Larger random weights, and positions larger than the (sqrt-scaled) tokens: a random
    # BART otherwise copies its decoder start token forever and generation tests prove little.
    # Drawn here, not by the initializers, so the test is the same every run.
    for weight in model.weights:
        if len(weight.shape) > 1:
            std = 0.02 * (64.0 if "position" in weight.name else 4.0)
            weight.assign(std * rng.standard_normal(weight.shape))
        else:
            base = 1.0 if "gamma" in weight.name else 0.0
            weight.assign(base + 0.1 * rng.standard_normal(weight.shape))
    return model


def encoder_inputs():
    ids = np.array(
        [[0, 5, 17, 23, 42, 8, 2], [0, 33, 9, 2, PAD, PAD, PAD], [0, 12, 40, 4, 21, 2, PAD]],
        np.int32,
    )
    return {"input_ids": ids, "input_mask": (ids != PAD).astype(np.int32)}


def decoder_features():
    return {
        **encoder_inputs(),
        "decoder_input_ids": np.array([[2, 4, 6], [2, 8, 1], [2, 3, 5]], np.int32),
    }


def final_logits_bias_is_a_buffer(model):
    """Not trained, as in the reference."""
    assert not model.lm_head.bias.trainable


ENCODER, DECODER = (3, 7, 32), (3, 3, 32)
SPEC = harness.FamilySpec(
    "bart",
    TINY,
    decoder_features(),
    {
        "backbone": Role(
            bart.BartModel, "BartModel", {"encoder_output": ENCODER, "sequence_output": DECODER}
        ),
        "seq2seq_lm": Role(
            bart.BartForConditionalGeneration,
            "BartForConditionalGeneration",
            {"encoder_output": ENCODER, "sequence_output": DECODER, "logits": (3, 3, 50)},
            atol=1e-5,
            check=final_logits_bias_is_a_buffer,
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_cached_greedy_generation_equals_uncached(lm):
    features = encoder_inputs()
    cached = generate(lm, features, max_new_tokens=10).numpy()
    uncached = generate(lm, features, max_new_tokens=10, use_cache=False).numpy()
    np.testing.assert_array_equal(cached, uncached)
    assert len(np.unique(cached)) > 3  # not one repeated token: the test can fail
    assert len({tuple(row) for row in cached}) > 1  # the encoder input matters


def test_generation_starts_from_decoder_start_and_matches_the_forward_pass(lm):
    features = encoder_inputs()
    tokens = generate(lm, features, max_new_tokens=6).numpy()
    decoder_ids = np.concatenate([np.full([3, 1], TINY.decoder_start_token_id), tokens], 1)
    logits = lm({**features, "decoder_input_ids": decoder_ids.astype(np.int32)})["logits"]
    np.testing.assert_array_equal(np.argmax(logits, -1)[:, :-1], tokens)


def test_generation_pads_with_pad_id_after_eos(lm):
    features = encoder_inputs()
    free = generate(lm, features, max_new_tokens=10).numpy()
    eos = int(free[0, 3])  # a token row 0 emits at step 3 (or earlier) plays eos
    tokens = generate(lm, features, max_new_tokens=10, eos_id=eos, pad_id=PAD).numpy()
    for row, ref in zip(tokens, free):
        hits = np.flatnonzero(ref == eos)
        end = hits[0] + 1 if len(hits) else len(ref)
        np.testing.assert_array_equal(row[:end], ref[:end])
        assert (row[end:] == PAD).all()
    assert (tokens[0, 4:] == PAD).all()


def test_padding_with_pad_id_changes_no_real_token(lm):
    features = encoder_inputs()
    dec = np.array([[2, 7, 9, 11, 13], [2, 14, 3, PAD, PAD], [2, 5, 6, 8, 10]], np.int32)
    full = lm(
        {**features, "decoder_input_ids": dec, "decoder_input_mask": (dec != PAD).astype(np.int32)}
    )
    alone = lm(
        {
            "input_ids": features["input_ids"][1:2, :4],
            "input_mask": features["input_mask"][1:2, :4],
            "decoder_input_ids": dec[1:2, :3],
        }
    )
    np.testing.assert_allclose(full["encoder_output"][1, :4], alone["encoder_output"][0], atol=1e-5)
    np.testing.assert_allclose(full["logits"][1, :3], alone["logits"][0], atol=1e-4)
    # Without the masks the padding is attended to: the masks are what protects the outputs.
    unmasked = lm({"input_ids": features["input_ids"], "decoder_input_ids": dec})
    assert np.abs(unmasked["logits"][1, :3] - alone["logits"][0]).max() > 1e-3


def test_hf_layout_round_trip_keeps_final_logits_bias(lm, tmp_path):
    features = decoder_features()
    expected = lm(features)["logits"]
    tfmodels.save_pretrained(lm, str(tmp_path / "hf"))
    with open(tmp_path / "hf" / "config.json") as f:
        hf_config = json.load(f)
    assert hf_config["model_type"] == "bart" and hf_config["d_model"] == 32
    assert hf_config["encoder_layers"] == 1 and hf_config["decoder_layers"] == 2
    reloaded = tfmodels.from_pretrained(str(tmp_path / "hf"))
    np.testing.assert_allclose(reloaded(features)["logits"], expected, atol=1e-5)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"normalize_before": True}, "normalize_before"),
        ({"add_final_layer_norm": True}, "add_final_layer_norm"),
        ({"tie_word_embeddings": False}, "tie_word_embeddings"),
        ({"num_decoder_heads": 5}, "decoder_attention_heads"),
    ],
)
def test_unsupported_variants_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        bart.Config.from_hf(
            {**TINY.to_hf(), **{bart.Config.HF_NAMES.get(k, k): v for k, v in override.items()}}
        )


def test_bart_folder_gets_roberta_style_byte_bpe_features(tmp_path):
    """BART's tokenizer is RoBERTa's: <s> A </s> and <s> A </s></s> B </s>, pad 1."""
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(fixture_path("roberta_bpe", name), tmp_path / name)
    with open(tmp_path / "config.json", "w") as f:
        json.dump({"model_type": "bart", "max_position_embeddings": 64, "pad_token_id": 1}, f)
    with open(fixture_path("roberta_bpe", "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    pre = tfmodels.preprocessor_from_pretrained(str(tmp_path), ref["pack_length"])
    singles = pre(tf.constant(ref["singles"]))
    np.testing.assert_array_equal(singles["input_ids"], ref["singles_input_ids"])
    np.testing.assert_array_equal(singles["input_mask"], ref["singles_input_mask"])
    first, second = zip(*ref["pairs"])
    pairs = pre((tf.constant(first), tf.constant(second)))
    np.testing.assert_array_equal(pairs["input_ids"], ref["pairs_input_ids"])
    np.testing.assert_array_equal(pairs["input_mask"], ref["pairs_input_mask"])
    assert tfmodels.preprocessor_from_pretrained(str(tmp_path), 64) is not None
    with pytest.raises(ConfigError, match="positions"):
        tfmodels.preprocessor_from_pretrained(str(tmp_path), 65)
