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

    def call(
        self,
        x,
        encoder_output=None,
        attention_mask=None,
        encoder_mask=None,
        training=None,
        cache=None,
        cross_cache=None,
        cache_index=None,
        attention_bias=None,
    ):
        args = {} if attention_bias is None else {"attention_bias": attention_bias}
        if cache is not None:
            return self.decode_step(
                x,
                cache,
                cache_index,
                attention_mask,
                training,
                encoder_mask=encoder_mask,
                cross_cache=cross_cache,
                **args,
            )
        h = self.attention(
            self.pre_norm(x, self.attention_layer_norm),
            attention_mask=attention_mask,
            training=training,
            **args,
        )
        x = self.add(x, h, self.attention_layer_norm, training)
        h = self.cross_attention(
            self.pre_norm(x, self.cross_attention_layer_norm),
            encoder_output,
            attention_mask=encoder_mask,
            training=training,
        )
        x = self.add(x, h, self.cross_attention_layer_norm, training)
        h = self.feed_forward(self.pre_norm(x, self.output_layer_norm), training)
        return self.add(x, h, self.output_layer_norm, training)

    def decode_step(
        self,
        x,
        cache,
        cache_index,
        attention_mask=None,
        training=None,
        encoder_mask=None,
        cross_cache=None,
        **attention_args,
    ):
        """One step over ``cache`` (self-attention keys/values, written at
        ``cache_index``) and ``cross_cache`` (the encoder's, fixed); ``(x, cache)``."""
        x, cache = self.self_attend_cached(
            x, cache, cache_index, attention_mask, training, **attention_args
        )
        h = self.cross_attention(
            self.pre_norm(x, self.cross_attention_layer_norm),
            attention_mask=encoder_mask,
            training=training,
            cache=cross_cache,
        )[0]
        x = self.add(x, h, self.cross_attention_layer_norm, training)
        h = self.feed_forward(self.pre_norm(x, self.output_layer_norm), training)
        return self.add(x, h, self.output_layer_norm, training), cache

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        return config
