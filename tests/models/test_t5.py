"""T5 family: the common checks (tests/models/harness.py) and what is T5's own: relative
position buckets against HF's, the shared first-layer bias, cached generation against
uncached, the HF layout round trip, refused variants."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.generation import generate
from tfmodels.layers.relative_position_bias import RelativePositionBias, relative_position_bucket
from tfmodels.models import t5

TINY = t5.Config(
    vocab_size=60,
    hidden_size=16,
    head_size=4,
    intermediate_size=24,
    num_layers=2,
    num_decoder_layers=1,
    num_heads=2,
    num_buckets=8,
    max_distance=20,
)


def features(seed=1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 60, size=(2, 9)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    return {"input_ids": ids * mask, "input_mask": mask}


def decoder_features():
    return {
        **features(),
        "decoder_input_ids": np.array([[0, 5, 7], [0, 9, 0]], np.int32),
        "decoder_input_mask": np.array([[1, 1, 1], [1, 1, 0]], np.int32),
    }


ENCODER, DECODER = (2, 9, 16), (2, 3, 16)
SPEC = harness.FamilySpec(
    "t5",
    TINY,
    decoder_features(),
    {
        "backbone": Role(
            t5.T5Model, "T5Model", {"encoder_output": ENCODER, "sequence_output": DECODER}
        ),
        "seq2seq_lm": Role(
            t5.T5ForConditionalGeneration,
            "T5ForConditionalGeneration",
            {"encoder_output": ENCODER, "sequence_output": DECODER, "logits": (2, 3, 60)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


@pytest.fixture(scope="module")
def lm(models):
    return models["seq2seq_lm"]


@pytest.mark.parametrize("buckets,distance", [(32, 128), (8, 20)])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_buckets_are_hf_relative_position_buckets(buckets, distance, bidirectional):
    table = np.load(fixture_path("t5_relative_buckets.npz"))
    expected = table[f"buckets_{buckets}_{distance}_{'bi' if bidirectional else 'uni'}"]
    got = relative_position_bucket(table["relative_position"], bidirectional, buckets, distance)
    np.testing.assert_array_equal(got.numpy(), expected)
    # Distances up to 300 reach every bucket but "0 to the right", which is never used.
    assert len(set(expected.tolist())) == buckets - bidirectional


def test_position_bias_looks_up_one_scalar_per_head_and_bucket():
    layer = RelativePositionBias(3, num_buckets=8, max_distance=20, bidirectional=False)
    bias = layer(tf.constant([4, 5]), tf.range(7))
    assert bias.shape == (1, 3, 2, 7)
    table = layer.embeddings.numpy()
    # key 2 seen from query 5: distance -3, an exact backward bucket (3)
    np.testing.assert_allclose(bias[0, :, 1, 2], table[3])
    # future keys share bucket 0 in the decoder
    np.testing.assert_allclose(bias[0, :, 0, 6], table[0])
    clone = RelativePositionBias.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_one_bias_table_per_stack_added_in_every_layer(lm):
    tables = [v for v in lm.trainable_variables if "relative_attention_bias" in v.name]
    assert len(tables) == 2  # encoder (bidirectional) and decoder (causal)
    assert lm.encoder_stack.position_bias.bidirectional
    assert not lm.decoder_stack.position_bias.bidirectional
    # Every block of T5 has no bias term and RMS norms.
    names = [v.name for v in lm.trainable_variables]
    assert not [n for n in names if n.endswith("bias:0") and "relative" not in n]
    assert not [n for n in names if "beta" in n]


def test_cached_generation_equals_uncached(lm):
    cached = generate(lm, features(), max_new_tokens=6)
    uncached = generate(lm, features(), max_new_tokens=6, use_cache=False)
    assert cached.shape == (2, 6)
    np.testing.assert_array_equal(cached.numpy(), uncached.numpy())


def test_save_pretrained_round_trip(lm, tmp_path):
    inputs = decoder_features()
    tfmodels.save_pretrained(lm, str(tmp_path))
    loaded = tfmodels.from_pretrained(str(tmp_path))
    assert type(loaded) is t5.T5ForConditionalGeneration
    assert loaded.config == lm.config
    np.testing.assert_allclose(loaded(inputs)["logits"], lm(inputs)["logits"], atol=1e-6)


def test_refused_variants():
    with pytest.raises(ConfigError, match="feed_forward_proj='gated-gelu'"):
        t5.Config(feed_forward_proj="gated-gelu")
