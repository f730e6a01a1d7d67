"""Every shared layer: config round-trip, checkpoint save/restore, masks."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import (
    ClassificationHead,
    MaskedLMHead,
    MultiHeadAttention,
    Pooler,
    TransformerEmbeddings,
    TransformerEncoderBlock,
    get_activation,
)

B, S, H = 2, 7, 16


def _embeddings(**kw):
    return TransformerEmbeddings(
        50, 8, max_positions=20, type_vocab_size=2, hidden_size=H, dropout_rate=0.0, **kw
    )


LAYERS = {
    "attention": (
        lambda: MultiHeadAttention(4, dropout_rate=0.0),
        lambda layer: layer(tf.random.normal([B, S, H])),
    ),
    "embeddings": (_embeddings, lambda layer: layer(tf.ones([B, S], tf.int32))),
    "block_post_ln": (
        lambda: TransformerEncoderBlock(4, 32, dropout_rate=0.0),
        lambda layer: layer(tf.random.normal([B, S, H])),
    ),
    "block_pre_ln": (
        lambda: TransformerEncoderBlock(
            4, 32, activation="gelu_tanh", norm_first=True, causal=True
        ),
        lambda layer: layer(tf.random.normal([B, S, H])),
    ),
    "pooler": (lambda: Pooler(H), lambda layer: layer(tf.random.normal([B, S, H]))),
    "classification_head": (
        lambda: ClassificationHead(3, inner_dim=H),
        lambda layer: layer(tf.random.normal([B, H])),
    ),
    "masked_lm_head": (
        lambda: MaskedLMHead(_embeddings()),
        lambda layer: (
            layer.embedding_layer(tf.ones([B, S], tf.int32)),
            layer(tf.random.normal([B, S, H])),
        )[1],
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip(name):
    make, run = LAYERS[name]
    layer = make()
    run(layer)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    # The clone builds and produces the same shapes.
    assert run(clone).shape == run(layer).shape


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_checkpoint_save_restore(name, tmp_path):
    make, run = LAYERS[name]
    layer, other = make(), make()
    run(layer)
    run(other)
    path = tf.train.Checkpoint(layer=layer).write(str(tmp_path / "ckpt"))
    before = [w.numpy() for w in other.weights]
    tf.train.Checkpoint(layer=other).read(path).assert_consumed()
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, other.weights))
    for a, b in zip(layer.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_padding_changes_nothing_in_real_positions():
    block = TransformerEncoderBlock(4, 32, dropout_rate=0.0, attention_dropout_rate=0.0)
    x = tf.random.normal([1, 5, H])
    mask = tf.constant([[1, 1, 1, 0, 0]])
    noisy = tf.concat([x[:, :3], 100.0 * tf.random.normal([1, 2, H])], axis=1)
    a = block(x, attention_mask=mask)
    b = block(noisy, attention_mask=mask)
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    # Without the mask the padded values do leak into real positions.
    c = block(noisy)
    assert np.max(np.abs(c[:, :3] - a[:, :3])) > 1e-3


def test_causal_attention_ignores_the_future():
    attention = MultiHeadAttention(4, causal=True)
    x = tf.random.normal([2, 6, H])
    y = tf.concat([x[:, :4], tf.random.normal([2, 2, H])], axis=1)
    np.testing.assert_allclose(attention(x)[:, :4], attention(y)[:, :4], atol=1e-5)
    _, probs = attention(x, return_attention_scores=True)
    assert probs.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(tf.reduce_sum(probs, -1), 1.0, atol=1e-5)
    assert (
        float(tf.reduce_max(tf.linalg.band_part(probs, 0, -1) - tf.linalg.band_part(probs, 0, 0)))
        == 0.0
    )


def test_masked_attention_probabilities_are_zero_on_padding():
    attention = MultiHeadAttention(2)
    _, probs = attention(
        tf.random.normal([1, 4, H]),
        attention_mask=tf.constant([[1, 1, 0, 0]]),
        return_attention_scores=True,
    )
    assert float(tf.reduce_max(probs[..., 2:])) == 0.0


def test_heads_and_width_are_independent():
    attention = MultiHeadAttention(3, head_size=5)
    out = attention(tf.random.normal([2, 4, H]))
    assert out.shape == (2, 4, H)
    assert attention.query.kernel.shape == (H, 15)


def test_factorized_embedding_projects_to_hidden():
    layer = _embeddings()
    assert layer(tf.ones([B, S], tf.int32)).shape == (B, S, H)
    assert layer.word_embeddings.shape == (50, 8)
    assert layer.projection.kernel.shape == (8, H)


def test_post_and_pre_layer_norm_differ():
    x = tf.random.normal([1, 4, H])
    post = TransformerEncoderBlock(2, 8, dropout_rate=0.0)
    pre = TransformerEncoderBlock(2, 8, dropout_rate=0.0, norm_first=True)
    post(x), pre(x)
    pre.set_weights(post.get_weights())
    assert np.max(np.abs(post(x) - pre(x))) > 1e-3
    # Post-LN output is normalized: zero mean per position.
    np.testing.assert_allclose(tf.reduce_mean(post(x), -1), 0.0, atol=1e-4)


def test_masked_lm_head_is_tied_to_the_embeddings():
    embeddings = _embeddings()
    head = MaskedLMHead(embeddings)
    embeddings(tf.ones([1, 3], tf.int32))
    logits = head(tf.random.normal([1, 3, H]))
    assert logits.shape == (1, 3, 50)
    embeddings.word_embeddings.assign(tf.zeros([50, 8]))
    np.testing.assert_allclose(
        head(tf.random.normal([1, 3, H])), tf.broadcast_to(head.bias, [1, 3, 50]), atol=1e-6
    )


def test_activations_by_name():
    x = tf.constant([-1.0, 0.5, 2.0])
    exact, tanh = get_activation("gelu")(x), get_activation("gelu_new")(x)
    assert 1e-6 < float(tf.reduce_max(tf.abs(exact - tanh))) < 1e-2
    np.testing.assert_allclose(get_activation("relu")(x), [0.0, 0.5, 2.0])
    # Under mixed precision the GELUs compute in float32 (fast on CPU), then round once.
    wide = tf.random.stateless_normal([4096], seed=[0, 1]) * 3
    for name in ("gelu", "gelu_new"):
        got = get_activation(name)(tf.cast(wide, tf.bfloat16))
        expected = get_activation(name)(tf.cast(tf.cast(wide, tf.bfloat16), tf.float32))
        assert got.dtype == tf.bfloat16
        np.testing.assert_array_equal(got.numpy(), tf.cast(expected, tf.bfloat16).numpy())
    with pytest.raises(ConfigError, match="unknown activation 'gelu_fast'"):
        get_activation("gelu_fast")


@pytest.mark.parametrize("name", ["gelu", "gelu_new"])
def test_gelu_under_a_tape_is_the_fused_kernel_with_tf_nn_gelus_values_and_gradient(name):
    x = tf.random.stateless_normal([2048], seed=[0, 2]) * 4
    upstream = tf.random.stateless_normal([2048], seed=[1, 2])

    def value_and_gradient(fn, dtype):
        v = tf.cast(x, dtype)
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = fn(v)
        return tf.cast(y, tf.float32), tf.cast(
            tape.gradient(y, v, tf.cast(upstream, dtype)), tf.float32
        )

    def reference(v):
        return tf.cast(tf.nn.gelu(tf.cast(v, tf.float32), approximate=name != "gelu"), v.dtype)

    fused = get_activation(name)
    y, g = value_and_gradient(fused, tf.float32)
    y_ref, g_ref = value_and_gradient(reference, tf.float32)
    np.testing.assert_allclose(y, y_ref, atol=2e-6)
    np.testing.assert_allclose(g, g_ref, atol=1e-5)
    y, g = value_and_gradient(fused, tf.bfloat16)
    y_ref, g_ref = value_and_gradient(reference, tf.bfloat16)
    # One rounding to bfloat16 each: at most one unit in the last place apart.
    np.testing.assert_allclose(y, y_ref, rtol=2**-7, atol=1e-6)
    np.testing.assert_allclose(g, g_ref, rtol=2**-7, atol=1e-5)
    # Under a tape the graph has the fused kernels; without one it is tf.nn.gelu's own.
    with tf.GradientTape():
        taped = tf.function(fused).get_concrete_function(tf.TensorSpec([None], tf.float32))
    plain = tf.function(fused).get_concrete_function(tf.TensorSpec([None], tf.float32))
    assert "Erfc" not in _op_types(taped) and "Tanh" not in _op_types(taped)
    assert ("Erfc" if name == "gelu" else "Tanh") in _op_types(plain)


def _op_types(concrete):
    return {op.type for op in concrete.graph.get_operations()}


def test_layers_serialize_inside_a_functional_model():
    inputs = keras.Input([None, H])
    model = keras.Model(inputs, TransformerEncoderBlock(4, 32)(inputs))
    clone = keras.Model.from_config(
        model.get_config(), custom_objects={"TransformerEncoderBlock": TransformerEncoderBlock}
    )
    assert clone.count_params() == model.count_params()


def test_masked_softmax_equals_additive_mask_and_its_int8_form_is_bounded():
    from tfmodels.layers import masked_softmax
    from tfmodels.layers.attention import INT8_MASK_PENALTY, mask_penalty

    scores = tf.constant([[[[1.0, 50.0, -3.0, 2.0]]]])  # a padded key scoring highest
    allowed = tf.constant([[[[True, False, True, True]]]])
    expected = tf.nn.softmax(scores + (1.0 - tf.cast(allowed, tf.float32)) * -1e9, -1)
    got = masked_softmax(scores, allowed)
    np.testing.assert_allclose(got, expected, atol=1e-7)
    assert float(got[0, 0, 0, 1]) == 0.0
    # The int8 form: the padded key's score is replaced by -16, whatever it was, so its
    # weight is below the 1/256 step of an int8 softmax output and the softmax input
    # keeps the range of the real scores.
    with mask_penalty(INT8_MASK_PENALTY):
        graph = tf.function(masked_softmax).get_concrete_function(
            tf.TensorSpec([None, None, None, None]), tf.TensorSpec([None, 1, 1, None], tf.bool)
        )
        bounded = masked_softmax(scores, allowed)
    assert float(bounded[0, 0, 0, 1]) < 1 / 256
    np.testing.assert_allclose(bounded, expected, atol=1 / 256)
    constants = [
        float(op.get_attr("value").float_val[0])
        for op in graph.graph.get_operations()
        if op.type == "Const" and op.get_attr("dtype") == tf.float32
    ]
    assert constants and max(abs(c) for c in constants) <= INT8_MASK_PENALTY


def test_mixed_precision_lookup_casts_the_rows_not_the_table():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        embeddings = TransformerEmbeddings(100, 16, dropout_rate=0.0)
        ids = tf.constant([[1, 2, 3, 99]])
        embeddings(ids)
        graph = tf.function(embeddings).get_concrete_function(ids).graph
    finally:
        keras.mixed_precision.set_global_policy("float32")
    cast_shapes = [
        op.outputs[0].shape.as_list() for op in graph.get_operations() if op.type == "Cast"
    ]
    assert [100, 16] not in cast_shapes  # the table is never cast whole
    assert [1, 4, 16] in cast_shapes or [4, 16] in cast_shapes
