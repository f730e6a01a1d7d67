"""Relative positions for DeBERTa's disentangled attention (He et al. 2021, section 3.1).

A query at i and a key at j are ``delta = i - j`` apart. DeBERTa clamps the
distance to ``k`` (eq. 3; ``k = max_relative_positions``) and DeBERTaV3 /
DeBERTa-v2 buckets it logarithmically (``position_buckets``; the reference
``make_log_bucket_position``): distances below ``buckets / 2`` keep their value,
longer ones share buckets that widen with the log of the distance up to
``max_position``. The relative embeddings -- ``2 * span`` rows, one per bucket --
are a table of the encoder, optionally layer-normalized (``norm_rel_ebd``), and
shared by all layers.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers.initializer import weight_initializer


def log_bucket_position(relative, buckets, max_position):
    """HF/DeBERTa ``make_log_bucket_position`` on an int tensor of distances (float32 math)."""
    relative = tf.cast(relative, tf.float32)
    mid = float(buckets // 2)
    absolute = tf.where((relative < mid) & (relative > -mid), mid - 1.0, tf.abs(relative))
    log_scale = tf.math.log(tf.constant((max_position - 1) / mid, tf.float32))
    log_position = tf.math.ceil(tf.math.log(absolute / mid) / log_scale * (mid - 1.0)) + mid
    bucket = tf.where(absolute <= mid, relative, log_position * tf.sign(relative))
    return tf.cast(bucket, tf.int32)


def relative_positions(query_length, key_length, buckets=-1, max_position=-1):
    """``[Q, K]`` int32 relative positions ``i - j``, log-bucketed when both are > 0."""
    relative = tf.range(query_length)[:, tf.newaxis] - tf.range(key_length)[tf.newaxis, :]
    if buckets > 0 and max_position > 0:
        relative = log_bucket_position(relative, buckets, max_position)
    return relative


class RelativeEmbeddings(keras.layers.Layer):
    """The ``[2 * span, H]`` relative-position table, after LayerNorm when ``layer_norm``.

    Call: ``layer(x)`` -> the table (``x`` only ties the call into the model graph).
    ``span`` is ``position_buckets`` when > 0, else ``max_relative_positions``.
    """

    def __init__(
        self,
        span,
        hidden_size,
        layer_norm=False,
        layer_norm_eps=1e-7,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if span < 1:
            raise ConfigError(f"{self.name}: the relative span must be >= 1, got {span}")
        self.span = span
        self.hidden_size = hidden_size
        self.layer_norm = layer_norm
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings",
            [2 * self.span, self.hidden_size],
            initializer=weight_initializer(self.initializer_range),
        )
        self.norm = None
        if self.layer_norm:
            self.norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
            )
        super().build(input_shape)

    def call(self, x):
        del x
        table = self.embeddings
        if self.norm is not None:
            table = self.norm(table)
        return tf.cast(table, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            span=self.span,
            hidden_size=self.hidden_size,
            layer_norm=self.layer_norm,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
