"""Masked-LM head whose output table is the word table widened to the model width.

MobileBERT's word table is E = 128 wide but its features are H = 512 wide
(Sun et al. 2020, "Embedding Factorization"). Its MLM head keeps the H -> H
transform and scores against ``[word_embeddings | extra]`` ([V, E] next to a
free [V, H - E] block), so the tied table still carries the first E columns.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.masked_lm_head import MaskedLMHead
from tfmodels.layers.trigram_embeddings import TrigramEmbeddings


class ExtendedMaskedLMHead(MaskedLMHead):
    """Call: ``head(sequence_output)`` [B, S, H] -> logits [B, S, V].

    ``extra_output_weights`` is [V, H - E] (None when H == E).
    """

    def __init__(self, embedding_layer, **kwargs):
        if isinstance(embedding_layer, dict):
            embedding_layer = keras.layers.deserialize(
                embedding_layer, custom_objects={"TrigramEmbeddings": TrigramEmbeddings}
            )
        super().__init__(embedding_layer, **kwargs)

    def build(self, input_shape):
        width = int(input_shape[-1])
        vocab, table_width = self.embedding_layer.vocab_size, self.embedding_layer.embedding_size
        self.transform = keras.layers.Dense(
            width,
            activation=get_activation(self.activation),
            kernel_initializer=weight_initializer(self.initializer_range),
            name="transform",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
        )
        self.bias = self.add_weight("output_bias", [vocab], initializer="zeros")
        self.extra_output_weights = None
        if width > table_width:
            self.extra_output_weights = self.add_weight(
                "extra_output_weights",
                [vocab, width - table_width],
                initializer=weight_initializer(self.initializer_range),
            )
        # MaskedLMHead.build would size the transform by the table width; skip it.
        keras.layers.Layer.build(self, input_shape)

    def call(self, sequence_output):
        x = tf.cast(self.layer_norm(self.transform(sequence_output)), self.compute_dtype)
        table = self.embedding_layer.word_embeddings
        if self.extra_output_weights is not None:
            table = tf.concat([table, self.extra_output_weights], axis=1)
        logits = tf.einsum("bsh,vh->bsv", x, tf.cast(table, self.compute_dtype))
        return logits + tf.cast(self.bias, self.compute_dtype)
