"""MobileBERT's bottleneck Transformer block (Sun et al. 2020, section 3, Figure 1).

Between blocks the features are H wide (512 for both MobileBERT and its IB-BERT
teacher); inside a block a Dense maps them to the intra-block width (128 in
MobileBERT: a *bottleneck*; 1024 in IB-BERT: an *inverted* bottleneck), the
attention and feed-forward sublayers run at that width, and a Dense maps back
to H with a residual connection to the block input ("Bottleneck and
Inverted-Bottleneck"). MobileBERT's queries and keys come from one shared
bottleneck of the block input while its values come from the wide input
itself (``key_query_shared_bottleneck``), and it stacks several small FFNs
after the attention to keep the attention/FFN parameter ratio of BERT
("Stacked Feed-Forward Networks"). Norms are NoNorm or LayerNorm
("Operational Optimizations").
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers.activations import get_activation
from tfmodels.layers.attention import MultiHeadAttention, attention_allowed
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.no_norm import normalization

# The HF port builds the last FFN's LayerNorm without ``eps``: PyTorch's default.
TORCH_LAYER_NORM_EPS = 1e-5


class SplitValueAttention(MultiHeadAttention):
    """Multi-head attention whose values come from another tensor than its keys.

    Call: ``layer(query, key_value=None, value=None, ...)``; ``value`` defaults to
    ``key_value`` (then this is :class:`MultiHeadAttention`). MobileBERT feeds
    the shared bottleneck as query and key and the block input as value.
    """

    def call(
        self,
        query,
        key_value=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        value=None,
    ):
        key = query if key_value is None else key_value
        value = key if value is None else value
        q = self._scaled_query(query)
        k = self._split_heads(self.key(key))
        v = self._split_heads(self.value(value))
        allowed = attention_allowed(attention_mask, tf.shape(query)[1], self.causal)
        output, probs = self._attend(q, k, v, allowed, training)
        if return_attention_scores:
            return output, probs
        return output


class FeedForward(keras.layers.Layer):
    """``norm(x + dropout(W2 act(W1 x)))``: one FFN sublayer with its residual and norm."""

    def __init__(
        self,
        intermediate_size,
        activation="relu",
        normalization_type="no_norm",
        layer_norm_eps=1e-12,
        dropout_rate=0.0,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.normalization_type = normalization_type
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.intermediate = keras.layers.Dense(
            self.intermediate_size,
            activation=get_activation(self.activation),
            kernel_initializer=weight_initializer(self.initializer_range),
            name="intermediate",
        )
        self.output_dense = keras.layers.Dense(
            int(input_shape[-1]),
            kernel_initializer=weight_initializer(self.initializer_range),
            name="output",
        )
        self.layer_norm = normalization(
            self.normalization_type, self.layer_norm_eps, name="layer_norm"
        )
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def call(self, x, training=None):
        y = self.dropout(self.output_dense(self.intermediate(x)), training=training)
        return tf.cast(self.layer_norm(x + y), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            normalization_type=self.normalization_type,
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config


class BottleneckEncoderBlock(keras.layers.Layer):
    """Call: ``block(x, attention_mask=None, training=None, return_attention_scores=False)``.

    ``x`` is [B, S, H]; so is the result. ``intra_size`` is the width inside the
    block (< H: bottleneck, > H: inverted bottleneck). With
    ``use_bottleneck=False`` the block is a post-LN BERT block of width H with
    ``num_ffn`` stacked FFNs. ``use_bottleneck_attention`` feeds the input
    bottleneck to query, key and value alike.
    """

    def __init__(
        self,
        num_heads,
        intra_size,
        intermediate_size,
        num_ffn=1,
        activation="relu",
        normalization_type="no_norm",
        use_bottleneck=True,
        key_query_shared_bottleneck=False,
        use_bottleneck_attention=False,
        dropout_rate=0.0,
        attention_dropout_rate=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_ffn < 1:
            raise ConfigError(f"{self.name}: num_feedforward_networks must be >= 1, got {num_ffn}")
        self.num_heads = num_heads
        self.intra_size = intra_size
        self.intermediate_size = intermediate_size
        self.num_ffn = num_ffn
        self.activation = activation
        self.normalization_type = normalization_type
        self.use_bottleneck = use_bottleneck
        self.key_query_shared_bottleneck = key_query_shared_bottleneck
        self.use_bottleneck_attention = use_bottleneck_attention
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def _dense(self, units, name):
        return keras.layers.Dense(
            units, kernel_initializer=weight_initializer(self.initializer_range), name=name
        )

    def _norm(self, name, epsilon=None):
        return normalization(
            self.normalization_type, self.layer_norm_eps if epsilon is None else epsilon, name=name
        )

    def _ffn(self, index, last):
        return FeedForward(
            self.intermediate_size,
            self.activation,
            self.normalization_type,
            TORCH_LAYER_NORM_EPS if last else self.layer_norm_eps,
            dropout_rate=self.dropout_rate if last and not self.use_bottleneck else 0.0,
            initializer_range=self.initializer_range,
            name=f"ffn_{index}",
        )

    def build(self, input_shape):
        width = int(input_shape[-1])
        inner = self.intra_size if self.use_bottleneck else width
        if inner % self.num_heads:
            raise ConfigError(
                f"{self.name}: intra-block width {inner} is not divisible by {self.num_heads} heads"
            )
        self.input_bottleneck = self.input_bottleneck_norm = None
        self.attention_bottleneck = self.attention_bottleneck_norm = None
        self.output_bottleneck = self.output_norm = None
        if self.use_bottleneck:
            self.input_bottleneck = self._dense(inner, "input_bottleneck")
            self.input_bottleneck_norm = self._norm("input_bottleneck_norm")
            if self.key_query_shared_bottleneck:
                self.attention_bottleneck = self._dense(inner, "attention_bottleneck")
                self.attention_bottleneck_norm = self._norm("attention_bottleneck_norm")
                if self.use_bottleneck_attention:
                    # Unused then, but the reference has these weights: build them so
                    # that its checkpoints load and save unchanged.
                    self.attention_bottleneck.build(input_shape)
                    self.attention_bottleneck_norm.build(input_shape[:-1] + (inner,))
            self.output_bottleneck = self._dense(width, "output_bottleneck")
            self.output_norm = self._norm("output_norm")
        self.attention = SplitValueAttention(
            self.num_heads,
            head_size=inner // self.num_heads,
            output_size=inner,
            dropout_rate=self.attention_dropout_rate,
            initializer_range=self.initializer_range,
            name="attention",
        )
        self.attention_norm = self._norm("attention_norm")
        # Stacked FFNs; the last one is BERT's own FFN and, in the HF port, the only
        # one with dropout (without bottleneck) and with PyTorch's default LayerNorm eps.
        self.ffns = [self._ffn(i, last=i == self.num_ffn - 1) for i in range(self.num_ffn)]
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def _normed(self, layer, x):
        return tf.cast(layer(x), self.compute_dtype)

    def call(self, x, attention_mask=None, training=None, return_attention_scores=False):
        query = value = residual = x
        if self.use_bottleneck:
            residual = self._normed(self.input_bottleneck_norm, self.input_bottleneck(x))
            if self.use_bottleneck_attention:
                query = value = residual
            elif self.attention_bottleneck is not None:
                query = self._normed(self.attention_bottleneck_norm, self.attention_bottleneck(x))
        attended, probs = self.attention(
            query,
            key_value=query,
            value=value,
            attention_mask=attention_mask,
            training=training,
            return_attention_scores=True,
        )
        if not self.use_bottleneck:
            attended = self.dropout(attended, training=training)
        h = self._normed(self.attention_norm, residual + attended)
        for ffn in self.ffns:
            h = ffn(h, training=training)
        if self.use_bottleneck:
            h = self.dropout(self.output_bottleneck(h), training=training)
            h = self._normed(self.output_norm, x + h)
        if return_attention_scores:
            return h, probs
        return h

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intra_size=self.intra_size,
            intermediate_size=self.intermediate_size,
            num_ffn=self.num_ffn,
            activation=self.activation,
            normalization_type=self.normalization_type,
            use_bottleneck=self.use_bottleneck,
            key_query_shared_bottleneck=self.key_query_shared_bottleneck,
            use_bottleneck_attention=self.use_bottleneck_attention,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
