"""Keras's LayerNormalization with its gradient written out, for training steps.

Keras normalizes with ``tf.nn.moments`` and ``tf.nn.batch_normalization`` (Ba et al.
2016, eq. 4); autodiff of that graph is about twenty element-wise kernels, most of them
broadcasts, each a pass over memory: in a small BERT's fine-tuning step at length 128
(``benchmarks/train_throughput.py``) the norms took a fifth of the step's CPU time. While
a gradient tape records, this layer computes ``xhat = (x - mean) * rstd`` and
``gamma * xhat + beta`` and its gradient in closed form::

    dbeta = sum(dy), dgamma = sum(dy * xhat), g = dy * gamma,
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))

(means over the normalized axis, sums over the others). Without a tape (evaluation,
SavedModel, TFLite) it is Keras's own graph, so exported files do not change. Same
weights, config and checkpoints as Keras's layer. The gradient is first-order only.
"""

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.eager import record


@tf.custom_gradient
def _normalize(x, gamma, beta, epsilon):
    """LayerNorm over the last axis of float ``x``, and its closed-form gradient."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centered = x - mean
    rstd = tf.math.rsqrt(tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True) + epsilon)
    xhat = centered * rstd

    def gradient(dy):
        outer = tf.range(tf.rank(dy) - 1)
        g = dy * gamma
        dx = rstd * (
            g
            - tf.reduce_mean(g, axis=-1, keepdims=True)
            - xhat * tf.reduce_mean(g * xhat, axis=-1, keepdims=True)
        )
        return dx, tf.reduce_sum(dy * xhat, outer), tf.reduce_sum(dy, outer), None

    return xhat * gamma + beta, gradient


class LayerNormalization(keras.layers.LayerNormalization):
    """``keras.layers.LayerNormalization`` whose training steps take the closed-form
    gradient (module doc) where it applies: the last axis, with scale and center."""

    def call(self, inputs):
        rank = inputs.shape.rank
        if (
            record.could_possibly_record()
            and rank is not None
            and self.axis == [rank - 1]
            and self.scale
            and self.center
            and isinstance(inputs, tf.Tensor)
            and inputs.dtype in (tf.float32, tf.float64)
            and self.compute_dtype == inputs.dtype.name
        ):
            return _normalize(
                inputs,
                tf.convert_to_tensor(self.gamma),
                tf.convert_to_tensor(self.beta),
                tf.constant(self.epsilon, inputs.dtype),
            )
        return super().call(inputs)
