"""Transformer decoder block: causal self-attention, cross-attention, feed-forward.

The decoder layer of Vaswani et al. 2017 (section 3.1): "in addition to the two
sub-layers in each encoder layer, the decoder inserts a third sub-layer, which
performs multi-head attention over the output of the encoder stack". It is
:class:`TransformerEncoderBlock` (causal) with that sub-layer between its two,
so post-LN (Transformer, BART) and pre-LN/RMS (T5) come from the same options.
"""
from tfmodels.layers.transformer_block import TransformerEncoderBlock


class TransformerDecoderBlock(TransformerEncoderBlock):
    """Call: ``block(x, encoder_output, attention_mask=None, encoder_mask=None,
    training=None, cache=None, cross_cache=None, cache_index=None, attention_bias=None)``.

    ``attention_mask`` is the decoder's padding [B, T] (or [B, L] over a cache);
    ``encoder_mask`` [B, S] the encoder's. For incremental decoding pass ``cache``
    (self-attention keys/values, written at ``cache_index``) and ``cross_cache``
    (the encoder's keys/values from ``cross_attention.project_key_value``, fixed);
    the block then returns ``(x, cache)``.
    """

    def __init__(self, *args, **kwargs):
        kwargs["causal"] = True
        super().__init__(*args, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.cross_attention = self._attention("cross_attention", causal=False)
        self.cross_attention_layer_norm = self._layer_norm("cross_attention_layer_norm")

    def call(self, x, encoder_output=None, attention_mask=None, encoder_mask=None,
             training=None, cache=None, cross_cache=None, cache_index=None,
             attention_bias=None):
        args = {} if attention_bias is None else {"attention_bias": attention_bias}
        x, probs_or_cache = self._self_attention(x, attention_mask, training, cache,
                                                 cache_index, args)

        def attend(h):
            if cross_cache is not None:
                return self.cross_attention(h, attention_mask=encoder_mask, training=training,
                                            cache=cross_cache)[0]
            return self.cross_attention(h, encoder_output, attention_mask=encoder_mask,
                                        training=training)

        x = self._residual(x, attend, self.cross_attention_layer_norm, training)
        x = self._feed_forward(x, training)
        if cache is not None:
            return x, probs_or_cache
        return x

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        return config
