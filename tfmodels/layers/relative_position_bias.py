"""T5's relative position bias: one learned scalar per head and distance bucket.

Raffel et al. 2020, section 2.1: "each 'embedding' is simply a scalar that is added
to the corresponding logit used for computing the attention weights", with
"32 embeddings ... whose ranges increase in size logarithmically up to an offset of
128 beyond which we assign all relative positions to the same embedding". Half the
buckets are exact small distances, half logarithmic; the encoder's buckets tell
left from right (``bidirectional``), the decoder's only look back. The first
layer of each stack owns the table and every layer of that stack adds the same
bias (HF ``T5Attention.compute_bias``).
"""

import math

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.initializer import weight_initializer


def relative_position_bucket(
    relative_position, bidirectional=True, num_buckets=32, max_distance=128
):
    """Bucket of ``key - query`` distances, exactly as HF ``_relative_position_bucket``."""
    relative_position = tf.cast(relative_position, tf.int32)
    buckets = tf.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += tf.cast(relative_position > 0, tf.int32) * num_buckets
        relative_position = tf.abs(relative_position)
    else:
        relative_position = -tf.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    # log(0) is -inf for the small distances, which tf.where discards below.
    scaled = (
        tf.math.log(tf.cast(relative_position, tf.float32) / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    )
    large = max_exact + tf.cast(tf.where(is_small, 0.0, scaled), tf.int32)
    large = tf.minimum(large, num_buckets - 1)
    return buckets + tf.where(is_small, relative_position, large)


class RelativePositionBias(keras.layers.Layer):
    """Call: ``layer(query_positions [Q], key_positions [K])`` -> bias [1, heads, Q, K].

    Positions are absolute, so incremental decoding passes each step's own query
    position against every cache slot. Weight ``embeddings`` [num_buckets, heads].
    """

    def __init__(
        self,
        num_heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            "embeddings",
            [self.num_buckets, self.num_heads],
            initializer=weight_initializer(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, query_positions, key_positions):
        relative = key_positions[tf.newaxis, :] - query_positions[:, tf.newaxis]  # [Q, K]
        buckets = relative_position_bucket(
            relative, self.bidirectional, self.num_buckets, self.max_distance
        )
        values = tf.gather(tf.cast(self.embeddings, self.compute_dtype), buckets)  # [Q, K, h]
        return tf.transpose(values, [2, 0, 1])[tf.newaxis]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
            bidirectional=self.bidirectional,
            initializer_range=self.initializer_range,
        )
        return config
