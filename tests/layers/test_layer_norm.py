"""The training LayerNorm: Keras's values and gradients, Keras's graph without a tape."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.layer_norm import LayerNormalization


def pair(epsilon, width=48):
    """Keras's LayerNormalization and ours, built with the same non-trivial weights."""
    layers = keras.layers.LayerNormalization(epsilon=epsilon), LayerNormalization(epsilon=epsilon)
    gamma = tf.random.stateless_normal([width], seed=[0, 3]) * 0.3 + 1
    beta = tf.random.stateless_normal([width], seed=[1, 3]) * 0.2
    for layer in layers:
        layer.build([None, None, width])
        layer.set_weights([gamma.numpy(), beta.numpy()])
    return layers


def value_and_gradients(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return [y, *tape.gradient(y, [x, layer.gamma, layer.beta], upstream)]


@pytest.mark.parametrize("epsilon", [1e-12, 1e-5])
def test_values_and_gradients_equal_keras_layer_normalization(epsilon):
    keras_norm, ours = pair(epsilon)
    # Rows of different scales and offsets, like a residual stream's.
    scale = tf.exp(tf.random.stateless_normal([3, 5, 1], seed=[2, 3]))
    x = tf.random.stateless_normal([3, 5, 48], seed=[3, 3]) * scale + scale
    upstream = tf.random.stateless_normal([3, 5, 48], seed=[4, 3])
    expected = value_and_gradients(keras_norm, x, upstream)
    got = value_and_gradients(ours, x, upstream)
    for name, e, g in zip(("y", "dx", "dgamma", "dbeta"), expected, got):
        np.testing.assert_allclose(g, e, atol=2e-5, rtol=1e-5, err_msg=name)
    assert float(tf.reduce_max(tf.abs(got[1]))) > 0.1  # the gradient is not trivially 0
    assert [w.name for w in ours.weights] == [w.name for w in keras_norm.weights]


def test_under_a_tape_the_closed_form_gradient_else_keras_graph():
    _, ours = pair(1e-12)
    spec = tf.TensorSpec([None, None, 48], tf.float32)
    with tf.GradientTape():
        taped = tf.function(ours).get_concrete_function(spec)
    plain = tf.function(ours).get_concrete_function(spec)

    def ops(concrete):
        return {op.name.split("/")[-2] for op in concrete.graph.get_operations() if "/" in op.name}

    # Keras's graph computes tf.nn.moments and tf.nn.batch_normalization.
    assert "moments" in ops(plain) and "batchnorm" in ops(plain)
    assert "moments" not in ops(taped) and "batchnorm" not in ops(taped)
