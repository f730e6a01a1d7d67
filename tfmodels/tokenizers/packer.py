"""Packs one or two token segments into fixed-length model inputs.

``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]``, padded to ``seq_length``;
``style="roberta"`` gives ``<s> a </s>`` or ``<s> a </s></s> b </s>`` with segment
ids all 0 (RoBERTa has one token type; Liu et al. 2019, section 4.2);
``style="gpt2"`` adds no special tokens at all (GPT-2 reads plain text, Radford et al.
2019, section 2.2): the segments' ids back to back, padded with ``pad_id`` (GPT-2's
``<|endoftext|>``), segment ids all 0. When a pair
is too long, tokens are removed from the end of the longer segment one at a time,
from ``b`` on ties: the reference tokenizer's ``longest_first`` truncation. That
loop has a closed form, computed here per row with tensor ops.
"""

import tensorflow as tf
import tensorflow_text as tf_text
import tf_keras as keras

from tfmodels.errors import ConfigError

STYLES = ("bert", "roberta", "gpt2")


def longest_first_lengths(len_a, len_b, budget):
    """Lengths after ``longest_first`` truncation of two segments to ``budget`` tokens."""
    fits = len_a + len_b <= budget
    keep_a = (len_a <= len_b) & (len_a <= budget - len_a)  # a short enough to stay whole
    keep_b = (len_b < len_a) & (len_b <= budget - len_b)
    half_a, half_b = (budget + 1) // 2, budget // 2
    new_a = tf.where(fits | keep_a, len_a, tf.where(keep_b, budget - len_b, half_a))
    new_b = tf.where(fits | keep_b, len_b, tf.where(keep_a, budget - len_a, half_b))
    return new_a, new_b


def _truncate(segment, lengths):
    positions = tf.ragged.range(segment.row_lengths())
    return tf.ragged.boolean_mask(segment, positions < tf.expand_dims(lengths, 1))


class SegmentPacker(keras.layers.Layer):
    """Ragged segments -> ``{input_ids, input_mask, segment_ids}``, int32 [B, seq_length]."""

    def __init__(self, seq_length, start_id, end_id, pad_id=0, style="bert", **kwargs):
        super().__init__(**kwargs)
        if style not in STYLES:
            raise ConfigError(f"SegmentPacker style {style!r}; known: {', '.join(STYLES)}")
        self.seq_length = seq_length
        self.start_id = start_id
        self.end_id = end_id
        self.pad_id = pad_id
        self.style = style

    def truncated(self, segments):
        """``(segments, extra_ends)``: one or two ragged int64 segments cut (longest
        first) so that they and the special tokens fit ``seq_length``; ``extra_ends``
        is 1 where RoBERTa's second segment starts with one more end token."""
        segments = list(segments) if isinstance(segments, (list, tuple)) else [segments]
        segments = [tf.cast(s, tf.int64) for s in segments]
        extra_ends = len(segments) - 1 if self.style == "roberta" else 0  # the </s></s> pair
        specials = 0 if self.style == "gpt2" else 1 + len(segments) + extra_ends
        budget = tf.constant(self.seq_length - specials, tf.int64)
        if len(segments) == 1:
            segments = [_truncate(segments[0], tf.minimum(segments[0].row_lengths(), budget))]
        elif len(segments) == 2:
            len_a, len_b = longest_first_lengths(
                segments[0].row_lengths(), segments[1].row_lengths(), budget
            )
            segments = [_truncate(segments[0], len_a), _truncate(segments[1], len_b)]
        else:
            raise ValueError(f"SegmentPacker takes one or two segments, got {len(segments)}")
        return segments, extra_ends

    def call(self, segments):
        segments, extra_ends = self.truncated(segments)
        if extra_ends:
            ends = tf.fill([segments[1].nrows(), 1], tf.constant(self.end_id, tf.int64))
            segments[1] = tf.concat([tf.RaggedTensor.from_tensor(ends), segments[1]], axis=1)
        if self.style == "gpt2":
            ids = tf.concat(segments, axis=1)
            type_ids = tf.zeros_like(ids)
        else:
            ids, type_ids = tf_text.combine_segments(
                segments, start_of_sequence_id=self.start_id, end_of_segment_id=self.end_id
            )
        input_ids, input_mask = tf_text.pad_model_inputs(
            ids, self.seq_length, pad_value=self.pad_id
        )
        segment_ids, _ = tf_text.pad_model_inputs(type_ids, self.seq_length)
        if self.style != "bert":
            segment_ids = tf.zeros_like(segment_ids)
        return {
            "input_ids": tf.cast(input_ids, tf.int32),
            "input_mask": tf.cast(input_mask, tf.int32),
            "segment_ids": tf.cast(segment_ids, tf.int32),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            seq_length=self.seq_length,
            start_id=self.start_id,
            end_id=self.end_id,
            pad_id=self.pad_id,
            style=self.style,
        )
        return config
