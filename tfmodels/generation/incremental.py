"""Incremental decoding: each step runs only the new tokens, against cached keys/values.

Without a cache every step recomputes every earlier position (quadratic work);
with it, step t attends over the keys/values already stored for positions < t
and adds its own (Vaswani et al. 2017, section 3.2.3's masked self-attention,
evaluated one query at a time). The cache has a fixed size ``L = T0 + new tokens``
and is written in place, so the decoding loops keep static shapes.

A model opts in with :class:`IncrementalDecoding` and four members that its own
forward pass also uses, so cached and full computations share every weight:

- ``decoder_blocks``: the causal blocks (:class:`TransformerEncoderBlock` with
  ``causal=True`` for decoder-only models, :class:`TransformerDecoderBlock` for
  encoder-decoders);
- ``decoder_inputs(ids, positions)`` -> [N, T, H]: embeddings of ``ids`` at
  ``positions`` [N, T] (0-based, padding excluded);
- ``decoder_outputs(x)`` -> logits [N, T, V] (final norm and LM head);
- ``decoder_self_bias(query_positions, key_length)`` -> [1, heads, T, L] or None
  (T5's relative position bias);
and, for encoder-decoders (``is_encoder_decoder = True``), ``encode(features)``
-> [N, S, H] and ``decoder_start_id``.
"""

import tensorflow as tf


def left_align(input_ids, input_mask, pad_id=0):
    """Right-padded prompts [N, P] moved to the right edge (padding on the left), so
    every row's last prompt token is at P - 1 and generation appends at P."""
    length = tf.shape(input_ids)[1]
    shift = length - tf.reduce_sum(tf.cast(input_mask, tf.int32), axis=1)
    slots = tf.range(length)[tf.newaxis]
    source = tf.math.floormod(slots - shift[:, tf.newaxis], length)
    mask = tf.cast(slots >= shift[:, tf.newaxis], tf.int32)
    ids = tf.gather(input_ids, source, batch_dims=1)
    return tf.where(mask > 0, ids, tf.cast(pad_id, ids.dtype)), mask


class IncrementalDecoding:
    """Mixin: ``start_generation`` and ``decode_step`` for :mod:`tfmodels.generation.search`."""

    is_encoder_decoder = False

    def _empty_cache(self, batch, length):
        layers = []
        for block in self.decoder_blocks:
            attention = block.attention
            shape = [batch, attention.num_heads, length, attention.head_size]
            layers.append(
                {
                    "key": tf.zeros(shape, attention.compute_dtype),
                    "value": tf.zeros(shape, attention.compute_dtype),
                }
            )
        return layers

    def start_generation(self, features, max_new_tokens):
        """First decoder input [N, T0] and the cache for ``T0 + max_new_tokens`` slots.

        Decoder-only: the prompt ``input_ids`` (right-padded, ``input_mask``) moved to
        the left-padded layout. Encoder-decoder: ``decoder_start_id``, with the
        encoder run once and its keys/values projected once per block.
        """
        ids = tf.convert_to_tensor(features["input_ids"])
        mask = features.get("input_mask")
        mask = tf.ones_like(ids) if mask is None else tf.cast(mask, tf.int32)
        batch = tf.shape(ids)[0]
        if self.is_encoder_decoder:
            encoder_output = self.encode({**features, "input_mask": mask})
            start = tf.fill([batch, 1], tf.constant(self.decoder_start_id, ids.dtype))
            cache = {
                "encoder_mask": mask,
                "cross": [
                    block.cross_attention.project_key_value(encoder_output)
                    for block in self.decoder_blocks
                ],
            }
            ids, mask = start, tf.ones_like(start, tf.int32)
        else:
            ids, mask = left_align(ids, mask, getattr(self, "pad_id", 0))
            cache = {}
        cache["mask"] = tf.concat([mask, tf.ones([batch, max_new_tokens], tf.int32)], axis=1)
        cache["layers"] = self._empty_cache(batch, tf.shape(cache["mask"])[1])
        return ids, cache

    def decode_step(self, ids, cache, index, training=False, at=None):
        """Runs ``ids`` [N, T] written at cache slots ``index..index+T-1``; returns the
        next-token logits [N, V] of position ``at`` of ``ids`` (default the last) and the
        updated cache. Only that position goes through the LM head: with GPT-2's 50,257
        tokens the head costs as much as several blocks."""
        steps = tf.shape(ids)[1]
        mask = cache["mask"]
        # Position of each slot among the real tokens (left padding is not counted).
        positions = tf.maximum(tf.cumsum(mask, axis=1) - 1, 0)[:, index : index + steps]
        x = self.decoder_inputs(ids, positions)
        bias = self.decoder_self_bias(index + tf.range(steps), tf.shape(mask)[1])
        args = {} if bias is None else {"attention_bias": bias}
        layers = []
        for i, (block, layer_cache) in enumerate(zip(self.decoder_blocks, cache["layers"])):
            if self.is_encoder_decoder:
                args.update(cross_cache=cache["cross"][i], encoder_mask=cache["encoder_mask"])
            x, layer_cache = block(
                x,
                attention_mask=mask,
                cache=layer_cache,
                cache_index=index,
                training=training,
                **args,
            )
            layers.append(layer_cache)
        at = steps - 1 if at is None else at
        x = tf.gather(x, tf.reshape(at, [1]), axis=1)
        return self.decoder_outputs(x)[:, 0], {**cache, "layers": layers}

    def decoder_self_bias(self, query_positions, key_length):
        return None
