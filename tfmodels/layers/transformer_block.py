"""Transformer encoder block: self-attention and feed-forward sublayers.

Post-LN (``norm_first=False``) is the original Transformer/BERT layout,
``LN(x + Sublayer(x))`` (Vaswani et al. 2017, section 3.1); pre-LN
(``norm_first=True``) is ``x + Sublayer(LN(x))`` as in GPT-2 (Radford et al. 2019,
section 2.3) and Xiong et al. 2020. LayerNorm runs in float32 under mixed precision.
T5 (Raffel et al. 2020, section 2.1) is pre-LN with ``norm="rms"`` (RMS LayerNorm),
``use_bias=False`` and unscaled attention (``attention_scale=1.0``).
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.attention import MultiHeadAttention
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.layer_norm import LayerNormalization
from tfmodels.layers.rms_norm import RMSNormalization


def layer_norm(kind, epsilon, name):
    """``"layer"``: LayerNorm (float32 under mixed precision); ``"rms"``: T5's RMS norm."""
    if kind == "rms":
        return RMSNormalization(epsilon=epsilon, name=name)
    return LayerNormalization(epsilon=epsilon, name=name, dtype=tf.float32)


class TransformerEncoderBlock(keras.layers.Layer):
    """One encoder layer: self-attention, then a position-wise feed-forward network,
    each added to its input through dropout (Vaswani et al. 2017, sections 3.1-3.3).

    Args:
      num_heads: attention heads.
      intermediate_size: width of the feed-forward network's hidden layer.
      activation: the feed-forward activation (``gelu``, ``relu``, ``gelu_new``, ...).
      dropout_rate: dropout on each sublayer's output, before the residual sum.
      attention_dropout_rate: dropout on the attention probabilities.
      layer_norm_eps: the norms' epsilon.
      norm_first: pre-LN, ``x + f(LN(x))`` (GPT-2, T5), if True; post-LN,
        ``LN(x + f(x))`` (Transformer, BERT), if False.
      head_size: width of a head; default hidden width / ``num_heads``.
      causal: each position attends to itself and earlier ones only (decoders).
      initializer_range: stddev of the truncated-normal weight initializer.
      norm: ``"layer"`` (LayerNorm, float32 under mixed precision) or ``"rms"`` (T5).
      use_bias: biases in the projections and the feed-forward network (T5: False).
      attention_scale: factor of the attention logits; default 1/sqrt(head_size) (T5: 1).
      activation_dropout_rate: dropout between the feed-forward layers (BART, T5).

    Call: ``block(x, attention_mask=None, training=None, return_attention_scores=False,
    cache=None, cache_index=None, key_value=None, **attention_args)``; ``attention_args``
    (``attention_bias``, a subclass's relative embeddings) go to the attention. With a
    ``cache`` the call is one step of incremental decoding (:meth:`decode_step`). With
    ``key_value`` [B, K, H] the rows of ``x`` [B, Q, H] attend over ``key_value``'s
    (``attention_mask`` is then over those K): given a few rows of a sequence as ``x``
    and the whole sequence as ``key_value``, the block's output at those rows, for a
    fraction of the work (:func:`tfmodels.layers.block_stack.first_token_output`).
    """

    def __init__(
        self,
        num_heads,
        intermediate_size,
        activation="gelu",
        dropout_rate=0.1,
        attention_dropout_rate=0.1,
        layer_norm_eps=1e-12,
        norm_first=False,
        head_size=None,
        causal=False,
        initializer_range=0.02,
        norm="layer",
        use_bias=True,
        attention_scale=None,
        activation_dropout_rate=0.0,
        **kwargs,
    ):
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
        self.norm = norm
        self.use_bias = use_bias
        self.attention_scale = attention_scale
        self.activation_dropout_rate = activation_dropout_rate

    def _attention(self, name, causal):
        return MultiHeadAttention(
            self.num_heads,
            head_size=self.head_size,
            dropout_rate=self.attention_dropout_rate,
            causal=causal,
            use_bias=self.use_bias,
            initializer_range=self.initializer_range,
            scale=self.attention_scale,
            name=name,
        )

    def _layer_norm(self, name):
        return layer_norm(self.norm, self.layer_norm_eps, name)

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.attention = self._attention("attention", self.causal)
        self.attention_layer_norm = self._layer_norm("attention_layer_norm")
        self.intermediate = keras.layers.Dense(
            self.intermediate_size,
            activation=get_activation(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=weight_initializer(self.initializer_range),
            name="intermediate",
        )
        self.output_dense = keras.layers.Dense(
            width,
            use_bias=self.use_bias,
            kernel_initializer=weight_initializer(self.initializer_range),
            name="output",
        )
        self.output_layer_norm = self._layer_norm("output_layer_norm")
        self.dropout = Dropout(self.dropout_rate)
        # Between the two feed-forward layers (BART's activation_dropout, T5's dropout in
        # DenseReluDense); None when off, so older graphs stay as they were.
        self.activation_dropout = (
            Dropout(self.activation_dropout_rate) if self.activation_dropout_rate else None
        )
        super().build(input_shape)

    def call(
        self,
        x,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        cache=None,
        cache_index=None,
        key_value=None,
        **attention_args,
    ):
        if cache is not None:
            return self.decode_step(
                x, cache, cache_index, attention_mask, training, **attention_args
            )
        if key_value is not None:
            attention_args["key_value"] = self.pre_norm(key_value, self.attention_layer_norm)
        h, scores = self.attention(
            self.pre_norm(x, self.attention_layer_norm),
            attention_mask=attention_mask,
            training=training,
            return_attention_scores=True,
            **attention_args,
        )
        x = self.add(x, h, self.attention_layer_norm, training)
        h = self.feed_forward(self.pre_norm(x, self.output_layer_norm), training)
        x = self.add(x, h, self.output_layer_norm, training)
        return (x, scores) if return_attention_scores else x

    def decode_step(
        self, x, cache, cache_index, attention_mask=None, training=None, **attention_args
    ):
        """``x``: the new positions; their keys and values are written into ``cache``
        (this layer's, from the attention) at ``cache_index``. Returns ``(x, cache)``."""
        x, cache = self.self_attend_cached(
            x, cache, cache_index, attention_mask, training, **attention_args
        )
        h = self.feed_forward(self.pre_norm(x, self.output_layer_norm), training)
        return self.add(x, h, self.output_layer_norm, training), cache

    def self_attend_cached(self, x, cache, cache_index, attention_mask, training, **attention_args):
        """The self-attention sublayer over a key/value cache: ``(x, updated cache)``."""
        h, cache = self.attention(
            self.pre_norm(x, self.attention_layer_norm),
            attention_mask=attention_mask,
            training=training,
            return_attention_scores=True,
            cache=cache,
            cache_index=cache_index,
            **attention_args,
        )
        return self.add(x, h, self.attention_layer_norm, training), cache

    def pre_norm(self, x, norm):
        """A sublayer's input: ``norm(x)`` in a pre-LN block, else ``x``."""
        return tf.cast(norm(x), self.compute_dtype) if self.norm_first else x

    def add(self, x, h, norm, training):
        """The residual sum of a sublayer's output ``h``, normalized in a post-LN block."""
        x = x + self.dropout(h, training=training)
        return x if self.norm_first else tf.cast(norm(x), self.compute_dtype)

    def feed_forward(self, h, training):
        """The position-wise feed-forward network (section 3.3)."""
        h = self.intermediate(h)
        if self.activation_dropout is not None:
            h = self.activation_dropout(h, training=training)
        return self.output_dense(h)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            norm_first=self.norm_first,
            head_size=self.head_size,
            causal=self.causal,
            initializer_range=self.initializer_range,
        )
        # Only when set: older saved configs stay as they were.
        for name, default in (
            ("norm", "layer"),
            ("use_bias", True),
            ("attention_scale", None),
            ("activation_dropout_rate", 0.0),
        ):
            if getattr(self, name) != default:
                config[name] = getattr(self, name)
        return config
