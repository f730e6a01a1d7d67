"""Span boundary objective head (SpanBERT, Joshi et al. 2020, section 3.2).

Each token x_i of a masked span (s..e) is predicted from the encodings of the two
boundary tokens and a relative position embedding:
``y_i = f(x_{s-1}, x_{e+1}, p_{i-s+1})``, where f is a two-layer feed-forward
network with GeLU and LayerNorm after each layer; the MLM output embedding
(the word table, tied) turns y_i into token logits. As in the reference code
the relative position table is 200 wide and 20 rows deep, the head has its own
output bias, and index ``i - s`` (0-based) is the paper's p_{i-s+1}.

The second layer and the tied decoder are exactly a :class:`MaskedLMHead`
(Dense + GeLU + LayerNorm, then logits against the word table plus a bias), so
the head reuses it with its own weights.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.embeddings import TransformerEmbeddings
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.masked_lm_head import MaskedLMHead


def span_relative_positions(positions, span_left):
    """``i - s`` for masked positions i whose span starts at s = span_left + 1."""
    return positions - span_left - 1


class SpanBoundaryHead(keras.layers.Layer):
    """Call: ``head(sequence_output, positions, span_left, span_right)`` -> logits [B, P, V].

    ``sequence_output`` is [B, S, H]; the other three are int [B, P] (masked
    positions and their span's boundary indexes s-1 and e+1). Positions with
    ``i - s >= max_positions`` have no embedding row; they are clipped to the
    last one here and should be left out of the loss (the reference drops them).
    """

    def __init__(
        self,
        embedding_layer,
        max_positions=20,
        position_size=200,
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
        get_activation(activation)  # an unknown name fails here, not in build
        self.embedding_layer = embedding_layer
        self.max_positions = max_positions
        self.position_size = position_size
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden = int(input_shape[-1])
        self.position_embeddings = self.add_weight(
            "position_embeddings",
            [self.max_positions, self.position_size],
            initializer=weight_initializer(self.initializer_range),
        )
        self.dense = keras.layers.Dense(
            hidden,
            activation=get_activation(self.activation),
            kernel_initializer=weight_initializer(self.initializer_range),
            name="dense",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
        )
        # Second FFN layer + GeLU + LayerNorm + tied decoder with its own bias.
        self.output_head = MaskedLMHead(
            self.embedding_layer,
            activation=self.activation,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            name="output",
        )
        # Sub-layers are built now (each in its own name scope, as a first call would)
        # so every variable exists before an optimizer or a checkpoint looks for them;
        # MaskedLMHead makes its Dense/LayerNorm in build but builds them on first call.
        for layer, width in (
            (self.dense, 2 * hidden + self.position_size),
            (self.layer_norm, hidden),
        ):
            with tf.name_scope(layer.name):
                layer.build(tf.TensorShape([None, None, width]))
        head = self.output_head
        with tf.name_scope(head.name):
            head.build(tf.TensorShape([None, None, hidden]))
            for layer, width in (
                (head.transform, hidden),
                (head.layer_norm, self.embedding_layer.embedding_size),
            ):
                with tf.name_scope(layer.name):
                    layer.build(tf.TensorShape([None, None, width]))
        super().build(input_shape)

    def boundary_inputs(self, sequence_output, positions, span_left, span_right):
        """f's input [B, P, 2H + position_size]: x_{s-1}, x_{e+1}, p_{i-s+1} concatenated."""
        left = tf.gather(sequence_output, span_left, batch_dims=1)
        right = tf.gather(sequence_output, span_right, batch_dims=1)
        relative = tf.clip_by_value(
            span_relative_positions(positions, span_left), 0, self.max_positions - 1
        )
        table = tf.cast(self.position_embeddings, sequence_output.dtype)
        return tf.concat([left, right, tf.gather(table, relative)], axis=-1)

    def call(self, sequence_output, positions, span_left, span_right):
        x = self.boundary_inputs(sequence_output, positions, span_left, span_right)
        x = tf.cast(self.layer_norm(self.dense(x)), self.compute_dtype)
        return self.output_head(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_layer=keras.layers.serialize(self.embedding_layer),
            max_positions=self.max_positions,
            position_size=self.position_size,
            activation=self.activation,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
