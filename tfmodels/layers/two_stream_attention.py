"""Two-stream relative self-attention (Yang et al. 2019, XLNet, sections 2.3-2.5).

XLNet predicts tokens in a random factorization order, so a position needs two
representations: the content stream ``h`` (sees its own token, as a normal encoder)
and the query stream ``g`` (knows its position but not its token, so it can predict
it; section 2.3, eq. 4). Both attend to the same keys and values -- the content
stream, with Transformer-XL's memory of the previous segment prepended (section
2.4; Dai et al. 2019, section 3.2) -- and differ only in the query and the mask.

Scores add three terms (Dai et al. 2019, section 3.3; XLNet section 2.5):

    content   (q_i + r_w_bias) . k_j
    position  (q_i + r_r_bias) . W_r R_{i-j}          R: sinusoids of the distance
    segment   (q_i + r_s_bias) . s_ij                 s_ij = seg_embed[same or not]

The position term is computed for every distance once and shifted into place
(``rel_shift``). The layout of the weights is HuggingFace's ``XLNetRelativeAttention``
(no projection biases, post-LN residual); the FFN is the shared :class:`FeedForward`
(no dropout between its two Dense layers, where HF has one: training only). Masks go
through the shared :func:`masked_softmax`, which, as HF's -1e30, gives a query with
no visible key the mean of all values (no factorization order of
:mod:`tfmodels.pretraining.permutation` produces such a target).
"""

import math

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.attention import masked_softmax
from tfmodels.layers.bottleneck import FeedForward
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer


def relative_position_encoding(query_length, key_length, width, clamp_len=-1, dtype=tf.float32):
    """Sinusoids [K + Q, width] of the distances K, K-1, ..., 1-Q (Transformer-XL 3.3,
    HF ``relative_positional_encoding`` with attn_type "bi", bi_data False)."""
    positions = tf.cast(tf.range(key_length, -query_length, -1), tf.float32)
    if clamp_len > 0:
        positions = tf.clip_by_value(positions, -float(clamp_len), float(clamp_len))
    inv_freq = 1.0 / tf.pow(10000.0, tf.range(0, width, 2, dtype=tf.float32) / width)
    angles = positions[:, tf.newaxis] * inv_freq[tf.newaxis, :]
    return tf.cast(tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1), dtype)


def rel_shift(scores, key_length):
    """[B, n, Q, K + Q] scores per distance -> [B, n, Q, K] scores per key:
    ``out[..., i, j] = scores[..., i, Q - i + j]`` (the reshape trick of Transformer-XL)."""
    shape = tf.shape(scores)
    x = tf.reshape(scores, [shape[0], shape[1], shape[3], shape[2]])[:, :, 1:, :]
    x = tf.reshape(x, [shape[0], shape[1], shape[2], shape[3] - 1])
    return x[:, :, :, :key_length]


def segment_matrix(segment_ids, memory_length=0):
    """One-hot [B, Q, M + Q, 2] of "key j is in another segment than query i" (XLNet 2.5);
    memory positions count as segment 0 (as HF). Negative ids carry no segment
    information: pairs with one get zeros (HF ``token_type_ids=None``)."""
    segment_ids = tf.cast(segment_ids, tf.int32)
    keys = tf.pad(segment_ids, [[0, 0], [memory_length, 0]])
    different = tf.cast(segment_ids[:, :, tf.newaxis] != keys[:, tf.newaxis, :], tf.int32)
    known = (segment_ids[:, :, tf.newaxis] >= 0) & (keys[:, tf.newaxis, :] >= 0)
    return tf.one_hot(different, 2) * tf.cast(known, tf.float32)[..., tf.newaxis]


