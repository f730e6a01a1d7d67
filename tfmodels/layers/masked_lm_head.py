"""Masked-LM head (Devlin et al. 2019, section 3.1, task #1).

Dense + activation + LayerNorm, then logits against the *input* word-embedding
table (weights tied, Press & Wolf 2017) plus a per-token output bias. The table
width E can differ from the model width H (ALBERT), so the Dense maps H -> E.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.embeddings import TransformerEmbeddings
from tfmodels.layers.initializer import weight_initializer


class MaskedLMHead(keras.layers.Layer):
    """Call: ``head(sequence_output)`` [B, S, H] -> logits [B, S, V].

    ``embedding_layer`` is the model's :class:`TransformerEmbeddings`, whose word
    table is shared. A head rebuilt alone by ``from_config`` gets its own copy of
    that layer; models rebuild the tie themselves.
    """

    def __init__(
        self,
        embedding_layer,
        activation="gelu",
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(embedding_layer, dict):
            embedding_layer = keras.layers.deserialize(
                embedding_layer, custom_objects={"TransformerEmbeddings": TransformerEmbeddings}
            )
        self.embedding_layer = embedding_layer
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.transform = keras.layers.Dense(
            self.embedding_layer.embedding_size,
            activation=get_activation(self.activation),
            kernel_initializer=weight_initializer(self.initializer_range),
            name="transform",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
        )
        self.bias = self.add_weight(
            "output_bias", [self.embedding_layer.vocab_size], initializer="zeros"
        )
        super().build(input_shape)

    def call(self, sequence_output):
        x = tf.cast(self.layer_norm(self.transform(sequence_output)), self.compute_dtype)
        table = tf.cast(self.embedding_layer.word_embeddings, self.compute_dtype)
        logits = tf.einsum("bse,ve->bsv", x, table)
        return logits + tf.cast(self.bias, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_layer=keras.layers.serialize(self.embedding_layer),
            activation=self.activation,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
