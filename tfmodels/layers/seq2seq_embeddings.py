"""Inputs of an encoder-decoder: one token table shared by encoder, decoder and LM head.

Vaswani et al. 2017 (section 3.4) "share the same weight matrix between the two
embedding layers and the pre-softmax linear transformation" and multiply the
embeddings by sqrt(d_model); their positions are sinusoids (section 3.5). BART
(Lewis et al. 2020) keeps the table shared but learns positions (numbered from 2)
and normalizes the sum; T5 (Raffel et al. 2020, section 2.1) adds no positions at
all (its attention carries relative position biases).
"""

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.dropout import Dropout
from tfmodels.layers.embeddings import lookup
from tfmodels.layers.initializer import weight_initializer


class TokenEmbeddings(keras.layers.Layer):
    """The token table [V, H]: ``layer(ids)`` looks rows up, ``layer.logits(x)`` is
    the tied output projection x · tableᵀ."""

    def __init__(self, vocab_size, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings",
            [self.vocab_size, self.hidden_size],
            initializer=weight_initializer(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, ids):
        return lookup(self.embeddings, ids)

    def logits(self, x):
        table = tf.cast(self.embeddings, x.dtype)
        return tf.einsum("bth,vh->btv", x, table)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            initializer_range=self.initializer_range,
        )
        return config


def sinusoids(length, width):
    """Vaswani et al. 2017, section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)),
    PE(pos, 2i+1) = cos(...), interleaved as in the paper."""
    positions = np.arange(length)[:, None]
    rates = np.power(10000.0, -np.arange(0, width, 2) / width)[None]
    table = np.zeros([length, width], np.float32)
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)[:, : width // 2]
    return table


class StackInputs(keras.layers.Layer):
    """``dropout(norm(scale · tokens(ids) + positions))`` for one side of an
    encoder-decoder; ``tokens`` is the shared :class:`TokenEmbeddings`.

    Call: ``layer(ids, positions=None, training=None)``; ``positions`` [B, T]
    default to 0..T-1 (incremental decoding passes the step's own).
    ``position_type``: ``None`` (T5), ``"learned"`` (BART, numbered from
    ``position_offset``) or ``"sinusoidal"`` (Transformer, not trained).
    ``scale``: ``"sqrt"`` multiplies the tokens by sqrt(H) (Transformer, BART with
    ``scale_embedding``).
    """

    def __init__(
        self,
        tokens,
        max_positions=0,
        position_type=None,
        position_offset=0,
        scale=None,
        layer_norm=False,
        layer_norm_eps=1e-5,
        dropout_rate=0.0,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.tokens = tokens
        self.max_positions = max_positions
        self.position_type = position_type
        self.position_offset = position_offset
        self.scale = scale
        self.use_layer_norm = layer_norm
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range

    def build(self, input_shape):
        width = self.tokens.hidden_size
        self.position_embeddings = None
        if self.position_type == "learned":
            self.position_embeddings = self.add_weight(
                "position_embeddings",
                [self.max_positions + self.position_offset, width],
                initializer=weight_initializer(self.initializer_range),
            )
        elif self.position_type == "sinusoidal":
            self.position_embeddings = tf.constant(sinusoids(self.max_positions, width))
        self.layer_norm = None
        if self.use_layer_norm:
            self.layer_norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
            )
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def call(self, ids, positions=None, training=None):
        x = self.tokens(ids)
        if self.scale == "sqrt":
            x *= math.sqrt(self.tokens.hidden_size)
        if self.position_embeddings is not None:
            if positions is None:
                positions = tf.range(tf.shape(ids)[1])[tf.newaxis]
            table = tf.cast(self.position_embeddings, x.dtype)
            x += tf.gather(table, positions + self.position_offset)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return tf.cast(self.dropout(x, training=training), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            tokens=keras.layers.serialize(self.tokens),
            max_positions=self.max_positions,
            position_type=self.position_type,
            position_offset=self.position_offset,
            scale=self.scale,
            layer_norm=self.use_layer_norm,
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config


class TokenLogits(keras.layers.Layer):
    """The tied LM head of an encoder-decoder: ``(scale · x) · tableᵀ (+ bias)``.

    T5 rescales the decoder output by ``d_model ** -0.5`` before the tied
    projection; BART adds ``final_logits_bias`` [V] (``bias=True``, not trained,
    as in the reference, where it is a buffer).
    """

    def __init__(self, tokens, scale=1.0, bias=False, **kwargs):
        super().__init__(**kwargs)
        self.tokens = tokens
        self.scale = scale
        self.use_bias = bias

    def build(self, input_shape):
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "final_logits_bias", [self.tokens.vocab_size], initializer="zeros", trainable=False
            )
        super().build(input_shape)

    def call(self, x):
        logits = self.tokens.logits(x * self.scale if self.scale != 1.0 else x)
        if self.bias is not None:
            logits += tf.cast(self.bias, logits.dtype)
        return logits

    def get_config(self):
        config = super().get_config()
        config.update(
            tokens=keras.layers.serialize(self.tokens), scale=self.scale, bias=self.use_bias
        )
        return config