class TwoStreamRelativeAttention(keras.layers.Layer):
    """Relative attention for the content stream and, optionally, the query stream.

    Call: ``layer(h, positions, g=None, content_allowed=None, query_allowed=None,
    segments=None, mems=None, target_mapping=None, training=None)`` -> ``(h', g')``.
    ``h`` [B, S, H]; ``positions`` [M + 2S, H] from :func:`relative_position_encoding`;
    ``g`` [B, P, H] the query stream (None: content stream only, ``g'`` is None);
    ``*_allowed`` bool [B, S, M + S] (None: every key); ``segments`` [B, S, M + S, 2] from
    :func:`segment_matrix` (None: no segment term); ``mems`` [B, M, H] the memory
    (no gradient flows into it); ``target_mapping`` [B, P, S] one-hot positions of the
    query stream (None: ``P == S``, one query per position). Each output is
    ``LayerNorm(x + dropout(attention))`` (post-LN).
    """

    def __init__(
        self,
        num_heads,
        head_size,
        dropout_rate=0.0,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.dropout_rate = dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        width = int(input_shape[-1])
        inner = self.num_heads * self.head_size

        def dense(name, units):
            return keras.layers.Dense(
                units,
                use_bias=False,
                name=name,
                kernel_initializer=weight_initializer(self.initializer_range),
            )

        self.query, self.key, self.value = (dense(n, inner) for n in ("q", "k", "v"))
        self.position = dense("r", inner)
        self.output_dense = dense("o", width)
        heads = [self.num_heads, self.head_size]
        for name in ("r_w_bias", "r_r_bias", "r_s_bias"):
            setattr(
                self,
                name,
                self.add_weight(
                    name, heads, initializer=weight_initializer(self.initializer_range)
                ),
            )
        self.seg_embed = self.add_weight(
            "seg_embed", [2] + heads, initializer=weight_initializer(self.initializer_range)
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
        )
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def _heads(self, dense, x):
        shape = tf.shape(x)
        return tf.reshape(dense(x), tf.concat([shape[:-1], [self.num_heads, self.head_size]], 0))

    def _attend(self, q, k, v, k_r, segments, allowed, training):
        """The three score terms of the module docstring for queries q [B, S, n, d]."""
        dtype = self.compute_dtype
        bias = lambda b: tf.cast(b, dtype)  # noqa: E731
        content = tf.einsum("bind,bjnd->bnij", q + bias(self.r_w_bias), k)
        position = tf.einsum("bind,jnd->bnij", q + bias(self.r_r_bias), k_r)
        scores = content + rel_shift(position, tf.shape(k)[1])
        if segments is not None:
            per_segment = tf.einsum("bind,snd->bnis", q + bias(self.r_s_bias), bias(self.seg_embed))
            scores += tf.einsum("bijs,bnis->bnij", tf.cast(segments, dtype), per_segment)
        scores = tf.cast(scores, tf.float32) * (1.0 / math.sqrt(self.head_size))
        probs = masked_softmax(scores, None if allowed is None else allowed[:, tf.newaxis])
        probs = self.dropout(tf.cast(probs, dtype), training=training)
        return tf.einsum("bnij,bjnd->bind", probs, v)

    def _post(self, x, vec, training):
        shape = tf.shape(vec)
        vec = tf.reshape(vec, tf.concat([shape[:-2], [self.num_heads * self.head_size]], 0))
        out = self.dropout(self.output_dense(vec), training=training)
        return tf.cast(self.layer_norm(x + out), self.compute_dtype)

    def call(
        self,
        h,
        positions,
        g=None,
        content_allowed=None,
        query_allowed=None,
        segments=None,
        mems=None,
        target_mapping=None,
        training=None,
    ):
        keys = h if mems is None else tf.concat([tf.stop_gradient(tf.cast(mems, h.dtype)), h], 1)
        k, v = self._heads(self.key, keys), self._heads(self.value, keys)
        k_r = self._heads(self.position, tf.cast(positions, self.compute_dtype))

        def attend(q, allowed):
            return self._attend(q, k, v, k_r, segments, allowed, training)

        h_out = self._post(h, attend(self._heads(self.query, h), content_allowed), training)
        if g is None:
            return h_out, None
        q_g = self._heads(self.query, g)
        if target_mapping is None:
            vec_g = attend(q_g, query_allowed)
        else:  # each target's query at its position, attended there, and back
            mapping = tf.cast(target_mapping, self.compute_dtype)
            q_g = tf.einsum("bpnd,bps->bsnd", q_g, mapping)
            vec_g = tf.einsum("bsnd,bps->bpnd", attend(q_g, query_allowed), mapping)
        return h_out, self._post(g, vec_g, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            dropout_rate=self.dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config


class TwoStreamBlock(keras.layers.Layer):
    """One XLNet layer: :class:`TwoStreamRelativeAttention` then the post-LN FFN, applied to
    each stream with the same weights (HF ``XLNetLayer``). Call as the attention."""

    def __init__(
        self,
        num_heads,
        head_size,
        intermediate_size,
        activation="gelu",
        dropout_rate=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.attention = TwoStreamRelativeAttention(
            self.num_heads,
            self.head_size,
            dropout_rate=self.dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            name="rel_attn",
        )
        self.feed_forward = FeedForward(
            self.intermediate_size,
            activation=self.activation,
            normalization_type="layer_norm",
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
            name="ff",
        )
        super().build(input_shape)

    def call(self, h, positions, g=None, training=None, **attention_args):
        h, g = self.attention(h, positions, g=g, training=training, **attention_args)
        h = self.feed_forward(h, training=training)
        return h, None if g is None else self.feed_forward(g, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            dropout_rate=self.dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config


class MaskEmbedding(keras.layers.Layer):
    """The query stream's first state, one learned vector ``w`` for every target
    (XLNet section 2.3: g_i^(0) = w; HF ``mask_emb``). Call: ``layer(target_mapping)``
    [B, P, S] -> [B, P, H]."""

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.embedding = self.add_weight(
            "mask_emb",
            [1, 1, self.hidden_size],
            initializer=weight_initializer(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, target_mapping):
        shape = tf.shape(target_mapping)
        return tf.broadcast_to(
            tf.cast(self.embedding, self.compute_dtype), [shape[0], shape[1], self.hidden_size]
        )

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, initializer_range=self.initializer_range)
        return config
