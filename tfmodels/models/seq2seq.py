"""Encoder-decoder networks (Vaswani et al. 2017, section 3.1) from shared layers.

The Transformer, T5 and BART differ in their parts, not in how the parts connect:
each family's module returns :class:`Seq2SeqParts` (a shared token table, an
encoder and a decoder :class:`TransformerStack`, an LM head) and this module
wires them into the features -> outputs network every family exposes:

    {input_ids, input_mask, decoder_input_ids, decoder_input_mask}
        -> {encoder_output [B,S,H], sequence_output [B,T,H], logits [B,T,V]}

``input_mask`` and ``decoder_input_mask`` may be left out (all ones), HF's names
(``attention_mask``, ``decoder_attention_mask``) stand for them, and ``segment_ids`` is
ignored (:class:`tfmodels.models.base.OptionalFeatures`).
The same stacks serve :class:`IncrementalDecoding`, so generation uses exactly the
weights and code of the training forward pass.
"""

import dataclasses
from typing import Any, Optional

import tensorflow as tf
import tf_keras as keras

from tfmodels.generation import IncrementalDecoding
from tfmodels.layers.dropout import Dropout
from tfmodels.models.base import OptionalFeatures

FEATURES = ("input_ids", "input_mask", "decoder_input_ids", "decoder_input_mask")


class TransformerStack(keras.layers.Layer):
    """Embedded inputs -> blocks -> final norm and dropout: one encoder or decoder.

    Call: ``stack(ids, mask, encoder_output=None, encoder_mask=None, training=None)``
    -> [B, T, H]. ``blocks`` are :class:`TransformerEncoderBlock` (encoder) or
    :class:`TransformerDecoderBlock` (decoder, given ``encoder_output``).
    ``position_bias(query_positions, key_positions)`` -> [1, heads, Q, K], if given,
    is computed once and added in every block (T5 shares its first layer's bias).
    """

    def __init__(
        self, inputs, blocks, final_norm=None, position_bias=None, dropout_rate=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.inputs_layer = inputs
        self.blocks = list(blocks)
        self.final_norm = final_norm
        self.position_bias = position_bias
        self.dropout = Dropout(dropout_rate)

    def self_bias(self, query_positions, key_length):
        if self.position_bias is None:
            return None
        return self.position_bias(query_positions, tf.range(key_length))

    def finish(self, x, training=None):
        """The final norm (pre-LN stacks) and dropout after the last block."""
        if self.final_norm is not None:
            x = self.dropout(self.final_norm(x), training=training)
        return tf.cast(x, self.compute_dtype)

    def call(self, ids, mask, encoder_output=None, encoder_mask=None, training=None):
        x = self.inputs_layer(ids, training=training)
        length = tf.shape(ids)[1]
        bias = self.self_bias(tf.range(length), length)
        args = {} if bias is None else {"attention_bias": bias}
        if encoder_output is not None:
            args.update(encoder_output=encoder_output, encoder_mask=encoder_mask)
        for block in self.blocks:
            x = block(x, attention_mask=mask, training=training, **args)
        return self.finish(x, training)


@dataclasses.dataclass
class Seq2SeqParts:
    tokens: Any  # TokenEmbeddings shared by both stacks (and a tied head)
    encoder: TransformerStack
    decoder: TransformerStack
    lm_head: Optional[Any]  # x [B,T,H] -> logits [B,T,V]
    decoder_start_id: int


def seq2seq_inputs():
    return {name: keras.Input([None], dtype=tf.int32, name=name) for name in FEATURES}


class EncoderDecoderModel(IncrementalDecoding, OptionalFeatures, keras.Model):
    """Base of every encoder-decoder network; a family sets ``config_class`` and
    ``build_parts(config) -> Seq2SeqParts``, a task model ``with_lm_head``."""

    is_encoder_decoder = True
    config_class = None
    architecture = None
    with_lm_head = False
    feature_defaults = {
        "input_mask": ("input_ids", 1),
        "decoder_input_mask": ("decoder_input_ids", 1),
    }

    def __init__(self, config, name=None, **kwargs):
        if not isinstance(config, self.config_class):
            config = self.config_class.from_dict(config)
        parts = self.build_parts(config)
        inputs = seq2seq_inputs()
        encoder_output = parts.encoder(inputs["input_ids"], inputs["input_mask"])
        sequence_output = parts.decoder(
            inputs["decoder_input_ids"],
            inputs["decoder_input_mask"],
            encoder_output=encoder_output,
            encoder_mask=inputs["input_mask"],
        )
        outputs = {"encoder_output": encoder_output, "sequence_output": sequence_output}
        if self.with_lm_head:
            outputs["logits"] = parts.lm_head(sequence_output)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.config = config
        self.tokens = parts.tokens
        self.encoder_stack = parts.encoder
        self.decoder_stack = parts.decoder
        self.lm_head = parts.lm_head if self.with_lm_head else None
        self.decoder_start_id = parts.decoder_start_id

    @classmethod
    def build_parts(cls, config):
        raise NotImplementedError

    # IncrementalDecoding: the same stacks, one step at a time.
    def encode(self, features, training=False):
        return self.encoder_stack(features["input_ids"], features["input_mask"], training=training)

    @property
    def decoder_blocks(self):
        return self.decoder_stack.blocks

    def decoder_inputs(self, ids, positions):
        return self.decoder_stack.inputs_layer(ids, positions=positions)

    def decoder_self_bias(self, query_positions, key_length):
        return self.decoder_stack.self_bias(query_positions, key_length)

    def decoder_outputs(self, x):
        return self.lm_head(self.decoder_stack.finish(x))

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
