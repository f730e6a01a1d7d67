"""Transformer encoder block: self-attention and feed-forward sublayers.

Post-LN (``norm_first=False``) is the original Transformer/BERT layout,
``LN(x + Sublayer(x))`` (Vaswani et al. 2017, section 3.1); pre-LN
(``norm_first=True``) is ``x + Sublayer(LN(x))`` as in GPT-2 (Radford et al. 2019,
section 2.3) and Xiong et al. 2020. LayerNorm runs in float32 under mixed precision.
"""
import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.initializer import weight_initializer

from tfmodels.layers.activations import get_activation
from tfmodels.layers.attention import MultiHeadAttention


class TransformerEncoderBlock(keras.layers.Layer):
    """Call: ``block(x, attention_mask=None, training=None, return_attention_scores=False,
    head_gate=None)``; ``head_gate`` [B, heads] goes to the attention (see MultiHeadAttention).
    """

    def __init__(self, num_heads, intermediate_size, activation="gelu", dropout_rate=0.1,
                 attention_dropout_rate=0.1, layer_norm_eps=1e-12, norm_first=False,
                 head_size=None, causal=False, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.norm_first = norm_first
        self.head_size = head_size
        self.causal = causal
        self.initializer_range = initializer_range

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.attention = MultiHeadAttention(
            self.num_heads, head_size=self.head_size, dropout_rate=self.attention_dropout_rate,
            causal=self.causal, initializer_range=self.initializer_range, name="attention")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="attention_layer_norm", dtype=tf.float32)
        self.intermediate = keras.layers.Dense(
            self.intermediate_size, activation=get_activation(self.activation),
            kernel_initializer=weight_initializer(self.initializer_range), name="intermediate")
        self.output_dense = keras.layers.Dense(
            width, kernel_initializer=weight_initializer(self.initializer_range), name="output")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="output_layer_norm", dtype=tf.float32)
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        super().build(input_shape)

    def _residual(self, x, sublayer, layer_norm, training):
        """One sublayer with dropout, residual connection and LayerNorm (pre or post)."""
        if self.norm_first:
            y = sublayer(tf.cast(layer_norm(x), self.compute_dtype))
            return x + self.dropout(y, training=training)
        y = sublayer(x)
        return tf.cast(layer_norm(x + self.dropout(y, training=training)), self.compute_dtype)

    def call(self, x, attention_mask=None, training=None, return_attention_scores=False,
             **attention_args):
        """``attention_args`` go to the attention layer: ``head_gate`` for
        MultiHeadAttention, relative embeddings for a subclass's own attention."""
        scores = []

        def attend(h):
            out, probs = self.attention(h, attention_mask=attention_mask, training=training,
                                        return_attention_scores=True, **attention_args)
            scores.append(probs)
            return out

        x = self._residual(x, attend, self.attention_layer_norm, training)
        x = self._residual(x, lambda h: self.output_dense(self.intermediate(h)),
                           self.output_layer_norm, training)
        if return_attention_scores:
            return x, scores[0]
        return x

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, intermediate_size=self.intermediate_size,
                      activation=self.activation, dropout_rate=self.dropout_rate,
                      attention_dropout_rate=self.attention_dropout_rate,
                      layer_norm_eps=self.layer_norm_eps, norm_first=self.norm_first,
                      head_size=self.head_size, causal=self.causal,
                      initializer_range=self.initializer_range)
        return config
