"""GPT-2 family: the common checks (tests/models/harness.py) and what is GPT-2's own:
causality, right padding, optional segment_ids, the tied LM head without bias, no LayerNorm
on the embeddings, HF config names and refused variants."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerEmbeddings
from tfmodels.models import gpt2

TINY = gpt2.Config(
    vocab_size=60, hidden_size=32, num_layers=2, num_heads=4, max_position_embeddings=16
)


def ids(batch=2, length=10, seed=1):
    return tf.random.uniform([batch, length], 1, 60, tf.int32, seed=seed).numpy()


TOKENS = ids()
FEATURES = {"input_ids": TOKENS, "input_mask": np.ones_like(TOKENS)}  # no segment_ids
SEQUENCE = (2, 10, 32)
SPEC = harness.FamilySpec(
    "gpt2",
    TINY,
    FEATURES,
    {
        "backbone": Role(
            gpt2.GPT2Model,
            "GPT2Model",
            {"sequence_output": SEQUENCE, "encoder_outputs": [SEQUENCE] * 2},
        ),
        # The rebuilt model's logits are identical (atol 0).
        "causal_lm": Role(
            gpt2.GPT2LMHeadModel,
            "GPT2LMHeadModel",
            {"sequence_output": SEQUENCE, "logits": (2, 10, 60)},
            atol=0.0,
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


@pytest.fixture(scope="module")
def lm(models):
    return models["causal_lm"]


def test_changing_a_token_changes_no_earlier_position(lm):
    tokens = ids()
    mask = np.ones_like(tokens)
    before = lm({"input_ids": tokens, "input_mask": mask})
    for t in (0, 4, 9):
        changed = tokens.copy()
        changed[:, t] = (changed[:, t] % 59) + 1  # another real token
        after = lm({"input_ids": changed, "input_mask": mask})
        for key in ("logits", "sequence_output"):
            a, b = np.asarray(before[key]), np.asarray(after[key])
            np.testing.assert_allclose(a[:, :t], b[:, :t], atol=1e-6)
            assert np.abs(a[:, t:] - b[:, t:]).max() > 1e-3, (key, t)  # later ones do change


def test_right_padding_does_not_change_real_tokens(lm):
    tokens = ids()
    mask = np.ones_like(tokens)
    mask[1, 6:] = 0
    short = lm({"input_ids": tokens[1:, :6], "input_mask": mask[1:, :6]})["logits"]
    junk = tokens.copy()
    junk[1, 6:] = 7
    for batch in (tokens, junk):
        padded = lm({"input_ids": batch, "input_mask": mask})["logits"]
        np.testing.assert_allclose(np.asarray(padded)[1, :6], np.asarray(short)[0], atol=1e-5)


def test_segment_ids_are_optional_and_ignored(lm):
    tokens = ids()
    mask = np.ones_like(tokens)
    without = lm({"input_ids": tokens, "input_mask": mask})["logits"]
    with_segments = lm(
        {"input_ids": tokens, "input_mask": mask, "segment_ids": np.ones_like(tokens)}
    )["logits"]
    np.testing.assert_array_equal(np.asarray(without), np.asarray(with_segments))


def test_logits_are_the_tied_table_without_bias(lm):
    tokens = ids()
    out = lm({"input_ids": tokens, "input_mask": np.ones_like(tokens)})
    table = lm.encoder.embedding_layer.word_embeddings.numpy()
    expected = np.einsum("bsh,vh->bsv", np.asarray(out["sequence_output"]), table)
    np.testing.assert_allclose(np.asarray(out["logits"]), expected, atol=1e-5)
    assert lm.count_params() == lm.encoder.count_params()  # the head adds no weight


def test_embeddings_have_no_layer_norm_and_round_trip(models):
    emb = models["backbone"].embedding_layer
    assert emb.layer_norm is None and emb.token_type_embeddings is None
    tokens = ids()
    x = emb(tokens).numpy()  # dropout is off outside training: word + position only
    table, positions = emb.word_embeddings.numpy(), emb.position_embeddings.numpy()
    np.testing.assert_allclose(x, table[tokens] + positions[: tokens.shape[1]], atol=1e-6)
    rebuilt = TransformerEmbeddings.from_config(emb.get_config())
    rebuilt(tokens)
    assert rebuilt.layer_norm is None
    assert TransformerEmbeddings(10, 8).get_config().get("layer_norm", True)  # default kept


def test_config_has_the_hf_names():
    hf = TINY.to_hf()
    assert (hf["n_embd"], hf["n_layer"], hf["n_head"], hf["n_positions"]) == (32, 2, 4, 16)
    assert "n_inner" not in hf  # None: 4 * n_embd, as HF writes null


@pytest.mark.parametrize(
    "overrides",
    [
        {"scale_attn_by_inverse_layer_idx": True},
        {"scale_attn_weights": False},
        {"add_cross_attention": True},
        {"tie_word_embeddings": False},
        {"hidden_size": 30, "num_heads": 4},
    ],
)
def test_unsupported_variants_are_refused(overrides):
    with pytest.raises(ConfigError):
        gpt2.Config(**overrides)
