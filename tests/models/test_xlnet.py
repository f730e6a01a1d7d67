"""XLNet family: the common checks (tests/models/harness.py) and what is XLNet's own: the
relative-attention pieces against their definitions, what each stream may see, the memory,
optional segments and refused options."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.layers.two_stream_attention import (
    MaskEmbedding,
    TwoStreamBlock,
    TwoStreamRelativeAttention,
    rel_shift,
    relative_position_encoding,
    segment_matrix,
)
from tfmodels.models import xlnet

TINY = dict(
    vocab_size=40,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=24,
    hidden_dropout=0.0,
)


def _features(ids, perm_mask, target):
    batch, length = ids.shape
    mapping = np.zeros((batch, 1, length), np.float32)
    mapping[:, 0, target] = 1.0
    return {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
        "perm_mask": perm_mask,
        "target_mapping": mapping,
    }


def two_streams_without_memory(model):
    """The pre-training model's network runs both streams and keeps no memory."""
    assert model.encoder.two_stream and not model.encoder.with_mems


IDS = np.array([[3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]], np.int32)
HIDDEN_TARGET = np.zeros((2, 6, 6), np.float32)
HIDDEN_TARGET[:, :, 3] = 1.0  # no query sees the target, position 3
TWO_STREAMS = _features(IDS, HIDDEN_TARGET, 3)
CONTENT_ONLY = {
    "input_ids": IDS,
    "input_mask": np.ones_like(IDS),
    "segment_ids": np.zeros_like(IDS),
}
SEQUENCE = (2, 6, 16)
SPEC = harness.FamilySpec(
    "xlnet",
    xlnet.Config(**TINY),
    CONTENT_ONLY,
    {
        "backbone": Role(
            xlnet.XLNetModel,
            "XLNetModel",
            {"sequence_output": SEQUENCE, "encoder_outputs": [SEQUENCE] * 2},
        ),
        "lm": Role(
            xlnet.XLNetLMHeadModel,
            "XLNetLMHeadModel",
            {"sequence_output": SEQUENCE, "logits": (2, 6, 40)},
        ),
        # The same HF name as "lm" (which a checkpoint of that name loads as), with the query
        # stream at one target per row.
        "pretraining": Role(
            xlnet.XLNetPermutationLM,
            "XLNetLMHeadModel",
            {"sequence_output": SEQUENCE, "query_output": (2, 1, 16), "logits": (2, 1, 40)},
            features=TWO_STREAMS,
            check=two_streams_without_memory,
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


@pytest.fixture(scope="module")
def permutation_lm():
    """A tiny random model, its weights scaled up from the 0.02 initializer so that every
    term (segments included) moves the outputs well above float noise."""
    tf.random.set_seed(0)
    model = xlnet.XLNetPermutationLM(xlnet.Config(**TINY))
    rng = np.random.default_rng(0)
    for variable in model.variables:
        variable.assign(variable + 0.3 * rng.normal(size=variable.shape))
    return model


def test_rel_shift_puts_each_distance_at_its_key():
    """out[i, j] = scores[i, Q - i + j]: the score of distance (M + i) - j."""
    queries, keys = 3, 5  # 2 memory positions
    scores = np.random.default_rng(0).normal(size=(1, 2, queries, keys + queries))
    got = rel_shift(tf.constant(scores), keys).numpy()
    for i in range(queries):
        for j in range(keys):
            np.testing.assert_array_equal(got[0, :, i, j], scores[0, :, i, queries - i + j])


def test_relative_position_encoding_is_transformer_xl_sinusoids():
    got = relative_position_encoding(2, 3, 4).numpy()
    distances = np.arange(3, -2, -1.0)  # K, ..., 1 - Q
    inv_freq = 1.0 / 10000 ** (np.arange(0, 4, 2) / 4)
    angles = distances[:, None] * inv_freq
    np.testing.assert_allclose(got, np.concatenate([np.sin(angles), np.cos(angles)], -1), atol=1e-6)
    clamped = relative_position_encoding(2, 3, 4, clamp_len=1).numpy()
    np.testing.assert_allclose(clamped[0], clamped[1], atol=1e-6)  # 3 and 2 -> 1


def test_segment_matrix_marks_other_segments_and_unknown_ones():
    seg = segment_matrix(tf.constant([[0, 0, 1], [-1, -1, -1]]), memory_length=1).numpy()
    assert seg.shape == (2, 3, 4, 2)
    np.testing.assert_array_equal(seg[0, 2, :, 1], [1, 1, 1, 0])  # memory counts as 0
    np.testing.assert_array_equal(seg[0, 0, :, 0], [1, 1, 1, 0])
    assert not seg[1].any()  # no segment information: no segment term


def test_layers_round_trip_their_config():
    for layer in (
        TwoStreamRelativeAttention(2, 8, dropout_rate=0.1, name="a"),
        TwoStreamBlock(2, 8, 24, activation="relu", name="b"),
        MaskEmbedding(16, name="m"),
    ):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_query_stream_sees_exactly_what_perm_mask_allows(permutation_lm):
    """The target never sees its own token or hidden tokens, and sees allowed ones; the
    content stream sees its own token."""
    ids = np.arange(1, 9, dtype=np.int32)[None]
    target, hidden, visible = 3, 6, 1
    perm_mask = np.zeros((1, 8, 8), np.float32)
    # A factorization order with the target after ``visible`` and before ``hidden``: no
    # query sees the target or ``hidden`` (content streams still see their own token).
    perm_mask[0, :, [target, hidden]] = 1.0
    base = permutation_lm(_features(ids, perm_mask, target))

    def changed(position):
        other = ids.copy()
        other[0, position] = 30
        out = permutation_lm(_features(other, perm_mask, target))
        return (
            np.abs(out["logits"] - base["logits"]).max(),
            np.abs(
                out["sequence_output"][0, position] - base["sequence_output"][0, position]
            ).max(),
        )

    own_query, own_content = changed(target)
    assert own_query == 0.0 and own_content > 1e-3
    assert changed(hidden)[0] == 0.0
    assert changed(visible)[0] > 1e-4


def test_no_gradient_flows_into_the_memory():
    model = xlnet.XLNetModel(xlnet.Config(**TINY), with_mems=True)
    ids = np.array([[3, 4, 5]], np.int32)
    mems = tf.constant(np.random.default_rng(0).normal(size=(1, 2, 4, 16)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(mems)
        out = model(
            {
                "input_ids": ids,
                "input_mask": np.ones_like(ids),
                "segment_ids": np.zeros_like(ids),
                "mems": mems,
            }
        )
        loss = tf.reduce_sum(out["sequence_output"])
    gradient = tape.gradient(loss, mems)
    assert gradient is None or not np.any(gradient.numpy())
    assert out["mems"].shape == (1, 2, 7, 16)  # old memory + this segment (mem_len 512)
    np.testing.assert_array_equal(out["mems"][:, :, :4], mems)
    # mem_len keeps the newest positions; reuse_len offers only the first ones.
    h = tf.reshape(tf.range(5.0), [1, 5, 1])
    memory = -tf.ones([1, 3, 1])
    cache = xlnet.XLNetModel._cache
    keep = lambda **kw: cache(h, memory, xlnet.Config(**TINY, **kw))[0, :, 0].numpy()  # noqa
    np.testing.assert_array_equal(keep(mem_len=4), [1, 2, 3, 4])
    np.testing.assert_array_equal(keep(mem_len=4, reuse_len=2), [-1, -1, 0, 1])
    np.testing.assert_array_equal(keep(mem_len=None), [-1, -1, -1, 0, 1, 2, 3, 4])


def test_segment_ids_are_optional(permutation_lm):
    """Left out, there is no segment term (HF token_type_ids=None), which equals one
    segment everywhere (the term is then the same for every key); two segments differ."""
    ids = np.arange(5, 11, dtype=np.int32)[None]
    features = _features(ids, np.zeros((1, 6, 6), np.float32), 2)
    del features["segment_ids"]
    absent = permutation_lm(features)["sequence_output"]
    one = permutation_lm({**features, "segment_ids": np.zeros_like(ids)})["sequence_output"]
    two = permutation_lm({**features, "segment_ids": np.array([[0, 0, 0, 1, 1, 1]])})[
        "sequence_output"
    ]
    np.testing.assert_allclose(absent, one, atol=1e-5)
    assert np.abs(absent - two).max() > 1e-3


def test_unsupported_options_are_refused():
    for bad in ({"attn_type": "uni"}, {"bi_data": True}, {"tie_word_embeddings": False}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            xlnet.Config.from_hf({"d_model": 16, "n_head": 2, **bad})
    with pytest.raises(ConfigError, match="n_head"):
        xlnet.Config(hidden_size=30, num_heads=4)
    config = xlnet.Config.from_hf(
        {
            "d_model": 16,
            "n_head": 2,
            "n_layer": 1,
            "d_inner": 8,
            "ff_activation": "relu",
            "dropout": 0.2,
            "mem_len": None,
        }
    )
    assert (config.head_size, config.hidden_act, config.hidden_dropout) == (8, "relu", 0.2)
    assert config.to_hf()["d_inner"] == 8
