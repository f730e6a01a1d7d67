"""MobileBERT's input embedding: narrow word table, trigram convolution (Sun et al. 2020, 3.2).

The word table is only E = 128 wide; each token's vector is concatenated with
its right and left neighbours' (a kernel-3 1-D convolution written as a concat
and a Dense, "embedding factorization") and projected to the model width H.
Position and token-type tables are H wide and added *after* the projection,
then NoNorm or LayerNorm — which is why :class:`TransformerEmbeddings` (sum at
width E, project after the norm) cannot express it.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.dropout import Dropout
from tfmodels.layers.embeddings import lookup
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.no_norm import normalization


class TrigramEmbeddings(keras.layers.Layer):
    """Call: ``layer(input_ids, segment_ids=None, training=None)`` -> [B, S, H].

    ``trigram=False`` embeds each token alone (projected only when E != H).
    The HF port builds this norm without passing ``layer_norm_eps``, so
    checkpoints were trained with PyTorch's default 1e-5 here.
    """

    def __init__(
        self,
        vocab_size,
        embedding_size,
        hidden_size,
        max_positions=512,
        type_vocab_size=2,
        trigram=True,
        normalization_type="no_norm",
        layer_norm_eps=1e-5,
        dropout_rate=0.0,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.max_positions = max_positions
        self.type_vocab_size = type_vocab_size
        self.trigram = trigram
        self.normalization_type = normalization_type
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range

    def build(self, input_shape):
        init = self.initializer_range
        self.word_embeddings = self.add_weight(
            "word_embeddings",
            [self.vocab_size, self.embedding_size],
            initializer=weight_initializer(init),
        )
        self.position_embeddings = self.add_weight(
            "position_embeddings",
            [self.max_positions, self.hidden_size],
            initializer=weight_initializer(init),
        )
        self.token_type_embeddings = None
        if self.type_vocab_size:
            self.token_type_embeddings = self.add_weight(
                "token_type_embeddings",
                [self.type_vocab_size, self.hidden_size],
                initializer=weight_initializer(init),
            )
        self.projection = None
        if self.trigram or self.embedding_size != self.hidden_size:
            self.projection = keras.layers.Dense(
                self.hidden_size, kernel_initializer=weight_initializer(init), name="projection"
            )
        self.layer_norm = normalization(
            self.normalization_type, self.layer_norm_eps, name="layer_norm"
        )
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def call(self, input_ids, segment_ids=None, training=None):
        x = tf.cast(lookup(self.word_embeddings, input_ids), self.compute_dtype)
        if self.trigram:
            # [next token, this token, previous token], zero beyond the ends.
            x = tf.concat(
                [
                    tf.pad(x[:, 1:], [[0, 0], [0, 1], [0, 0]]),
                    x,
                    tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0]]),
                ],
                axis=-1,
            )
        if self.projection is not None:
            x = self.projection(x)
        length = tf.shape(input_ids)[1]
        x += tf.cast(tf.gather(self.position_embeddings, tf.range(length)), self.compute_dtype)[
            tf.newaxis
        ]
        if self.token_type_embeddings is not None:
            if segment_ids is None:
                segment_ids = tf.zeros_like(input_ids)
            x += tf.cast(tf.gather(self.token_type_embeddings, segment_ids), self.compute_dtype)
        x = tf.cast(self.layer_norm(x), self.compute_dtype)
        return self.dropout(x, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            hidden_size=self.hidden_size,
            max_positions=self.max_positions,
            type_vocab_size=self.type_vocab_size,
            trigram=self.trigram,
            normalization_type=self.normalization_type,
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config
