"""``SegmentPacker`` with core TensorFlow ops only, for a stock TF Serving binary.

The packer's truncation is tensor arithmetic already; ``combine_segments`` and
``pad_model_inputs`` are tensorflow-text ops, which TF Serving's model server lacks.
Here they are ragged concatenation and ``RaggedTensor.to_tensor`` (which pads and,
as ``pad_model_inputs`` does, cuts what is longer than ``seq_length``).
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.tokenizers.packer import SegmentPacker


@keras.utils.register_keras_serializable("tfmodels")
class CoreSegmentPacker(SegmentPacker):
    """:class:`SegmentPacker`'s features from core ops: same arguments, same outputs."""

    @classmethod
    def from_packer(cls, packer):
        return cls.from_config(packer.get_config())

    def call(self, segments):
        segments, extra_ends = self.truncated(segments)
        rows = segments[0].nrows()

        def column(value):
            return tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.constant(value, tf.int64)))

        if self.style == "gpt2":
            parts, types = segments, [0] * len(segments)
        else:  # [start] a [end] (b [end]): combine_segments; roberta's b starts with [end]
            parts, types = [column(self.start_id)], [0]
            for number, segment in enumerate(segments):
                if number and extra_ends:
                    parts, types = parts + [column(self.end_id)], types + [number]
                parts += [segment, column(self.end_id)]
                types += [number, number]
        ids = tf.concat(parts, axis=1)
        type_ids = tf.concat([tf.ones_like(p) * t for p, t in zip(parts, types)], axis=1)
        shape = [None, self.seq_length]
        input_ids = ids.to_tensor(self.pad_id, shape=shape)
        input_mask = tf.ones_like(ids).to_tensor(0, shape=shape)
        segment_ids = type_ids.to_tensor(0, shape=shape)
        if self.style != "bert":
            segment_ids = tf.zeros_like(segment_ids)
        return {
            "input_ids": tf.cast(input_ids, tf.int32),
            "input_mask": tf.cast(input_mask, tf.int32),
            "segment_ids": tf.cast(segment_ids, tf.int32),
        }
