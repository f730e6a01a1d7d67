"""Disentangled attention (He et al. 2021, DeBERTa, section 3.1, eq. 2-4).

Each token has a content vector H and each query-key pair a relative position
delta(i, j) with its own embedding P. The attention score sums three terms,

    A_ij = Q^c_i K^c_j  +  Q^c_i K^r_delta(i,j)  +  K^c_j Q^r_delta(j,i)
           content->content  content->position (c2p)  position->content (p2c)

scaled by ``1 / sqrt(d * (1 + number of position terms))`` (eq. 4 uses 3d for
both). The position projections K^r, Q^r are separate Dense layers, or with
``share_att_key`` (DeBERTaV3, DeBERTa-v2) the content key/query projections
applied to the relative table. Queries may come from another tensor than keys
and values: the enhanced mask decoder (section 3.2) feeds positions-plus-hidden
as queries into the last layer. The block is the post-LN Transformer block of
:mod:`tfmodels.layers.transformer_block` with this attention plugged in.
"""

import math

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import MultiHeadAttention, attention_allowed
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.relative_positions import relative_positions
from tfmodels.layers.transformer_block import TransformerEncoderBlock

POSITION_TERMS = ("c2p", "p2c")


def _take_per_row(scores, index):
    """``out[..., r, c] = scores[..., r, index[r, c]]`` for scores [B, h, R, 2s], index [R, C]."""
    rows_first = tf.transpose(scores, [2, 0, 1, 3])  # [R, B, h, 2s]
    taken = tf.gather(rows_first, index, axis=3, batch_dims=1)  # [R, B, h, C]
    return tf.transpose(taken, [1, 2, 0, 3])


class DisentangledAttention(MultiHeadAttention):
    """Call: ``layer(query, key_value=None, attention_mask=None, relative_embeddings=None,
    training=None, return_attention_scores=False)``.

    ``relative_embeddings`` is the [2 * span, H] table (:class:`RelativeEmbeddings`);
    None (or ``span`` 0) leaves content->content attention only. Query and key
    lengths must be equal where the position terms are used (self-attention).
    """

    def __init__(
        self,
        num_heads,
        pos_att_type=POSITION_TERMS,
        share_att_key=True,
        span=0,
        position_buckets=-1,
        max_relative_positions=-1,
        position_dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(num_heads, **kwargs)
        unknown = [t for t in pos_att_type if t not in POSITION_TERMS]
        if unknown:
            raise ConfigError(
                f"{self.name}: pos_att_type {unknown[0]!r} is not one of "
                f"{', '.join(POSITION_TERMS)}"
            )
        self.pos_att_type = list(pos_att_type)
        self.share_att_key = share_att_key
        self.span = span
        self.position_buckets = position_buckets
        self.max_relative_positions = max_relative_positions
        self.position_dropout_rate = position_dropout_rate

    def build(self, input_shape):
        super().build(input_shape)
        self.position_key = self.position_query = None
        if self.span > 0 and not self.share_att_key:

            def dense(name):
                return keras.layers.Dense(
                    self.num_heads * self.head_size,
                    use_bias=self.use_bias,
                    name=name,
                    kernel_initializer=weight_initializer(self.initializer_range),
                )

            if "c2p" in self.pos_att_type:
                self.position_key = dense("position_key")
            if "p2c" in self.pos_att_type:
                self.position_query = dense("position_query")
        self.position_dropout = Dropout(self.position_dropout_rate)

    def _project(self, table, shared, own, name):
        """[h, 2s, d] projections of the relative ``table`` [2s, H]: by the content
        projection ``shared`` where ``share_att_key``, else by ``own``. ``name``: the
        result's point in QAT (``compression.quantized_layers``)."""
        projection = shared if self.share_att_key else own
        return self._split_heads(projection(table[tf.newaxis]))[0]

    def _position_scores(self, q, k, relative_embeddings, training):
        """c2p + p2c scores [B, h, Q, K], unscaled."""
        table = self.position_dropout(relative_embeddings, training=training)
        relative = relative_positions(
            tf.shape(q)[2], tf.shape(k)[2], self.position_buckets, self.max_relative_positions
        )
        index = tf.clip_by_value(relative + self.span, 0, 2 * self.span - 1)  # [Q, K]
        score = 0.0
        if "c2p" in self.pos_att_type:
            keys = self._project(table, self.key, self.position_key, "position_key_output")
            c2p = self._point("c2p", tf.einsum("bhqd,hrd->bhqr", q, keys))
            score += _take_per_row(c2p, index)
        if "p2c" in self.pos_att_type:
            queries = self._project(table, self.query, self.position_query, "position_query_output")
            p2c = self._point("p2c", tf.einsum("bhkd,hrd->bhkr", k, queries))
            # delta(j, i) = -delta(i, j): key j reads row index[i, j] of its own scores.
            score += tf.transpose(_take_per_row(p2c, tf.transpose(index)), [0, 1, 3, 2])
        return score

    def call(
        self,
        query,
        key_value=None,
        attention_mask=None,
        relative_embeddings=None,
        training=None,
        return_attention_scores=False,
    ):
        key_value = query if key_value is None else key_value
        q = self._split_heads(self.query(query))  # scaled with the sum, below
        k = self._split_heads(self.key(key_value))
        v = self._split_heads(self.value(key_value))
        position_scores = None
        if relative_embeddings is not None and self.span > 0 and self.pos_att_type:
            position_scores = self._position_scores(q, k, relative_embeddings, training)
        allowed = attention_allowed(attention_mask, tf.shape(query)[1], self.causal)
        scale = 1.0 / math.sqrt(self.head_size * (1 + len(self.pos_att_type)))
        output, probs = self._attend(q, k, v, allowed, training, position_scores, scale)
        if return_attention_scores:
            return output, probs
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            pos_att_type=self.pos_att_type,
            share_att_key=self.share_att_key,
            span=self.span,
            position_buckets=self.position_buckets,
            max_relative_positions=self.max_relative_positions,
            position_dropout_rate=self.position_dropout_rate,
        )
        return config


