"""Root-mean-square LayerNorm without centring or bias (Zhang & Sennrich 2019).

T5 (Raffel et al. 2020, section 2.1) uses "a simplified version of layer
normalization where the activations are only rescaled and no additive bias is
applied": ``x / sqrt(mean(x^2) + eps) * scale``. Computed in float32 like
LayerNorm under mixed precision.
"""

import tensorflow as tf
import tf_keras as keras


class RMSNormalization(keras.layers.Layer):
    """Call: ``layer(x)`` -> x rescaled over its last axis; one ``scale`` weight."""

    def __init__(self, epsilon=1e-6, **kwargs):
        kwargs.setdefault("dtype", tf.float32)
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight("scale", [int(input_shape[-1])], initializer="ones")
        super().build(input_shape)

    def call(self, x):
        x = tf.cast(x, tf.float32)
        variance = tf.reduce_mean(tf.square(x), axis=-1, keepdims=True)
        return x * tf.math.rsqrt(variance + self.epsilon) * self.scale

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config
