"""NoNorm: an element-wise affine map in place of LayerNorm (Sun et al. 2020, section 3.2).

MobileBERT replaces LayerNorm by ``x * gamma + beta``: no mean/variance over
the features, so the op is cheap on phones (the paper's "operational
optimizations"; Table 7 measures the latency gain). :func:`normalization` picks
NoNorm or LayerNorm by a checkpoint's ``normalization_type``.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError

NORMALIZATIONS = ("layer_norm", "no_norm")


class NoNorm(keras.layers.Layer):
    """Call: ``layer(x)`` -> ``x * gamma + beta`` over the last axis.

    The weights are called ``gamma``/``beta`` like LayerNormalization's, so the
    two are interchangeable wherever weights are mapped by name.
    """

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.gamma = self.add_weight("gamma", [width], initializer="ones")
        self.beta = self.add_weight("beta", [width], initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        return x * tf.cast(self.gamma, x.dtype) + tf.cast(self.beta, x.dtype)


def normalization(kind, epsilon=1e-12, name=None):
    """A ``"layer_norm"`` or ``"no_norm"`` layer; both run in float32 under mixed precision."""
    if kind == "layer_norm":
        return keras.layers.LayerNormalization(epsilon=epsilon, name=name, dtype=tf.float32)
    if kind == "no_norm":
        return NoNorm(name=name, dtype=tf.float32)
    raise ConfigError(f"normalization_type {kind!r} is not one of {', '.join(NORMALIZATIONS)}")
