"""The fused attention probabilities: the autodiff graph's values and gradients, and the
builtin softmax wherever no tape records (exports)."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.compression.quantized_layers import QuantizedMultiHeadAttention
from tfmodels.layers import attention
from tfmodels.layers.attention import MultiHeadAttention
from tfmodels.layers.softmax_dropout import softmax_dropout
from tfmodels.training import noise


def attention_layers():
    """A layer with attention dropout, built, and its twin that never fuses."""
    tf.keras.utils.set_random_seed(0)  # the same weights, so the same rounding, every run
    x = tf.random.stateless_normal([2, 16, 32], seed=[0, 5])
    fused, plain = MultiHeadAttention(4, dropout_rate=0.3), MultiHeadAttention(4, dropout_rate=0.3)
    fused(x)
    plain(x)
    # Weights 15x the initializer's, so that the softmax is far from uniform.
    fused.set_weights([w * 15 for w in fused.get_weights()])
    plain.set_weights(fused.get_weights())
    plain._fuses_probs = lambda training: False
    return x, fused, plain


def value_and_gradients(layer, x, mask, training, use_probs, scale=None):
    with noise.keyed_by(3, tf.constant(7, tf.int64)), tf.GradientTape() as tape:
        tape.watch(x)
        q = layer._scaled_query(x)
        k, v = layer._split_heads(layer.key(x)), layer._split_heads(layer.value(x))
        allowed = None if mask is None else tf.cast(mask, tf.bool)[:, None, None, :]
        out, probs = layer._attend(q, k, v, allowed, training, softmax_scale=scale)
        loss = tf.reduce_sum(out * out)
        if use_probs:  # the probabilities' own gradient (attention distillation)
            loss += tf.reduce_sum(probs[..., :3] * 5.0)
    return [out, probs, *tape.gradient(loss, [x, *layer.trainable_variables])]


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("use_probs", [True, False])
def test_fused_probabilities_equal_the_autodiff_graph(masked, training, use_probs):
    x, fused, plain = attention_layers()
    mask = tf.constant([[1] * 16, [1] * 9 + [0] * 7]) if masked else None
    scale = 0.7 if masked else None  # DeBERTa's scale after the score sum
    got = value_and_gradients(fused, x, mask, training, use_probs, scale)
    expected = value_and_gradients(plain, x, mask, training, use_probs, scale)
    names = ["output", "probs", "dx"] + [w.name for w in fused.trainable_variables]
    largest = {n: max(1.0, float(np.max(np.abs(e)))) for n, e in zip(names, expected)}
    for name, g, e in zip(names, got, expected):
        # The key's bias shifts every score of a query alike, which the softmax ignores: its
        # gradient is 0 but for the rounding of sums as large as the key kernel's gradient
        # (~200 here; the differences seen were 5e-8 to 6e-7 of it).
        scale = largest[name.replace("key/bias", "key/kernel")]
        atol = (2e-6 if "key/bias" in name else 1e-6) * scale
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-5, err_msg=name)
    assert float(tf.reduce_max(tf.abs(got[2]))) > 0.1  # the gradient is not trivially 0
    if training:  # the dropout dropped: the output differs from the undropped one's
        undropped = value_and_gradients(plain, x, mask, False, use_probs, scale)[0]
        assert not np.allclose(got[0], undropped, atol=1e-3)


def test_the_fused_path_is_taken_only_under_a_tape_and_without_fake_quant_points(monkeypatch):
    _, fused, _ = attention_layers()
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return softmax_dropout(*args, **kwargs)

    monkeypatch.setattr(attention, "softmax_dropout", counted)
    spec = tf.TensorSpec([None, 16, 32], tf.float32)

    def traced(tape):
        """The op types of the layer's graph traced for training, with or without a tape;
        how often the fused path was taken."""
        calls.clear()

        def call(x):
            with noise.keyed_by(1, tf.constant(0, tf.int64)):
                return fused(x, training=True)

        with tf.GradientTape() if tape else contextlib.nullcontext():
            graph = tf.function(call).get_concrete_function(spec).graph
        return {op.type for op in graph.get_operations()}, len(calls)

    _, fused_calls = traced(tape=True)
    assert fused_calls == 1
    types, fused_calls = traced(tape=False)
    assert fused_calls == 0 and "Softmax" in types  # the builtin softmax, as exported
    # QAT's layers put fake-quant points between the softmax's steps: never fused.
    assert QuantizedMultiHeadAttention._point is not MultiHeadAttention._point
    quantized = QuantizedMultiHeadAttention.__new__(QuantizedMultiHeadAttention)
    with tf.GradientTape():
        assert not quantized._fuses_probs(False)