class DisentangledEncoderBlock(TransformerEncoderBlock):
    """A post-LN encoder block whose self-attention is :class:`DisentangledAttention`.

    Call: ``block(x, attention_mask=None, training=None, return_attention_scores=False,
    relative_embeddings=None, key_value=None)``; with ``key_value`` the block reads
    its queries (and residual) from ``x`` and keys/values from ``key_value``, as the base
    block does (the enhanced mask decoder's query stream, the [CLS] row).
    """

    def __init__(
        self,
        num_heads,
        intermediate_size,
        pos_att_type=POSITION_TERMS,
        share_att_key=True,
        span=0,
        position_buckets=-1,
        max_relative_positions=-1,
        **kwargs,
    ):
        super().__init__(num_heads, intermediate_size, **kwargs)
        if self.norm_first or self.causal:
            raise ConfigError(f"{self.name}: DeBERTa blocks are post-LN and bidirectional")
        self.pos_att_type = list(pos_att_type)
        self.share_att_key = share_att_key
        self.span = span
        self.position_buckets = position_buckets
        self.max_relative_positions = max_relative_positions

    def build(self, input_shape):
        super().build(input_shape)
        # Replaces the (never built, variable-free) MultiHeadAttention of the base block.
        self.attention = DisentangledAttention(
            self.num_heads,
            pos_att_type=self.pos_att_type,
            share_att_key=self.share_att_key,
            span=self.span,
            position_buckets=self.position_buckets,
            max_relative_positions=self.max_relative_positions,
            position_dropout_rate=self.dropout_rate,
            head_size=self.head_size,
            dropout_rate=self.attention_dropout_rate,
            initializer_range=self.initializer_range,
            name="attention",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            pos_att_type=self.pos_att_type,
            share_att_key=self.share_att_key,
            span=self.span,
            position_buckets=self.position_buckets,
            max_relative_positions=self.max_relative_positions,
        )
        return config
